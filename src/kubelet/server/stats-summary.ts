// The kubelet Summary API (GET /stats/summary, stats/v1alpha1 field names) from the CRI's
// container stats and the host's /proc: what metrics-server reads for `kubectl top`.
// Pods are found from the runtime's sandboxes (their CRI metadata), so this needs nothing but
// the runtime. CPU rates (usageNanoCores) are computed from two samples when the runtime does
// not give them.
// https://github.com/kubernetes/kubelet/blob/master/pkg/apis/stats/v1alpha1/types.go

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerRuntime, ContainerStats } from '../runtime/runtime.js';

export interface CPUStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface FsStats {
  time: string;
  usedBytes?: number;
  inodesUsed?: number;
}

export interface ContainerSummary {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
}

export interface PodSummary {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerSummary[];
  cpu?: CPUStats;
  memory?: MemoryStats;
}

export interface Summary {
  node: { nodeName: string; startTime: string; cpu?: CPUStats; memory?: MemoryStats };
  pods: PodSummary[];
}

export interface StatsSummaryOptions {
  runtime: Pick<ContainerRuntime, 'listPodSandbox' | 'listContainers' | 'listContainerStats'>;
  nodeName: string;
  /** When the node agent started. */
  startTime: Date;
  /** For tests: another /proc. */
  procRoot?: string;
  now?: () => Date;
}

const num = (v: { value: string } | undefined): number | undefined => (v?.value !== undefined ? Number(v.value) : undefined);
const nsToISO = (ns: string | undefined): string => new Date(Number(BigInt(ns ?? '0') / 1_000_000n)).toISOString();

export class StatsSummaryProvider {
  /** Last cumulative CPU sample per container ID ('' for the node): for usageNanoCores. */
  private readonly lastCPU = new Map<string, { at: number; usage: number }>();

  constructor(private readonly o: StatsSummaryOptions) {}

  async summary(): Promise<Summary> {
    const now = (this.o.now ?? (() => new Date()))();
    const time = now.toISOString();
    const [sandboxes, containers, stats, node] = await Promise.all([
      this.o.runtime.listPodSandbox({ state: { state: 'SANDBOX_READY' } }),
      this.o.runtime.listContainers({ state: { state: 'CONTAINER_RUNNING' } }),
      this.o.runtime.listContainerStats(),
      this.nodeStats(now),
    ]);
    const statsById = new Map<string, ContainerStats>(stats.map((s) => [s.attributes.id, s]));
    const live = new Set<string>(['']);
    const pods: PodSummary[] = sandboxes.map((sb) => {
      const cs: ContainerSummary[] = containers
        .filter((c) => c.pod_sandbox_id === sb.id)
        .map((c) => {
          live.add(c.id);
          const st = statsById.get(c.id);
          return {
            name: c.metadata.name,
            startTime: nsToISO(c.created_at),
            cpu: st?.cpu ? this.cpu(c.id, st.cpu.timestamp, num(st.cpu.usage_core_nano_seconds), num(st.cpu.usage_nano_cores)) : undefined,
            memory: st?.memory
              ? {
                  time: nsToISO(st.memory.timestamp),
                  workingSetBytes: num(st.memory.working_set_bytes),
                  usageBytes: num(st.memory.usage_bytes),
                  availableBytes: num(st.memory.available_bytes),
                  rssBytes: num(st.memory.rss_bytes),
                  pageFaults: num(st.memory.page_faults),
                  majorPageFaults: num(st.memory.major_page_faults),
                }
              : undefined,
            rootfs: st?.writable_layer ? { time: nsToISO(st.writable_layer.timestamp), usedBytes: num(st.writable_layer.used_bytes), inodesUsed: num(st.writable_layer.inodes_used) } : undefined,
          };
        });
      return {
        podRef: { name: sb.metadata.name, namespace: sb.metadata.namespace, uid: sb.metadata.uid },
        startTime: nsToISO(sb.created_at),
        containers: cs,
        cpu: sumCPU(cs, time),
        memory: sumMemory(cs, time),
      };
    });
    for (const id of this.lastCPU.keys()) if (!live.has(id)) this.lastCPU.delete(id);
    return { node: { nodeName: this.o.nodeName, startTime: this.o.startTime.toISOString(), ...node }, pods };
  }

  /** Cumulative usage, and the rate since the last sample when the runtime gave none. */
  private cpu(key: string, timestampNs: string | undefined, usage: number | undefined, rate: number | undefined): CPUStats {
    const at = timestampNs && timestampNs !== '0' ? Number(BigInt(timestampNs)) / 1e6 : Date.now();
    let nanoCores = rate;
    if (usage !== undefined) {
      const prev = this.lastCPU.get(key);
      if (nanoCores === undefined && prev && at > prev.at && usage >= prev.usage) nanoCores = Math.round(((usage - prev.usage) / (at - prev.at)) * 1000);
      this.lastCPU.set(key, { at, usage });
    }
    return { time: new Date(at).toISOString(), usageCoreNanoSeconds: usage, usageNanoCores: nanoCores };
  }

