// Runs iptables-save / iptables-restore, on the host or inside a network namespace (tests, and
// nodes whose pod network lives in a namespace of its own).

import { spawn } from 'node:child_process';

export interface IptablesRunner {
  /** `iptables-save -t filter`. */
  saveFilter(): Promise<string>;
  /** `iptables-restore --noflush` with `rules` on stdin: one atomic transaction. */
  restore(rules: string): Promise<void>;
}

function run(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', (e) => reject(new Error(`${argv.join(' ')}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited with ${code}: ${err.trim()}`))));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

export function iptablesRunner(opts: { netns?: string } = {}): IptablesRunner {
  const prefix = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
  return {
    saveFilter: () => run([...prefix, 'iptables-save', '-t', 'filter']),
    // -w: wait for the xtables lock that the service proxy and others also take.
    restore: async (rules) => void (await run([...prefix, 'iptables-restore', '-w', '5', '--noflush'], rules)),
  };
}
