// Runs the service proxy's commands (iptables-save, iptables-restore, conntrack, sysctl) on the
// host or inside a network namespace: tests always pass a namespace of their own.

import { spawn } from 'node:child_process';

export type IptablesTable = 'nat' | 'filter';

export interface IptablesRunner {
  /** `iptables-save -t <table>`. */
  save(table: IptablesTable): Promise<string>;
  /** `iptables-restore --noflush` with `rules` on stdin: one atomic transaction for all tables in it. */
  restore(rules: string): Promise<void>;
  /** Whether `chain` exists in `table` (`iptables -S CHAIN`, a few ms even with large tables). */
  chainExists(table: IptablesTable, chain: string): Promise<boolean>;
  /** `conntrack -D <args>`; resolves false when no entry matched (conntrack exits 1 then). */
  conntrackDelete(args: string[]): Promise<boolean>;
  /** Writes a sysctl (e.g. net.ipv4.conf.all.route_localnet) in the runner's namespace. */
  setSysctl(name: string, value: string): Promise<void>;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

export function runCommand(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', (e) => reject(new CommandError(`${argv.join(' ')}: ${e.message}`, null)));
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new CommandError(`${argv.slice(0, 6).join(' ')} exited with ${code}: ${err.trim().slice(0, 2000)}`, code))));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

export function iptablesRunner(opts: { netns?: string } = {}): IptablesRunner {
  const prefix = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : [];
  return {
    save: (table) => runCommand([...prefix, 'iptables-save', '-t', table]),
    // -w: wait for the xtables lock that the network policy enforcer also takes.
    restore: async (rules) => void (await runCommand([...prefix, 'iptables-restore', '-w', '5', '--noflush'], rules)),
    chainExists: async (table, chain) => {
      try {
        await runCommand([...prefix, 'iptables', '-w', '5', '-t', table, '-S', chain]);
        return true;
      } catch (e) {
        if (e instanceof CommandError && e.exitCode === 1) return false;
        throw e;
      }
    },
    conntrackDelete: async (args) => {
      try {
        await runCommand([...prefix, 'conntrack', '-D', ...args]);
        return true;
      } catch (e) {
        if (e instanceof CommandError && e.exitCode === 1) return false;
        throw e;
      }
    },
    setSysctl: async (name, value) => void (await runCommand([...prefix, 'sysctl', '-q', '-w', `${name}=${value}`])),
  };
}
