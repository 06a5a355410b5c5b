// Supervises the agent's own containerd (as k3s does): writes its config under the agent's
// directory, starts it, waits until the CRI answers, and restarts it with back-off if it dies.
// Containers outlive containerd: each runs under its own shim, and a restarted containerd finds
// them again through its state directory. Stopping containerd therefore stops no pod.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriRuntime } from './cri-runtime.js';
import { criRegistryToml, writeHostsDir, type RegistriesConfig } from './registries.js';
import { type Logger } from '../../machinery/logger.js';

export interface ContainerdOptions {
  /** containerd's root, state, config, socket and log all live here (KubeletPaths.containerdDir). */
  dir: string;
  cniConfDir: string;
  /** Debian's containernetworking-plugins path. */
  cniBinDir?: string;
  /** Must be present locally (built-in images), or containerd tries to pull it for every pod. */
  sandboxImage: string;
  registries?: RegistriesConfig;
  log: Logger;
  /** containerd binary (default: `containerd` on PATH). */
  binary?: string;
  /** containerd's own log level (default info). */
  logLevel?: string;
  /** How long start() waits for the CRI to answer (default 60 s). */
  startTimeoutMs?: number;
}

// sun_path holds 108 bytes including the NUL; containerd also listens on `<socket>.ttrpc`.
const MAX_SOCKET_PATH = 107 - '.ttrpc'.length;

/**
 * The socket path: `<dir>/containerd.sock`, or, when that is too long for a unix socket,
 * `/run/k8ts/<hash of dir>/containerd.sock`.
 */
export function containerdSocketPath(dir: string): string {
  const inDir = join(dir, 'containerd.sock');
  if (Buffer.byteLength(inDir) <= MAX_SOCKET_PATH) return inDir;
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 16);
  return join('/run/k8ts', hash, 'containerd.sock');
}

const q = (s: string): string => JSON.stringify(s);

export function containerdConfigToml(o: {
  dir: string;
  socketPath: string;
  cniConfDir: string;
  cniBinDir: string;
  sandboxImage: string;
  registries?: RegistriesConfig;
  logLevel: string;
}): string {
  const root = join(o.dir, 'root');
  const state = join(o.dir, 'state');
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Written by k8ts at every start; edits are lost.
version = 2
root = ${q(root)}
state = ${q(state)}
# Snapshotters this machine cannot use only add noise to the log.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = ${q(o.socketPath)}

[debug]
  level = ${q(o.logLevel)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(o.dir, 'opt'))}

