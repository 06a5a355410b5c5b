// Figures read from the host: /proc (stat, meminfo, vmstat, net/dev, loadavg), statfs of a file
// system, disk usage of a directory tree, and cgroup v1 cpuacct/memory of one cgroup.

import { readFileSync } from 'node:fs';
import { lstat, readdir, readFile, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { parseFlatKeyed, readCgroupFile } from '../cm/cgroupfs.js';
import type { FsStats, InterfaceStats } from './types.js';

/** USER_HZ: the unit of /proc/stat times on Linux. */
const CLOCK_TICKS = 100;
/** Beyond this a v1 memory limit means "unlimited" (the kernel rounds LONG_MAX down to a page). */
const UNLIMITED = 2 ** 62;

export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Boot time, from /proc/stat btime. */
export function bootTime(): Date {
  const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return new Date(m ? Number(m[1]) * 1000 : Date.now() - 1000 * Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]));
}

/** Cumulative non-idle CPU time of all CPUs, in nanoseconds (/proc/stat `cpu` line). */
export async function nodeCpuUsageNs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no cpu line');
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + irq + softirq + (steal || 0)) * 1e9) / CLOCK_TICKS;
}

export interface NodeMemory {
  capacity: number;
  usage: number;
  workingSet: number;
  available: number;
  rss: number;
  pageFaults: number;
  majorPageFaults: number;
}

export async function nodeMemory(): Promise<NodeMemory> {
  const kb = new Map<string, number>();
  for (const l of (await readFile('/proc/meminfo', 'utf8')).split('\n')) {
    const m = /^([^:]+):\s+(\d+)/.exec(l);
    if (m) kb.set(m[1], Number(m[2]) * 1024);
  }
  const vm = parseFlatKeyed(await readFile('/proc/vmstat', 'utf8'));
  const capacity = kb.get('MemTotal') ?? 0;
  const usage = capacity - (kb.get('MemFree') ?? 0);
  const workingSet = Math.max(0, usage - (kb.get('Inactive(file)') ?? 0));
  return {
    capacity,
    usage,
    workingSet,
    available: Math.max(0, capacity - workingSet),
    rss: kb.get('AnonPages') ?? 0,
    pageFaults: vm.get('pgfault') ?? 0,
    majorPageFaults: vm.get('pgmajfault') ?? 0,
  };
}

/** Interfaces of a network namespace, from /proc/<pid>/net/dev (or /proc/self/net/dev). */
export async function netDev(pid?: number): Promise<InterfaceStats[]> {
  const text = await readFile(`/proc/${pid ?? 'self'}/net/dev`, 'utf8');
  const out: InterfaceStats[] = [];
  for (const l of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(l);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    out.push({ name: m[1], rxBytes: f[0], rxErrors: f[2], txBytes: f[8], txErrors: f[10] });
  }
  return out;
}

/** Processes (threads) on the node and the kernel's pid_max. */
export async function processCounts(): Promise<{ curproc: number; maxpid: number }> {
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[3] ?? '0/0';
  return { curproc: Number(load.split('/')[1]), maxpid: Number((await readFile('/proc/sys/kernel/pid_max', 'utf8')).trim()) };
}

/** Capacity, free space and inodes of the file system holding `path`. */
export async function fsInfo(path: string, time: string): Promise<FsStats> {
  const s = await statfs(path);
  return {
    time,
    availableBytes: s.bavail * s.bsize,
    capacityBytes: s.blocks * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    inodesFree: s.ffree,
    inodes: s.files,
    inodesUsed: s.files - s.ffree,
  };
}

/** Disk usage (allocated blocks) and inode count of a tree, not following symlinks (`du -s`). */
export async function diskUsage(root: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 0;
  const seen = new Set<string>();
  const walk = async (p: string): Promise<void> => {
    let st;
    try {
      st = await lstat(p, { bigint: false });
    } catch {
      return;
    }
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return;
    seen.add(id);
    bytes += st.blocks * 512;
    inodes++;
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = await readdir(p);
    } catch {
      return;
    }
    for (const n of names) await walk(join(p, n));
  };
  await walk(root);
  return { bytes, inodes };
}

export interface CgroupUsage {
  cpuNs?: number;
  memory?: { usage: number; workingSet: number; rss: number; pageFaults: number; majorPageFaults: number; available?: number };
  pids?: number;
}

/** cpuacct.usage, memory usage/stat and pids.current of one cgroup (absolute directories). */
export async function cgroupUsage(dirs: { cpuacct?: string; memory?: string; pids?: string }): Promise<CgroupUsage> {
  const out: CgroupUsage = {};
  if (dirs.cpuacct) {
    const v = await readCgroupFile(dirs.cpuacct, 'cpuacct.usage');
    if (v !== undefined && /^\d+$/.test(v)) out.cpuNs = Number(v);
  }
  if (dirs.memory) {
    const usageText = await readCgroupFile(dirs.memory, 'memory.usage_in_bytes');
    if (usageText !== undefined) {
      const usage = Number(usageText);
      const st = parseFlatKeyed(await readCgroupFile(dirs.memory, 'memory.stat'));
      const workingSet = Math.max(0, usage - (st.get('total_inactive_file') ?? 0));
      const limit = Number((await readCgroupFile(dirs.memory, 'memory.limit_in_bytes')) ?? NaN);
      out.memory = {
        usage,
        workingSet,
        rss: st.get('total_rss') ?? 0,
        pageFaults: st.get('total_pgfault') ?? 0,
        majorPageFaults: st.get('total_pgmajfault') ?? 0,
        ...(limit > 0 && limit < UNLIMITED ? { available: Math.max(0, limit - workingSet) } : {}),
      };
    }
  }
  if (dirs.pids) {
    const v = await readCgroupFile(dirs.pids, 'pids.current');
    if (v !== undefined && /^\d+$/.test(v)) out.pids = Number(v);
  }
  return out;
}

/** CPU time (ns), start time and resident memory of one process, from /proc/<pid>/stat and status. */
export async function processUsage(pid: number, boot: Date): Promise<{ cpuNs: number; startTime: Date; rss: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime is field 14, stime 15, starttime 22.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(f[11]);
    const stime = Number(f[12]);
    const start = Number(f[19]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    return { cpuNs: ((utime + stime) * 1e9) / CLOCK_TICKS, startTime: new Date(boot.getTime() + (start * 1000) / CLOCK_TICKS), rss };
  } catch {
    return undefined;
  }
}
