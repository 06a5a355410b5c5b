// Builds the stats summary (stats/v1alpha1) of the node and its pods:
// - node: cpu from /proc/stat, memory from /proc/meminfo and /proc/vmstat, network from the host's
//   /proc/net/dev, fs from statfs of the agent's directory, the runtime's image file system
//   (CRI ImageFsInfo plus statfs), rlimit; the `pods` system container from the agent's root cgroup;
// - pods: cpu/memory/processes from the pod's cgroup, containers from the CRI (ListContainers,
//   ListContainerStats) with rootfs and log usage, network from /proc/<sandbox pid>/net/dev,
//   volumes and ephemeral storage by disk usage of the pod's directories.
// usageNanoCores comes from CpuRateTracker samples; `StatsProvider` samples every 10 s so that a
// rate is always at hand.

import { readdir } from 'node:fs/promises';
import type { KubeObject } from '../../api/meta/v1.js';
import type { CgroupManager } from '../cm/cgroup-manager.js';
import type { KubeletPaths } from '../paths.js';
import type { Container, ContainerRuntime, ContainerStats as CriContainerStats, FilesystemUsage } from '../runtime/runtime.js';
import { CpuRateTracker } from './cpu-rates.js';
import { bootTime, cgroupUsage, diskUsage, fsInfo, netDev, nodeCpuUsageNs, nodeMemory, processCounts, processUsage, rfc3339, type CgroupUsage } from './host.js';
import type { ContainerStats, CPUStats, FsStats, InterfaceStats, MemoryStats, NetworkStats, PodStats, Summary, VolumeStats } from './types.js';
import { SYSTEM_CONTAINER_KUBELET, SYSTEM_CONTAINER_PODS, SYSTEM_CONTAINER_RUNTIME } from './types.js';
import type { Logger } from '../../machinery/logger.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface SandboxRef {
  id: string;
  /** A process in the pod's network namespace (the pause process); looked up when absent. */
  netnsPid?: number;
}

export interface SummaryOptions {
  nodeName: string;
  runtime: ContainerRuntime;
  /** The pods bound to this node (with metadata.uid). */
  pods: KubeObject[];
  cgroups: CgroupManager;
  paths: KubeletPaths;
  /** Pod UID → its current sandbox. */
  sandboxes: Map<string, SandboxRef>;
  /** A path on the node's file system (the agent's directory): node fs. */
  rootfsPath: string;
  /** Keeps CPU samples between calls; default one shared by the process. */
  rates?: CpuRateTracker;
  /** Caches disk usage walks; default one shared by the process. */
  diskUsageCache?: DiskUsageCache;
  /** Caches sandbox pause PIDs; default one shared by the process. */
  sandboxPids?: Map<string, number>;
  /** Processes reported as the node's `kubelet` (default this process) and `runtime` system containers. */
  systemProcesses?: { kubelet?: number; runtime?: number };
}

/** Disk usage of directory trees, re-walked at most once a minute (upstream's du period). */
export class DiskUsageCache {
  private readonly entries = new Map<string, { at: number; value: Promise<{ bytes: number; inodes: number }> }>();
  constructor(private readonly ttlMs = 60_000) {}
  get(path: string): Promise<{ bytes: number; inodes: number }> {
    const now = Date.now();
    const e = this.entries.get(path);
    if (e && now - e.at < this.ttlMs) return e.value;
    const value = diskUsage(path);
    this.entries.set(path, { at: now, value });
    for (const [k, v] of this.entries) if (now - v.at > 10 * this.ttlMs) this.entries.delete(k);
    return value;
  }
}

const sharedRates = new CpuRateTracker();
const sharedDu = new DiskUsageCache();

const nsToDate = (ns: string | undefined): Date | undefined => (ns && ns !== '0' ? new Date(Number(BigInt(ns) / 1_000_000n)) : undefined);
const u64 = (v: { value: string } | undefined): number | undefined => (v?.value !== undefined ? Number(v.value) : undefined);
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function networkStats(time: string, ifaces: InterfaceStats[]): NetworkStats | undefined {
  if (!ifaces.length) return undefined;
  const def = ifaces.find((i) => i.name === 'eth0') ?? ifaces[0];
  return { time, ...def, interfaces: ifaces };
}

