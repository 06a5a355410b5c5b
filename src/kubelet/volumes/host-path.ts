// hostPath `type` checks: https://kubernetes.io/docs/concepts/storage/volumes/#hostpath-volume-types

import { mkdir, stat, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';

async function statOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const fail = (what: string, p: string) => new Error(`hostPath type check failed: ${p} is not ${what}`);

/** Checks (and for the *OrCreate types makes) the path; throws upstream's messages. */
export async function checkHostPathType(path: string, type: string | undefined): Promise<void> {
  if (!type) return;
  const st = await statOrUndefined(path);
  if (!st && type === 'DirectoryOrCreate') {
    await mkdir(path, { recursive: true, mode: 0o755 });
    return;
  }
  if (!st && type === 'FileOrCreate') {
    // As upstream: the parent folder is not created.
    await writeFile(path, '', { flag: 'a', mode: 0o644 });
    return;
  }
  switch (type) {
    case 'DirectoryOrCreate':
    case 'Directory':
      if (!st?.isDirectory()) throw fail('a directory', path);
      return;
    case 'FileOrCreate':
    case 'File':
      if (!st?.isFile()) throw fail('a file', path);
      return;
    case 'Socket':
      if (!st?.isSocket()) throw fail('a socket file', path);
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw fail('a character device', path);
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw fail('a block device', path);
      return;
    default:
      throw new Error(`${type} is an invalid volume type`);
  }
}
