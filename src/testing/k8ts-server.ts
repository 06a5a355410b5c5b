// Test harness: runs a real `k8ts server` process on a free loopback port with a temp data dir,
// and the real kubectl against it. Every process and folder is cleaned up by stop().

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const K8TS_BIN = join(ROOT, 'bin', 'k8ts');
/** kubectl matching the served version; other minors are under the same folder. */
export const KUBECTL = process.env.K8TS_KUBECTL ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface K8tsServer {
  dataDir: string;
  port: number;
  kubeconfig: string;
  url: string;
  kubectl(args: string[], opts?: { input?: string; env?: Record<string, string>; timeoutMs?: number; bin?: string }): Promise<RunResult>;
  /** Starts a long-running kubectl (e.g. `get -w`); the caller kills it. */
  spawnKubectl(args: string[]): ChildProcess;
  /** Starts `k8ts agent --simulated` or `k8ts sim` with this server's kubeconfig; resolves once its nodes are registered. */
  startAgent(mode: 'agent' | 'sim' | 'scheduler', args: string[]): Promise<{ stop(): Promise<void> }>;
  /** The server's recent log lines that contain `needle` (for assertion messages). */
  logLines(needle: string, max?: number): string;
  /** SIGKILL the server (no cleanup), for crash tests. */
  kill9(): Promise<void>;
  /** Start the server again on the same data dir and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Flags for suites that check API semantics as a bare kube-apiserver serves them: no scheduler,
 * and only the controllers that API behaviour relies on (namespace deletion, garbage collection).
 */
export const API_ONLY = ['--disable', 'scheduler', '--controllers', 'namespace,garbage-collector'];

export interface StartOptions {
  datastoreEndpoint?: string;
  extraArgs?: string[];
  /** Reuse a data dir (not removed on stop). */
  dataDir?: string;
  /**
   * Run the embedded node agent (containerd, real pods). Off by default: suites about the API
   * and the control plane need no containers. stop() then runs `k8ts down` to remove every pod,
   * mount, network device and cgroup the agent made.
   */
  agent?: boolean;
  /** Run the built-in Ingress controller (ports from extraArgs); off by default: ports 80/443 are one per machine. */
  ingress?: boolean;
  /** Run the built-in cluster DNS (port from extraArgs); off by default. */
  dns?: boolean;
}

function run(bin: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

const LOG_TAIL = 512 * 1024;
/** The last ~512 KiB of the most recently launched server's log (one server per test file). */
let logTail = '';

async function launch(dataDir: string, port: number, opts: StartOptions): Promise<{ proc: ChildProcess; port: number }> {
  const args = ['server', '--data-dir', dataDir, '--secure-port', String(port), '--bind-address', '127.0.0.1', ...(opts.agent ? [] : ['--disable-agent']), ...(opts.ingress ? [] : ['--disable', 'ingress']), ...(opts.dns ? [] : ['--disable', 'dns']), ...(opts.extraArgs ?? [])];
  if (opts.datastoreEndpoint) args.push('--datastore-endpoint', opts.datastoreEndpoint);
  const proc = spawn(process.execPath, [K8TS_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const actualPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`k8ts server did not become ready in 30s:\n${log}`)), 30_000);
    proc.stderr!.on('data', (d) => {
      log += d;
      for (const line of log.split('\n')) {
        if (!line.includes('k8ts server ready')) continue;
        try {
          const j = JSON.parse(line);
          clearTimeout(timer);
          resolve(j.port);
          return;
        } catch {
          // partial line
        }
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`k8ts server exited with ${code}:\n${log}`));
    });
  });
  proc.removeAllListeners('exit');
  // Keep draining stderr so the child never blocks on a full pipe.
  proc.stderr!.removeAllListeners('data');
  // ...and keep its last lines, for failure messages.
  logTail = log.slice(-LOG_TAIL);
  proc.stderr!.on('data', (d) => {
    if (process.env.K8TS_TEST_LOG) process.stderr.write(d);
    logTail += d;
    if (logTail.length > 2 * LOG_TAIL) logTail = logTail.slice(-LOG_TAIL);
  });
  return { proc, port: actualPort };
}

export async function startK8ts(opts: StartOptions = {}): Promise<K8tsServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'k8ts-test-'));
  let { proc, port } = await launch(dataDir, 0, opts);
  const kubeconfig = join(dataDir, 'kubeconfig');
  const env = (extra?: Record<string, string>) => ({ ...process.env, KUBECONFIG: kubeconfig, HOME: dataDir, ...extra });
  const procs = new Set<ChildProcess>();
  const kill = async (p: ChildProcess, sig: NodeJS.Signals) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const server: K8tsServer = {
    logLines: (needle, max = 40) => logTail.split('\n').filter((l) => l.includes(needle)).slice(-max).join('\n'),
    dataDir,
    get port() {
      return port;
    },
    kubeconfig,
    get url() {
      return `https://127.0.0.1:${port}`;
    },
    kubectl: (args, o = {}) => run(o.bin ?? KUBECTL, args, { input: o.input, env: env(o.env), timeoutMs: o.timeoutMs }),
    spawnKubectl: (args) => {
      const p = spawn(KUBECTL, args, { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      procs.add(p);
      p.on('exit', () => procs.delete(p));
      return p;
    },
    startAgent: async (mode, args) => {
      const all = [mode, ...(mode === 'agent' ? ['--simulated'] : []), '--kubeconfig', kubeconfig, ...args];
      const p = spawn(process.execPath, [K8TS_BIN, ...all], { stdio: ['ignore', 'ignore', 'pipe'] });
      procs.add(p);
      p.on('exit', () => procs.delete(p));
      let log = '';
      p.stderr!.on('data', (d) => {
        log += d;
        if (log.length > 100_000) log = log.slice(-50_000);
        if (process.env.K8TS_TEST_LOG) process.stderr.write(d);
      });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`agent did not start:\n${log}`)), 20_000);
        const check = () => {
          if (log.includes('simulated nodes starting') || log.includes('scheduler starting')) {
            clearTimeout(t);
            resolve();
          }
        };
        p.stderr!.on('data', check);
        p.once('exit', (code) => {
          clearTimeout(t);
          reject(new Error(`agent exited with ${code}:\n${log}`));
        });
      });
      p.removeAllListeners('exit');
      p.on('exit', () => procs.delete(p));
      return { stop: () => kill(p, 'SIGTERM') };
    },
    kill9: async () => kill(proc, 'SIGKILL'),
    restart: async () => {
      await kill(proc, 'SIGTERM');
      ({ proc, port } = await launch(dataDir, port, opts));
    },
    stop: async () => {
      for (const p of procs) await kill(p, 'SIGKILL');
      await kill(proc, 'SIGTERM');
      if (opts.agent) await run(process.execPath, [K8TS_BIN, 'down', '--data-dir', dataDir], { timeoutMs: 120_000 });
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