function cpuFromCgroup(key: string, u: CgroupUsage, rates: CpuRateTracker, now: Date): CPUStats | undefined {
  if (u.cpuNs === undefined) return undefined;
  return defined({ time: rfc3339(now), usageNanoCores: rates.observe(key, u.cpuNs, now.getTime()), usageCoreNanoSeconds: u.cpuNs });
}

function memoryFromCgroup(u: CgroupUsage, now: Date): MemoryStats | undefined {
  const m = u.memory;
  if (!m) return undefined;
  return defined({
    time: rfc3339(now),
    availableBytes: m.available,
    usageBytes: m.usage,
    workingSetBytes: m.workingSet,
    rssBytes: m.rss,
    pageFaults: m.pageFaults,
    majorPageFaults: m.majorPageFaults,
  });
}

function cgroupDirs(cgroups: CgroupManager, path: string) {
  return { cpuacct: cgroups.dir('cpuacct', path), memory: cgroups.dir('memory', path), pids: cgroups.dir('pids', path) };
}

/** Sandbox ID → pause PID, learnt from verbose PodSandboxStatus once per sandbox. */
const sharedPids = new Map<string, number>();

async function sandboxPid(runtime: ContainerRuntime, sb: SandboxRef, cache: Map<string, number>): Promise<number | undefined> {
  if (sb.netnsPid) return sb.netnsPid;
  if (cache.has(sb.id)) return cache.get(sb.id);
  try {
    const { info } = await runtime.podSandboxStatus(sb.id, true);
    const pid = JSON.parse(info?.info ?? '{}').pid;
    if (typeof pid === 'number' && pid > 0) {
      cache.set(sb.id, pid);
      return pid;
    }
  } catch {
    /* sandbox gone or no verbose info */
  }
  return undefined;
}

/** The runtime's image file system: CRI usage plus the capacity of the file system it is on. */
async function imageFs(runtime: ContainerRuntime, time: string): Promise<{ imageFs?: FsStats; containerFs?: FsStats }> {
  let info: Awaited<ReturnType<ContainerRuntime['imageFsInfo']>>;
  try {
    info = await runtime.imageFsInfo();
  } catch {
    return {};
  }
  const one = async (u: FilesystemUsage | undefined): Promise<FsStats | undefined> => {
    if (!u) return undefined;
    const base = u.fs_id?.mountpoint ? await fsInfo(u.fs_id.mountpoint, time).catch(() => undefined) : undefined;
    return defined({ ...(base ?? { time }), usedBytes: u64(u.used_bytes) ?? base?.usedBytes, inodesUsed: u64(u.inodes_used) ?? base?.inodesUsed });
  };
  const img = await one(info.image_filesystems[0]);
  const ctr = (await one(info.container_filesystems?.[0])) ?? img;
  return { imageFs: img, containerFs: ctr };
}

/** The containers to report for a pod: per name the running one, else the newest. */
function latestPerName(containers: Container[]): Container[] {
  const rank = (c: Container): [number, bigint] => [c.state === 'CONTAINER_RUNNING' ? 1 : 0, BigInt(c.created_at || '0')];
  const byName = new Map<string, Container>();
  for (const c of containers) {
    const cur = byName.get(c.metadata.name);
    if (!cur) {
      byName.set(c.metadata.name, c);
      continue;
    }
    const [a, b] = [rank(c), rank(cur)];
    if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) byName.set(c.metadata.name, c);
  }
  return [...byName.values()];
}