  private async nodeStats(now: Date): Promise<{ cpu?: CPUStats; memory?: MemoryStats }> {
    const proc = this.o.procRoot ?? '/proc';
    const out: { cpu?: CPUStats; memory?: MemoryStats } = {};
    try {
      // The first line of /proc/stat: jiffies (USER_HZ, 100 on Linux) per state; idle and iowait are not usage.
      const line = (await readFile(join(proc, 'stat'), 'utf8')).split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      const busy = line.reduce((a, b) => a + b, 0) - (line[3] ?? 0) - (line[4] ?? 0);
      out.cpu = this.cpu('', String(BigInt(now.getTime()) * 1_000_000n), busy * 10_000_000, undefined);
    } catch {
      // no /proc/stat: no node CPU
    }
    try {
      const mem = new Map<string, number>();
      for (const l of (await readFile(join(proc, 'meminfo'), 'utf8')).split('\n')) {
        const m = /^([^:]+):\s+(\d+)\s*kB/.exec(l);
        if (m) mem.set(m[1], Number(m[2]) * 1024);
      }
      const total = mem.get('MemTotal') ?? 0;
      const usage = total - (mem.get('MemFree') ?? 0);
      out.memory = {
        time: now.toISOString(),
        availableBytes: mem.get('MemAvailable'),
        usageBytes: usage,
        // As cAdvisor: usage less the inactive file cache.
        workingSetBytes: Math.max(0, usage - (mem.get('Inactive(file)') ?? 0)),
      };
    } catch {
      // no /proc/meminfo: no node memory
    }
    return out;
  }
}

function sumCPU(cs: ContainerSummary[], time: string): CPUStats | undefined {
  const with_ = cs.filter((c) => c.cpu);
  if (!with_.length) return undefined;
  const total = (f: (c: CPUStats) => number | undefined) => (with_.every((c) => f(c.cpu!) !== undefined) ? with_.reduce((a, c) => a + f(c.cpu!)!, 0) : undefined);
  return { time, usageCoreNanoSeconds: total((c) => c.usageCoreNanoSeconds), usageNanoCores: total((c) => c.usageNanoCores) };
}

function sumMemory(cs: ContainerSummary[], time: string): MemoryStats | undefined {
  const with_ = cs.filter((c) => c.memory);
  if (!with_.length) return undefined;
  const total = (f: (m: MemoryStats) => number | undefined) => with_.reduce((a, c) => a + (f(c.memory!) ?? 0), 0);
  return { time, workingSetBytes: total((m) => m.workingSetBytes), usageBytes: total((m) => m.usageBytes), rssBytes: total((m) => m.rssBytes) };
}

/**
 * The kubelet's /metrics/resource endpoint (what metrics-server scrapes) rendered from a
 * Summary, with upstream's metric names and help texts; samples carry their timestamps.
 */
export function resourceMetricsText(s: Summary): string {
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'gauge', help: string, samples: { labels?: Record<string, string>; value?: number; time?: string }[]) => {
    const present = samples.filter((x) => x.value !== undefined && Number.isFinite(x.value));
    if (!present.length) return;
    lines.push(`# HELP ${name} [STABLE] ${help}`, `# TYPE ${name} ${type}`);
    for (const x of present) {
      const labels = x.labels ? `{${Object.entries(x.labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}` : '';
      lines.push(`${name}${labels} ${x.value}${x.time ? ` ${Date.parse(x.time)}` : ''}`);
    }
  };
  const seconds = (ns?: number) => (ns === undefined ? undefined : ns / 1e9);
  const containers = s.pods.flatMap((p) => p.containers.map((c) => ({ c, labels: { container: c.name, namespace: p.podRef.namespace, pod: p.podRef.name } })));
  family('container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the container in core-seconds', containers.map(({ c, labels }) => ({ labels, value: seconds(c.cpu?.usageCoreNanoSeconds), time: c.cpu?.time })));
  family('container_memory_working_set_bytes', 'gauge', 'Current working set of the container in bytes', containers.map(({ c, labels }) => ({ labels, value: c.memory?.workingSetBytes, time: c.memory?.time })));
  family('container_start_time_seconds', 'gauge', 'Start time of the container since unix epoch in seconds', containers.map(({ c, labels }) => ({ labels, value: Date.parse(c.startTime) / 1000 })));
  family('node_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the node in core-seconds', [{ value: seconds(s.node.cpu?.usageCoreNanoSeconds), time: s.node.cpu?.time }]);
  family('node_memory_working_set_bytes', 'gauge', 'Current working set of the node in bytes', [{ value: s.node.memory?.workingSetBytes, time: s.node.memory?.time }]);
  const pods = s.pods.map((p) => ({ p, labels: { namespace: p.podRef.namespace, pod: p.podRef.name } }));
  family('pod_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed by the pod in core-seconds', pods.map(({ p, labels }) => ({ labels, value: seconds(p.cpu?.usageCoreNanoSeconds), time: p.cpu?.time })));
  family('pod_memory_working_set_bytes', 'gauge', 'Current working set of the pod in bytes', pods.map(({ p, labels }) => ({ labels, value: p.memory?.workingSetBytes, time: p.memory?.time })));
  lines.push('# HELP scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise', '# TYPE scrape_error gauge', 'scrape_error 0');
  return lines.join('\n') + '\n';
}
