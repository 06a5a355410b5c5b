// cgroup v1 file system access: where each hierarchy is mounted (from /proc/self/mountinfo),
// reading and writing control files, and the processes in a cgroup subtree.

import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CgroupMount {
  /** Controllers of a v1 hierarchy (cpu, cpuacct, memory, pids, name=systemd, ...); [] for v2. */
  controllers: string[];
  mountPoint: string;
  /** The hierarchy path mounted there ("/" unless inside a cgroup namespace). */
  root: string;
  version: 1 | 2;
}

/** Every cgroup mount of this process's mount namespace. */
export function cgroupMounts(mountinfo = '/proc/self/mountinfo'): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountPoint = left[4].replace(/\\040/g, ' ');
    const root = left[3];
    if (fstype === 'cgroup2') out.push({ controllers: [], mountPoint, root, version: 2 });
    else {
      const known = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'net_prio', 'blkio', 'perf_event', 'hugetlb', 'pids', 'rdma', 'misc'];
      const controllers = (superOpts ?? '').split(',').filter((o) => known.includes(o) || o.startsWith('name='));
      out.push({ controllers, mountPoint, root, version: 1 });
    }
  }
  return out;
}

export async function readCgroupFile(dir: string, file: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, file), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function writeCgroupFile(dir: string, file: string, value: string | number): Promise<void> {
  try {
    await writeFile(join(dir, file), String(value));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cgroup: cannot write ${value} to ${join(dir, file)}: ${err.code ?? err.message}`);
  }
}

/** `key value` lines (memory.stat, cpu.stat) as numbers. */
export function parseFlatKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** Child cgroup directory names. */
export async function childCgroups(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** PIDs in the cgroup and all its descendants. */
export async function subtreePids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  const text = await readCgroupFile(dir, 'cgroup.procs');
  for (const l of (text ?? '').split('\n')) if (/^\d+$/.test(l.trim())) pids.push(Number(l));
  for (const c of await childCgroups(dir)) pids.push(...(await subtreePids(join(dir, c))));
  return pids;
}
