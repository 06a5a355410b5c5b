// Removing what a containerd instance leaves on the host once it is stopped: the shims (and the
// containers under them) started for its socket, mounts under its directories (overlay rootfs,
// network namespaces, shm), and empty cgroup directories. For `k8ts down` and for tests.

import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function readProc(pid: string, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

function parentOf(pid: string): string {
  // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  const stat = readProc(pid, 'stat');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[1] ?? '';
}

function allPids(): string[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n));
}

/** PIDs of the shims a containerd on `socketPath` started (they name it in `-address`). */
export function shimPids(socketPath: string): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const args = readProc(pid, 'cmdline').split('\0');
    if (!args[0]?.includes('containerd-shim')) continue;
    const i = args.indexOf('-address');
    if (i >= 0 && args[i + 1] === socketPath) out.push(Number(pid));
  }
  return out;
}

/** Every descendant of `root` (children first found through /proc ppid links). */
export function descendants(root: number): number[] {
  const children = new Map<string, string[]>();
  for (const pid of allPids()) {
    const ppid = parentOf(pid);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(pid);
  }
  const out: number[] = [];
  const walk = (p: string) => {
    for (const c of children.get(p) ?? []) {
      out.push(Number(c));
      walk(c);
    }
  };
  walk(String(root));
  return out;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGKILLs the shims of `socketPath` and every process under them; waits until they are gone. */
export async function killShims(socketPath: string): Promise<number> {
  const shims = shimPids(socketPath);
  const victims = shims.flatMap((s) => [...descendants(s), s]);
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 50 && victims.some(alive); i++) await sleep(100);
  return shims.length;
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    // Field 5 is the mount point, with spaces etc. as octal escapes.
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything under `dir` (overlay rootfs, netns bind mounts, shm). */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points) await execFileP('umount', ['-l', p]).catch(() => undefined);
  }
}

/** Removes the empty cgroup directories `<controller>/<parent>` (and below) in every hierarchy. */
export function removeCgroups(parent: string): void {
  const rel = parent.replace(/^\/+/, '');
  if (!rel) return;
  let roots: string[];
  try {
    roots = readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  } catch {
    return;
  }
  // cgroup v2 has the tree right under /sys/fs/cgroup.
  roots.push('/sys/fs/cgroup');
  const rmTree = (d: string) => {
    let entries: string[] = [];
    try {
      entries = readdirSync(d).filter((n) => {
        try {
          return statSync(join(d, n)).isDirectory();
        } catch {
          return false;
        }
      });
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(d, e));
    try {
      rmdirSync(d);
    } catch {
      // busy or already gone
    }
  };
  for (const r of roots) rmTree(join(r, rel));
}

/** The same, synchronously and best effort: for a process 'exit' handler, where nothing can wait. */
export function killShimsAndUnmountSync(socketPath: string, dir: string): void {
  for (const shim of shimPids(socketPath)) {
    for (const pid of [...descendants(shim), shim]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  for (const p of mountsUnder(dir)) spawnSync('umount', ['-l', p]);
}

/**
 * Deletes the iptables rules the CNI plugins (bridge ipMasq, portmap) made for `network` (they
 * carry `name: "<network>"` in their comment) and the per-container CNI-* chains only they used.
 * Normally CNI DEL removes them; this is for pods whose sandbox was never stopped.
 */
export function removeCniIptablesRules(network: string): number {
  const marker = `name: \\"${network}\\"`;
  let removed = 0;
  for (const table of ['nat', 'filter']) {
    const list = spawnSync('iptables', ['-w', '-t', table, '-S'], { encoding: 'utf8' });
    if (list.status !== 0) continue;
    const lines = list.stdout.split('\n');
    const ours = lines.filter((l) => l.startsWith('-A ') && l.includes(marker));
    const chains = new Set<string>();
    for (const rule of ours) {
      const jump = / -j (CNI-[\w-]+)/.exec(rule);
      if (jump && !/^CNI-(HOSTPORT|FORWARD)/.test(jump[1])) chains.add(jump[1]);
      // -S prints rules quoted for a shell, so a shell reads them back exactly.
      const r = spawnSync('sh', ['-c', `iptables -w -t ${table} ${rule.replace(/^-A /, '-D ')}`]);
      if (r.status === 0) removed++;
    }
    for (const chain of chains) {
      spawnSync('iptables', ['-w', '-t', table, '-F', chain]);
      spawnSync('iptables', ['-w', '-t', table, '-X', chain]);
    }
  }
  return removed;
}