async function podStats(
  o: SummaryOptions,
  pod: KubeObject,
  now: Date,
  node: { rootfs: FsStats; imageFs?: FsStats; logsFs?: FsStats; containers?: Map<string, Container[]>; criStats?: Map<string, CriContainerStats[]> },
): Promise<PodStats> {
  const rates = o.rates ?? sharedRates;
  const du = o.diskUsageCache ?? sharedDu;
  const time = rfc3339(now);
  const uid = pod.metadata.uid!;
  const name = pod.metadata.name ?? '';
  const namespace = pod.metadata.namespace ?? 'default';
  const start = pod.status?.startTime ?? pod.metadata.creationTimestamp ?? time;
  const stats: PodStats = { podRef: { name, namespace, uid }, startTime: start, containers: [] };
  const sb = o.sandboxes.get(uid);

  // Containers, from the CRI.
  let ephemeralUsed = 0;
  let ephemeralInodes = 0;
  if (sb) {
    const containers = node.containers?.get(sb.id) ?? [];
    const criStats = node.criStats?.get(sb.id) ?? [];
    const byId = new Map(criStats.map((s) => [s.attributes.id, s]));
    for (const c of latestPerName(containers)) {
      const s = byId.get(c.id);
      const cs: ContainerStats = { name: c.metadata.name, startTime: rfc3339(nsToDate(c.created_at) ?? now) };
      if (s?.cpu) {
        const total = u64(s.cpu.usage_core_nano_seconds);
        const at = nsToDate(s.cpu.timestamp) ?? now;
        const criRate = u64(s.cpu.usage_nano_cores);
        const rate = total !== undefined ? rates.observe(`container:${c.id}`, total, at.getTime()) : undefined;
        cs.cpu = defined({ time: rfc3339(at), usageNanoCores: criRate || rate, usageCoreNanoSeconds: total });
      }
      if (s?.memory) {
        const m = s.memory;
        cs.memory = defined({
          time: rfc3339(nsToDate(m.timestamp) ?? now),
          // containerd reports 0 when the container has no memory limit.
          availableBytes: u64(m.available_bytes) || undefined,
          usageBytes: u64(m.usage_bytes),
          workingSetBytes: u64(m.working_set_bytes),
          rssBytes: u64(m.rss_bytes),
          pageFaults: u64(m.page_faults),
          majorPageFaults: u64(m.major_page_faults),
        });
      }
      if (s?.writable_layer) {
        const used = u64(s.writable_layer.used_bytes) ?? 0;
        const inodes = u64(s.writable_layer.inodes_used) ?? 0;
        cs.rootfs = defined({ ...(node.imageFs ?? { time }), time, usedBytes: used, inodesUsed: inodes });
        ephemeralUsed += used;
        ephemeralInodes += inodes;
      }
      const logDir = `${o.paths.podLogDir(namespace, name, uid)}/${c.metadata.name}`;
      const logUse = await du.get(logDir);
      cs.logs = defined({ ...(node.logsFs ?? { time }), time, usedBytes: logUse.bytes, inodesUsed: logUse.inodes });
      ephemeralUsed += logUse.bytes;
      ephemeralInodes += logUse.inodes;
      stats.containers.push(cs);
    }
  }

  // The pod's own cgroup.
  const cgPath = o.cgroups.podCgroupPath(uid);
  if (cgPath) {
    const u = await cgroupUsage(cgroupDirs(o.cgroups, cgPath));
    stats.cpu = cpuFromCgroup(`pod:${uid}`, u, rates, now);
    stats.memory = memoryFromCgroup(u, now);
    if (u.pids !== undefined) stats.process_stats = { process_count: u.pids };
  }

  // Network, from inside the sandbox's namespace.
  if (sb && !pod.spec?.hostNetwork) {
    const pid = await sandboxPid(o.runtime, sb, o.sandboxPids ?? sharedPids);
    if (pid) {
      const ifaces = await netDev(pid).catch(() => [] as InterfaceStats[]);
      stats.network = networkStats(time, ifaces.filter((i) => i.name !== 'lo'));
    }
  }

  // Volumes: every directory the agent made for the pod's volumes.
  const specVolumes = new Map<string, Obj>(((pod.spec?.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
  const volumes: VolumeStats[] = [];
  const volRoot = `${o.paths.podDir(uid)}/volumes`;
  for (const [plugin, vols] of await listVolumeDirs(volRoot)) {
    for (const vol of vols) {
      const use = await du.get(`${volRoot}/${plugin}/${vol}`);
      const spec = specVolumes.get(vol);
      const fs = await fsInfo(`${volRoot}/${plugin}/${vol}`, time).catch(() => ({ time }) as FsStats);
      const v: VolumeStats = defined({ ...fs, time, name: vol, usedBytes: use.bytes, inodesUsed: use.inodes });
      if (spec?.persistentVolumeClaim?.claimName) v.pvcRef = { name: spec.persistentVolumeClaim.claimName, namespace };
      else if (!(spec?.emptyDir?.medium === 'Memory') && !spec?.hostPath) {
        ephemeralUsed += use.bytes;
        ephemeralInodes += use.inodes;
      }
      volumes.push(v);
    }
  }
  if (volumes.length) stats.volume = volumes;
  stats['ephemeral-storage'] = defined({ ...node.rootfs, time, usedBytes: ephemeralUsed, inodesUsed: ephemeralInodes });
  return stats;
}

async function listVolumeDirs(root: string): Promise<[string, string[]][]> {
  const out: [string, string[]][] = [];
  let plugins: string[] = [];
  try {
    plugins = await readdir(root);
  } catch {
    return out;
  }
  for (const p of plugins) {
    try {
      out.push([p, await readdir(`${root}/${p}`)]);
    } catch {
      /* not a directory */
    }
  }
  return out;
}

/** Builds the summary now. Call it for each /stats/summary request (or use StatsProvider). */
export async function buildSummary(o: SummaryOptions): Promise<Summary> {
  const rates = o.rates ?? sharedRates;
  const now = new Date();
  const time = rfc3339(now);
  const [cpuNs, mem, ifaces, rootfs, procs, rt, logsFs] = await Promise.all([
    nodeCpuUsageNs(),
    nodeMemory(),
    netDev().catch(() => [] as InterfaceStats[]),
    fsInfo(o.rootfsPath, time),
    processCounts(),
    imageFs(o.runtime, time),
    fsInfo(o.paths.agentDir, time).catch(() => undefined),
  ]);
  const nodeIfaces = ifaces.filter((i) => !/^(lo|veth|docker|nerdctl)/.test(i.name));
  const podsCg = await cgroupUsage(cgroupDirs(o.cgroups, o.cgroups.root));
  const bootDate = bootTime();
  const boot = rfc3339(bootDate);
  const systemContainers: ContainerStats[] = [
    defined({ name: SYSTEM_CONTAINER_PODS, startTime: boot, cpu: cpuFromCgroup(`pods:${o.cgroups.root}`, podsCg, rates, now), memory: memoryFromCgroup(podsCg, now) }),
  ];
  const sysProcs = [
    [SYSTEM_CONTAINER_KUBELET, o.systemProcesses?.kubelet ?? process.pid],
    [SYSTEM_CONTAINER_RUNTIME, o.systemProcesses?.runtime],
  ] as const;
  for (const [name, pid] of sysProcs) {
    const u = pid ? await processUsage(pid, bootDate) : undefined;
    if (!u) continue;
    systemContainers.push({
      name,
      startTime: rfc3339(u.startTime),
      cpu: defined({ time, usageNanoCores: rates.observe(`process:${pid}`, u.cpuNs, now.getTime()), usageCoreNanoSeconds: Math.round(u.cpuNs) }),
      memory: { time, usageBytes: u.rss, workingSetBytes: u.rss, rssBytes: u.rss },
    });
  }
  const summary: Summary = {
    node: defined({
      nodeName: o.nodeName,
      systemContainers,
      startTime: boot,
      cpu: defined({ time, usageNanoCores: rates.observe('node', cpuNs, now.getTime()), usageCoreNanoSeconds: Math.round(cpuNs) }),
      memory: { time, availableBytes: mem.available, usageBytes: mem.usage, workingSetBytes: mem.workingSet, rssBytes: mem.rss, pageFaults: mem.pageFaults, majorPageFaults: mem.majorPageFaults },
      network: networkStats(time, nodeIfaces),
      fs: rootfs,
      runtime: defined({ imageFs: rt.imageFs, containerFs: rt.containerFs }),
      rlimit: { time, maxpid: procs.maxpid, curproc: procs.curproc },
    }),
    pods: [],
  };
  // One listing of containers and their stats for all pods (not two calls per pod).
  const [allContainers, allStats] = await Promise.all([
    o.runtime.listContainers().catch(() => [] as Container[]),
    o.runtime.listContainerStats().catch(() => [] as CriContainerStats[]),
  ]);
  const containers = new Map<string, Container[]>();
  const sandboxOf = new Map<string, string>();
  for (const c of allContainers) {
    sandboxOf.set(c.id, c.pod_sandbox_id);
    containers.set(c.pod_sandbox_id, [...(containers.get(c.pod_sandbox_id) ?? []), c]);
  }
  const criStats = new Map<string, CriContainerStats[]>();
  for (const st of allStats) {
    const sb = sandboxOf.get(st.attributes.id);
    if (sb) criStats.set(sb, [...(criStats.get(sb) ?? []), st]);
  }
  for (const pod of o.pods) {
    if (!pod.metadata.uid) continue;
    summary.pods.push(await podStats(o, pod, now, { rootfs, imageFs: rt.imageFs, logsFs, containers, criStats }));
  }
  rates.prune(now.getTime());
  const pids = o.sandboxPids ?? sharedPids;
  const live = new Set([...o.sandboxes.values()].map((s) => s.id));
  for (const id of pids.keys()) if (!live.has(id)) pids.delete(id);
  return summary;
}

export interface StatsProviderOptions extends Omit<SummaryOptions, 'pods' | 'sandboxes'> {
  /** The node's pods now. */
  pods(): KubeObject[];
  /** Pod UID → sandbox, now. */
  sandboxes(): Map<string, SandboxRef>;
  intervalMs?: number;
  log?: Pick<Logger, 'warn'>;
}

/**
 * Samples every 10 s (so CPU rates are always over a recent window) and keeps the latest
 * summary; `summary()` builds a fresh one on demand with the same samples.
 */
export class StatsProvider {
  private readonly rates: CpuRateTracker;
  private readonly du: DiskUsageCache;
  private readonly pids = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private last: Summary | undefined;
  private running: Promise<Summary> | undefined;

  constructor(private readonly opts: StatsProviderOptions) {
    this.rates = opts.rates ?? new CpuRateTracker();
    this.du = opts.diskUsageCache ?? new DiskUsageCache();
  }

  start(signal?: AbortSignal): void {
    if (this.timer) return;
    const tick = () => {
      void this.summary().catch((err) => this.opts.log?.warn({ err }, 'stats: sampling failed'));
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 10_000);
    this.timer.unref?.();
    signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The last sampled summary, if any. */
  latest(): Summary | undefined {
    return this.last;
  }

  /** A fresh summary (concurrent callers share one build). */
  summary(): Promise<Summary> {
    this.running ??= buildSummary({ ...this.opts, pods: this.opts.pods(), sandboxes: this.opts.sandboxes(), rates: this.rates, diskUsageCache: this.du, sandboxPids: this.pids })
      .then((s) => (this.last = s))
      .finally(() => (this.running = undefined));
    return this.running;
  }
}

/** The summary cut to cpu and memory, as upstream serves `/stats/summary?only_cpu_and_memory=true`. */
export function cpuAndMemoryOnly(s: Summary): Summary {
  return {
    node: defined({
      nodeName: s.node.nodeName,
      startTime: s.node.startTime,
      cpu: s.node.cpu,
      memory: s.node.memory,
      systemContainers: s.node.systemContainers?.map((c) => defined({ name: c.name, startTime: c.startTime, cpu: c.cpu, memory: c.memory })),
    }),
    pods: s.pods.map((p) =>
      defined({
        podRef: p.podRef,
        startTime: p.startTime,
        containers: p.containers.map((c) => defined({ name: c.name, startTime: c.startTime, cpu: c.cpu, memory: c.memory, swap: c.swap })),
        cpu: p.cpu,
        memory: p.memory,
        swap: p.swap,
      }),
    ),
  };
}
