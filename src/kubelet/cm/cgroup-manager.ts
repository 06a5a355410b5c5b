// Pod and QoS cgroups on cgroup v1 with the cgroupfs layout upstream's kubelet uses:
//   <root>                     node allocatable: cpu.shares, memory.limit_in_bytes, pids.max
//   <root>/pod<uid>            Guaranteed pods
//   <root>/burstable           cpu.shares = the Burstable pods' cpu requests
//   <root>/burstable/pod<uid>
//   <root>/besteffort          cpu.shares = 2
//   <root>/besteffort/pod<uid>
// in the cpu, cpuacct, memory and pids hierarchies (runc creates the others below the pod's
// cgroup_parent itself). `root` is per agent (e.g. "/kubepods", "/k8ts-node-2/kubepods") so that
// several agents on one machine keep apart.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../../api/meta/v1.js';
import type { LinuxContainerResources } from '../runtime/runtime.js';
import { cgroupMounts, childCgroups, subtreePids, writeCgroupFile, type CgroupMount } from './cgroupfs.js';
import { getPodQOS, quantityOf, type QOSClass } from './qos.js';
import { containerResources, milliCPUToShares, MIN_SHARES, podRequests, podResourceConfig, type ResourceConfig } from './resources.js';
import { type Logger } from '../../machinery/logger.js';

/** The hierarchies k8ts configures; the stats read cpuacct and memory. */
export const MANAGED_CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
export type ManagedController = (typeof MANAGED_CONTROLLERS)[number];

export type CgroupManagerLog = Pick<Logger, 'debug' | 'warn'>;

export interface CgroupManagerOptions {
  /** The agent's top cgroup, absolute in each hierarchy, e.g. "/kubepods". */
  root: string;
  /** The node's allocatable (quantities): cpu, memory and pid limit the root cgroup. */
  nodeAllocatable?: Record<string, string | number>;
  /** Pod pids.max (upstream --pod-max-pids); unset or -1 is unlimited. */
  podPidsLimit?: number;
  /** Node memory in bytes, for Burstable oom_score_adj; default MemTotal of /proc/meminfo. */
  memoryCapacity?: number;
  log?: CgroupManagerLog;
  /** For tests: another mountinfo file. */
  mountinfo?: string;
}

export type StrayProcessPolicy = 'kill' | 'fail';

const POD_PREFIX = 'pod';
const KILL_WAIT_MS = 5000;

