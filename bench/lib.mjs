// Shared by the benchmarks: run one benchmark on SQLite and on a 1-member etcd, and read a
// process's memory from /proc.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { etcdAvailable, startEtcdCluster } from '../dist/testing/etcd-cluster.js';

/** Runs `run(label, startOptions)` on SQLite and on etcd; `only` picks one ('sqlite' | 'etcd'). */
export async function onEachDatastore(only, run) {
  if (only !== 'etcd') await run('SQLite', {});
  if (only === 'sqlite') return;
  if (!etcdAvailable()) {
    console.log('etcd-server not installed: skipping the etcd run');
    return;
  }
  const etcd = await startEtcdCluster({ members: 1 });
  try {
    await run('etcd (1 member)', { datastoreEndpoint: etcd.endpoint });
  } finally {
    await etcd.stop();
  }
}

/** A /proc/<pid>/status figure in MiB: VmRSS (current) or VmHWM (peak); NaN when gone. */
export function memoryMiB(pid, field = 'VmRSS') {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The pid of the first process whose command line contains `pattern`. */
export function pidOf(pattern) {
  return Number(execSync(`pgrep -f -- ${JSON.stringify(pattern)}`).toString().trim().split('\n')[0]);
}
