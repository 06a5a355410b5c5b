// `k8ts image import FILE.tar...`: loads image archives (OCI layout or `docker save`) into the
// node's containerd while the agent runs, for nodes without a registry. `k8ts image ls` lists
// what the node's runtime has.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { containerdSocketPath } from '../kubelet/cri/containerd.js';
import { CriRuntime, criTarget } from '../kubelet/cri/cri-runtime.js';
import { ctrImport } from '../kubelet/images/ctr-import.js';
import { KubeletPaths } from '../kubelet/paths.js';
import { defaultDataDir } from './flags.js';

export const IMAGE_HELP = `Usage: k8ts image <command> [flags]

Commands:
  import FILE.tar [FILE.tar...]  Import OCI or docker-archive tars into the node's containerd
                                 (the agent must be running; or drop the files into
                                 <agent-dir>/images/ to have them imported at its next start)
  ls                             List the images the node's container runtime has

Flags:
  --data-dir DIR                 The data directory (default ${defaultDataDir()})
  --agent-dir DIR                The node agent's directory (default <data-dir>/agent)
  --container-runtime-endpoint unix:///path  The agent's runtime when it is not k8ts's own containerd
`;

export async function runImageCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      'agent-dir': { type: 'string' },
      'container-runtime-endpoint': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, ...args] = positionals;
  if (values.help || !cmd || cmd === 'help') {
    process.stdout.write(IMAGE_HELP);
    return;
  }
  const agentDir = values['agent-dir'] ?? join(values['data-dir'] ?? defaultDataDir(), 'agent');
  const paths = new KubeletPaths(agentDir);
  const endpoint = values['container-runtime-endpoint'];
  const socket = endpoint ? criTarget(endpoint).slice('unix://'.length) : containerdSocketPath(paths.containerdDir);
  if (!existsSync(socket)) {
    throw new Error(`no container runtime socket at ${socket}: is the agent running? (or copy the archives into ${paths.imagesDir}/ for its next start)`);
  }
  switch (cmd) {
    case 'import': {
      if (!args.length) throw new Error('k8ts image import: name at least one archive (FILE.tar)');
      for (const f of args) {
        const file = resolve(f);
        if (!existsSync(file)) throw new Error(`${file}: no such file`);
        const names = await ctrImport(socket, file);
        process.stdout.write(names.length ? names.map((n) => `imported ${n}\n`).join('') : `imported ${file}\n`);
      }
      return;
    }
    case 'ls':
    case 'list': {
      const runtime = new CriRuntime({ endpoint: `unix://${socket}`, timeoutMs: 30_000 });
      try {
        const rows = (await runtime.listImages()).flatMap((img) =>
          (img.repo_tags.length ? img.repo_tags : ['<none>']).map((tag) => [tag, img.id.replace(/^sha256:/, '').slice(0, 13), humanSize(Number(img.size))]),
        );
        const header = ['IMAGE', 'ID', 'SIZE'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        for (const r of [header, ...rows.sort((a, b) => a[0].localeCompare(b[0]))]) {
          process.stdout.write(r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i] + 3) : c)).join('') + '\n');
        }
      } finally {
        runtime.close();
      }
      return;
    }
    default:
      throw new Error(`k8ts image: unknown command "${cmd}"\n\n${IMAGE_HELP}`);
  }
}

function humanSize(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}