function memTotal(): number {
  const m = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export class CgroupManager {
  readonly root: string;
  readonly memoryCapacity: number;
  private readonly mounts: CgroupMount[];
  private readonly managed = new Map<ManagedController, string>();
  private rootReady: Promise<void> | undefined;
  /** Pods this manager set up, for the Burstable tier's cpu.shares. */
  private readonly pods = new Map<string, { qos: QOSClass; cpuRequestMilli: number }>();

  constructor(private readonly opts: CgroupManagerOptions) {
    if (!opts.root.startsWith('/') || opts.root.split('/').includes('..')) throw new Error(`cgroup root must be an absolute path without "..": ${JSON.stringify(opts.root)}`);
    this.root = opts.root.replace(/\/+$/, '') || '/';
    this.mounts = cgroupMounts(opts.mountinfo);
    for (const c of MANAGED_CONTROLLERS) {
      const m = this.mounts.find((x) => x.version === 1 && x.controllers.includes(c));
      if (m) {
        if (m.root !== '/') opts.log?.warn({ controller: c, root: m.root }, 'cgroup hierarchy is mounted from a sub-tree; paths are taken relative to it');
        this.managed.set(c, m.mountPoint);
      }
    }
    if (!this.managed.has('cpu') || !this.managed.has('memory')) {
      throw new Error('cgroup v1 cpu and memory hierarchies are required (none found in /proc/self/mountinfo)');
    }
    this.memoryCapacity = opts.memoryCapacity ?? memTotal();
  }

  /** The directory of a cgroup path (e.g. "/kubepods/burstable") in one hierarchy. */
  dir(controller: ManagedController, cgroupPath: string): string | undefined {
    const mp = this.managed.get(controller);
    return mp ? join(mp, cgroupPath) : undefined;
  }

  /** The cgroup path of a QoS tier. */
  qosPath(qos: QOSClass): string {
    return qos === 'Guaranteed' ? this.root : join(this.root, qos.toLowerCase());
  }

  /** The pod's cgroup path (cgroup_parent for the CRI), if the pod's cgroup exists. */
  podCgroupPath(uid: string): string | undefined {
    for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) {
      const p = join(this.qosPath(qos), POD_PREFIX + uid);
      if (existsSync(this.dir('cpu', p)!)) return p;
    }
    return undefined;
  }

  /** Creates the root and the QoS tiers and applies the node allocatable limits (idempotent). */
  ensureRoot(): Promise<void> {
    this.rootReady ??= this.setUpRoot().catch((err) => {
      this.rootReady = undefined;
      throw err;
    });
    return this.rootReady;
  }

  private async setUpRoot(): Promise<void> {
    const alloc = this.opts.nodeAllocatable ?? {};
    const cfg: ResourceConfig = {};
    const cpu = quantityOf(alloc.cpu);
    if (cpu) cfg.cpuShares = milliCPUToShares(cpu.milliValue());
    const mem = quantityOf(alloc.memory);
    if (mem) cfg.memoryLimit = mem.value();
    const pids = quantityOf(alloc.pid ?? alloc.pids);
    if (pids) cfg.pidsLimit = pids.value();
    await this.create(this.root, {});
    try {
      await this.apply(this.root, cfg);
    } catch (err) {
      // e.g. a memory limit below what running pods use: pods still get their own limits.
      this.opts.log?.warn({ err: String(err), cgroup: this.root }, 'cgroup: node allocatable limits not applied');
    }
    await this.create(this.qosPath('Burstable'), {});
    await this.create(this.qosPath('BestEffort'), { cpuShares: MIN_SHARES });
    await this.updateBurstableShares();
  }

  /**
   * Creates (or updates) the pod's cgroup with its QoS class's limits and returns its path, the
   * cgroup_parent to give the runtime for the sandbox and containers.
   */
  async ensurePod(pod: KubeObject): Promise<string> {
    const uid = pod.metadata.uid;
    if (!uid || !/^[A-Za-z0-9-]+$/.test(uid)) throw new Error(`cgroup: pod has no usable metadata.uid: ${JSON.stringify(uid)}`);
    await this.ensureRoot();
    const qos = getPodQOS(pod);
    const want = join(this.qosPath(qos), POD_PREFIX + uid);
    // A pod's cgroup never moves: its sandbox and containers already live below it.
    const existing = this.podCgroupPath(uid);
    if (existing && existing !== want) this.opts.log?.warn({ pod: uid, existing, want }, 'cgroup: pod QoS class changed; keeping its cgroup');
    const path = existing ?? want;
    await this.create(path, podResourceConfig(pod, { podPidsLimit: this.opts.podPidsLimit }));
    this.pods.set(uid, { qos, cpuRequestMilli: podRequests(pod).get('cpu') ?? 0 });
    if (qos === 'Burstable') await this.updateBurstableShares();
    return path;
  }

  /** The CRI resources of one of the pod's containers. */
  containerResources(pod: KubeObject, container: Record<string, unknown>): LinuxContainerResources {
    return containerResources(pod, container, this.memoryCapacity);
  }

  /** UIDs of the pods that have a cgroup under the root. */
  podUIDs(): string[] {
    const out: string[] = [];
    for (const qos of ['Guaranteed', 'Burstable', 'BestEffort'] as const) {
      const d = this.dir('cpu', this.qosPath(qos))!;
      let names: string[] = [];
      try {
        names = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch {
        continue;
      }
      for (const n of names) if (n.startsWith(POD_PREFIX) && n !== 'burstable' && n !== 'besteffort') out.push(n.slice(POD_PREFIX.length));
    }
    return out;
  }

  /**
   * Removes the pod's cgroup in every hierarchy (with the container cgroups runc left below it).
   * Processes still inside are killed (upstream), or with `stray: 'fail'` make it throw.
   */
  async removePod(uid: string, opts: { stray?: StrayProcessPolicy } = {}): Promise<void> {
    const path = this.podCgroupPath(uid);
    this.pods.delete(uid);
    if (path) await this.removeTree(path, opts.stray ?? 'kill');
    await this.updateBurstableShares().catch((err) => this.opts.log?.warn({ err }, 'cgroup: burstable cpu.shares update failed'));
  }

  /** Removes the whole root (k8ts down, tests); processes inside are handled as in removePod. */
  async removeRoot(opts: { stray?: StrayProcessPolicy } = {}): Promise<void> {
    this.pods.clear();
    this.rootReady = undefined;
    await this.removeTree(this.root, opts.stray ?? 'kill');
  }

  private async create(path: string, cfg: ResourceConfig): Promise<void> {
    for (const c of MANAGED_CONTROLLERS) {
      const d = this.dir(c, path);
      if (d) await mkdir(d, { recursive: true });
    }
    await this.apply(path, cfg);
  }

  private async apply(path: string, cfg: ResourceConfig): Promise<void> {
    const cpu = this.dir('cpu', path)!;
    if (cfg.cpuPeriod !== undefined) await writeCgroupFile(cpu, 'cpu.cfs_period_us', cfg.cpuPeriod);
    if (cfg.cpuQuota !== undefined) await writeCgroupFile(cpu, 'cpu.cfs_quota_us', cfg.cpuQuota > 0 ? cfg.cpuQuota : -1);
    if (cfg.cpuShares !== undefined) await writeCgroupFile(cpu, 'cpu.shares', cfg.cpuShares);
    if (cfg.memoryLimit !== undefined) await writeCgroupFile(this.dir('memory', path)!, 'memory.limit_in_bytes', cfg.memoryLimit > 0 ? cfg.memoryLimit : -1);
    const pids = this.dir('pids', path);
    if (cfg.pidsLimit !== undefined && pids) await writeCgroupFile(pids, 'pids.max', cfg.pidsLimit > 0 ? cfg.pidsLimit : 'max');
  }

  private async updateBurstableShares(): Promise<void> {
    if (!this.rootReady) return;
    let milli = 0;
    for (const p of this.pods.values()) if (p.qos === 'Burstable') milli += p.cpuRequestMilli;
    const d = this.dir('cpu', this.qosPath('Burstable'))!;
    if (existsSync(d)) await writeCgroupFile(d, 'cpu.shares', milliCPUToShares(milli));
  }

  /** Every hierarchy's directory of `path` that exists (all mounts: runc creates cpuset, devices, ...). */
  private existingDirs(path: string): string[] {
    const dirs = new Set<string>();
    for (const m of this.mounts) {
      const d = join(m.mountPoint, path);
      if (existsSync(d)) dirs.add(d);
    }
    return [...dirs];
  }

  private async removeTree(path: string, stray: StrayProcessPolicy): Promise<void> {
    const dirs = this.existingDirs(path);
    const pidsOf = async () => [...new Set((await Promise.all(dirs.map(subtreePids))).flat())];
    let pids = await pidsOf();
    if (pids.length) {
      if (stray === 'fail') throw new Error(`cgroup ${path} still has processes ${pids.join(', ')}; not removed`);
      this.opts.log?.warn({ cgroup: path, pids }, 'cgroup: killing processes left in a removed pod cgroup');
      const end = Date.now() + KILL_WAIT_MS;
      while (pids.length && Date.now() < end) {
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        await new Promise((r) => setTimeout(r, 50));
        pids = await pidsOf();
      }
      if (pids.length) throw new Error(`cgroup ${path} still has processes ${pids.join(', ')} after SIGKILL; not removed`);
    }
    for (const d of dirs) await removeDirTree(d);
  }
}

/** rmdir depth-first; a cgroup that was just emptied can be briefly busy. */
async function removeDirTree(dir: string): Promise<void> {
  for (const c of await childCgroups(dir)) await removeDirTree(join(dir, c));
  for (let i = 0; ; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 20) throw new Error(`cgroup: cannot remove ${dir}: ${code}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
