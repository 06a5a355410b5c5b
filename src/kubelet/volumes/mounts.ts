// Mount table reads and the few mount operations volumes need (tmpfs for memory-backed volumes),
// through util-linux's mount/umount: Node has no mount(2).

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountInfo {
  mountPoint: string;
  fsType: string;
  source: string;
  options: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

export async function listMounts(): Promise<MountInfo[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    const f = pre.split(' ');
    const g = (post ?? '').split(' ');
    out.push({ mountPoint: unescape(f[4]), options: f[5], fsType: g[0], source: unescape(g[1] ?? '') });
  }
  return out;
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await listMounts()).some((m) => m.mountPoint === path);
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const points = (await listMounts()).map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function mountTmpfs(dir: string, sizeBytes?: number): Promise<void> {
  const opts = sizeBytes ? [`size=${sizeBytes}`] : ['defaults'];
  try {
    await run('mount', ['-t', 'tmpfs', '-o', opts.join(','), 'tmpfs', dir]);
  } catch (e) {
    throw new Error(`mount failed: tmpfs on ${dir}: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
  }
}

export async function unmount(dir: string): Promise<void> {
  try {
    await run('umount', [dir]);
  } catch (e) {
    // Busy (a process still has a file open): detach now, freed when the last user goes.
    try {
      await run('umount', ['-l', dir]);
    } catch {
      throw new Error(`unmount failed: ${dir}: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
    }
  }
}