[${cri}]
  sandbox_image = ${q(o.sandboxImage)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj below the agent's own value.
  restrict_oom_score_adj = true
  # Network namespaces under our state dir, not /var/run/netns, so one node's pods stay apart.
  netns_mounts_under_state_dir = true
  enable_selinux = false
  max_container_log_line_size = 16384

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${q(join(state, 'runc'))}

[${cri}.cni]
  bin_dir = ${q(o.cniBinDir)}
  conf_dir = ${q(o.cniConfDir)}
  max_conf_num = 1

${criRegistryToml(join(o.dir, 'certs.d'), o.registries)}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

export class Containerd {
  readonly dir: string;
  readonly socketPath: string;
  readonly configPath: string;
  readonly logPath: string;
  private readonly pidPath: string;
  private readonly opts: ContainerdOptions;
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private restartDelayMs = 0;
  private startedAt = 0;
  /** Restart only a containerd that once came up; a bad first start is start()'s error. */
  private everReady = false;
  private spawnError?: Error;
  /** How many times containerd was restarted after dying. */
  restarts = 0;

  constructor(opts: ContainerdOptions) {
    this.opts = opts;
    this.dir = opts.dir;
    this.socketPath = containerdSocketPath(opts.dir);
    this.configPath = join(opts.dir, 'config.toml');
    this.logPath = join(opts.dir, 'containerd.log');
    this.pidPath = join(opts.dir, 'containerd.pid');
  }

  get endpoint(): string {
    return `unix://${this.socketPath}`;
  }

  /** The running containerd's PID (undefined while it is down). */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /** Writes the config, starts containerd and resolves when its CRI answers Version. */
  async start(): Promise<void> {
    this.stopping = false;
    const { dir } = this.opts;
    for (const d of [dir, join(dir, 'root'), join(dir, 'state'), join(dir, 'opt'), this.opts.cniConfDir]) mkdirSync(d, { recursive: true });
    if (!this.socketPath.startsWith(dir)) {
      mkdirSync(join(this.socketPath, '..'), { recursive: true, mode: 0o700 });
      this.opts.log.info({ socket: this.socketPath, dir }, 'containerd socket path under the data dir is too long for a unix socket; using /run/k8ts');
    }
    await this.stopStale();
    writeHostsDir(join(dir, 'certs.d'), this.opts.registries);
    writeFileSync(
      this.configPath,
      containerdConfigToml({
        dir,
        socketPath: this.socketPath,
        cniConfDir: this.opts.cniConfDir,
        cniBinDir: this.opts.cniBinDir ?? '/usr/lib/cni',
        sandboxImage: this.opts.sandboxImage,
        registries: this.opts.registries,
        logLevel: this.opts.logLevel ?? 'info',
      }),
      { mode: 0o600 },
    );
    this.spawnOnce();
    await this.waitReady(this.opts.startTimeoutMs ?? 60_000);
  }

  /** A containerd left running by an agent that died: stop it, its containers keep running. */
  private async stopStale(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidPath, 'utf8').trim());
    } catch {
      return;
    }
    if (!pid || !processAlive(pid) || !cmdline(pid).includes(this.configPath)) return;
    this.opts.log.warn({ pid }, 'stopping a containerd left over from an earlier run');
    await killAndWait(pid, 10_000);
  }

  private spawnOnce(): void {
    // One previous log is kept; containerd's log only grows while it runs.
    try {
      if (statSync(this.logPath).size > 20 * 1024 * 1024) renameSync(this.logPath, `${this.logPath}.1`);
    } catch {
      // no log yet
    }
    const logFd = openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      // Its own process group: a Ctrl-C meant for the agent must not reach containerd first.
      child = spawn(this.opts.binary ?? 'containerd', ['--config', this.configPath], {
        stdio: ['ignore', logFd, logFd],
        detached: true,
      });
    } finally {
      closeSync(logFd);
    }
    this.child = child;
    this.startedAt = Date.now();
    this.spawnError = undefined;
    child.on('error', (err) => {
      this.spawnError = err;
      this.opts.log.error({ err: err.message }, 'containerd could not be started');
    });
    if (child.pid) writeFileSync(this.pidPath, `${child.pid}\n`);
    this.opts.log.info({ pid: child.pid, socket: this.socketPath }, 'containerd started');
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child || this.stopping || !this.everReady) return;
    // Back off when it keeps dying quickly; a containerd that ran for a minute starts over at 1 s.
    const ranMs = Date.now() - this.startedAt;
    this.restartDelayMs = ranMs > 60_000 ? 1000 : Math.min(Math.max(this.restartDelayMs * 2, 1000), 30_000);
    this.opts.log.error({ code, signal, restartInMs: this.restartDelayMs, log: this.logPath }, 'containerd exited; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.spawnOnce();
      void this.waitReady(60_000).catch((e) => this.opts.log.error({ err: (e as Error).message }, 'restarted containerd is not answering'));
    }, this.restartDelayMs);
  }

  /** Resolves once containerd answers CRI Version; rejects after `timeoutMs` or if it exits. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const probe = new CriRuntime({ endpoint: this.endpoint, timeoutMs: 2000 });
    try {
      for (;;) {
        const child = this.child;
        if (existsSync(this.socketPath)) {
          try {
            await probe.version();
            this.everReady = true;
            return;
          } catch {
            // not yet
          }
        }
        if (this.spawnError) throw new Error(`containerd could not be started: ${this.spawnError.message}`);
        if (child && (child.exitCode !== null || child.signalCode !== null) && !this.restartTimer) {
          throw new Error(`containerd exited (${child.exitCode ?? child.signalCode}) before its CRI answered: ${tail(this.logPath)}`);
        }
        if (Date.now() > deadline) throw new Error(`containerd's CRI did not answer within ${timeoutMs} ms: ${tail(this.logPath)}`);
        await sleep(100);
      }
    } finally {
      probe.close();
    }
  }

  /** Stops containerd (SIGTERM, then SIGKILL after 10 s). Running containers are left running. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.pidPath, { force: true });
    this.opts.log.info({}, 'containerd stopped');
  }
}

async function killAndWait(pid: number, graceMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (processAlive(pid) && Date.now() < deadline) await sleep(100);
  if (processAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
    while (processAlive(pid)) await sleep(50);
  }
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
