// Test harness: a real etcd cluster (1 or 3 members) on free loopback ports in a temp dir.
// Every process and directory is registered for cleanup on process exit too, so a failing or
// interrupted test does not leave etcd running.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = '/usr/bin/etcd';

export interface EtcdClusterOptions {
  /** Number of members (default 1). */
  members?: 1 | 3;
  /** Time to wait for every member to report healthy (default 30 s). */
  startTimeoutMs?: number;
  /** etcd binary (default /usr/bin/etcd). */
  binary?: string;
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process: ChildProcess | undefined;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Client endpoints as `127.0.0.1:port`. */
  hosts: string[];
  /** The datastore endpoint string: `etcd://127.0.0.1:p1,etcd://127.0.0.1:p2,...`. */
  endpoint: string;
  /** SIGKILLs member i and waits until it has exited. */
  killMember(i: number): Promise<void>;
  /** Kills every member and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<{ procs: () => ChildProcess[]; dir: string }>();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      for (const p of c.procs()) {
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
}

/** True when etcd is installed (tests skip themselves otherwise). */
export function etcdAvailable(binary = ETCD_BINARY): boolean {
  return existsSync(binary) && spawnSync(binary, ['--version']).status === 0;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

function waitExit(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const binary = opts.binary ?? ETCD_BINARY;
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found: install the Debian package etcd-server (apt-get install -y etcd-server)`);
  }
  const count = opts.members ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < count; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `m${i}`),
      process: undefined,
    });
  }
  const entry = { procs: () => members.flatMap((m) => (m.process ? [m.process] : [])), dir };
  installExitHook();
  live.add(entry);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const m of members) {
      if (m.process && m.process.exitCode === null && m.process.signalCode === null) m.process.kill('SIGKILL');
    }
    await Promise.all(members.map((m) => (m.process ? waitExit(m.process) : undefined)));
    rmSync(dir, { recursive: true, force: true });
    live.delete(entry);
  };

  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const logs: string[] = [];
  try {
    for (const m of members) {
      m.process = spawn(
        binary,
        [
          '--name', m.name,
          '--data-dir', m.dataDir,
          '--listen-client-urls', m.clientUrl,
          '--advertise-client-urls', m.clientUrl,
          '--listen-peer-urls', m.peerUrl,
          '--initial-advertise-peer-urls', m.peerUrl,
          '--initial-cluster', initialCluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', `k8ts-test-${process.pid}`,
          // Fast elections so a killed leader is replaced within a second.
          '--heartbeat-interval', '50',
          '--election-timeout', '500',
          '--logger', 'zap',
          '--log-level', 'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      m.process.stderr?.on('data', (d: Buffer) => {
        logs.push(d.toString());
        if (logs.length > 50) logs.shift();
      });
    }
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (const m of members) {
      while (!(await healthy(m.clientUrl))) {
        const exited = members.find((x) => x.process && (x.process.exitCode !== null || x.process.signalCode !== null));
        if (exited) throw new Error(`etcd member ${exited.name} exited during startup:\n${logs.join('')}`);
        if (Date.now() > deadline) throw new Error(`etcd did not become healthy in time:\n${logs.join('')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const hosts = members.map((m) => m.clientUrl.replace('http://', ''));
  return {
    members,
    hosts,
    endpoint: hosts.map((h) => `etcd://${h}`).join(','),
    async killMember(i: number) {
      const p = members[i]?.process;
      if (!p) throw new Error(`no etcd member ${i}`);
      p.kill('SIGKILL');
      await waitExit(p);
    },
    stop,
  };
}
