// Writes a volume's files so that readers never see a half-updated set (upstream's AtomicWriter
// layout, which programs watching ConfigMap volumes rely on):
//   <dir>/..2026_11_25_10_00_00.123456789/<files>   one directory per version
//   <dir>/..data -> ..2026_11_25_10_00_00.123456789  swapped by one rename(2)
//   <dir>/<key>  -> ..data/<key>                     what the container sees
// The previous version's directory is removed after the swap.

import { randomInt } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

export interface FileProjection {
  data: Buffer;
  /** Permission bits, e.g. 0o644. */
  mode: number;
}

export type Payload = Map<string, FileProjection>;

const DATA_DIR = '..data';
const DATA_DIR_TMP = '..data_tmp';

/** A payload path must stay inside the volume and not collide with the writer's own names. */
export function validatePayloadPath(p: string): string | undefined {
  if (!p) return 'invalid path: must not be empty';
  if (p.length > 4096) return `invalid path: must be less than or equal to 4096 characters`;
  if (p.startsWith('/')) return `invalid path: must be relative path: ${p}`;
  const parts = p.split('/');
  if (parts[0].length > 255) return `invalid path: the first path segment must be less than or equal to 255 characters`;
  if (parts.includes('..')) return `invalid path: must not contain '..': ${p}`;
  if (parts[0].startsWith('..')) return `invalid path: must not start with '..': ${p}`;
  return undefined;
}

function timestampDirName(now: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const ts = `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}`;
  return `..${ts}.${randomInt(100_000_000, 1_000_000_000)}`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Every regular file under dir, by path relative to dir. */
async function walkFiles(dir: string, rel = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) await walkFiles(dir, r, out);
    else out.set(r, join(dir, r));
  }
  return out;
}

async function sameContent(versionDir: string, payload: Payload, fsGroup: number | undefined): Promise<boolean> {
  let files: Map<string, string>;
  try {
    files = await walkFiles(versionDir);
  } catch {
    return false;
  }
  if (files.size !== payload.size) return false;
  for (const [rel, want] of payload) {
    const path = files.get(rel);
    if (!path) return false;
    try {
      const st = await stat(path);
      const mode = fsGroup === undefined ? want.mode & 0o7777 : (want.mode & 0o7777) | 0o440;
      if ((st.mode & 0o7777) !== mode || (fsGroup !== undefined && st.gid !== fsGroup)) return false;
      if (!(await readFile(path)).equals(want.data)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export interface WriteOptions {
  /** The pod's fsGroup: files and folders get this group, readable by it (as upstream's SetVolumeOwnership for read-only volumes). */
  fsGroup?: number;
  now?: Date;
}

export class AtomicWriter {
  constructor(readonly targetDir: string) {}

  /** The version directory `..data` points at, if any. */
  async currentVersion(): Promise<string | undefined> {
    try {
      return await readlink(join(this.targetDir, DATA_DIR));
    } catch {
      return undefined;
    }
  }

  /** Writes the payload; returns false when the volume already held exactly this content. */
  async write(payload: Payload, opts: WriteOptions = {}): Promise<boolean> {
    for (const p of payload.keys()) {
      const err = validatePayloadPath(p);
      if (err) throw new Error(err);
    }
    const dir = this.targetDir;
    const wantTop = new Set([...payload.keys()].map((p) => p.split('/')[0]));
    const old = await this.currentVersion();
    if (old && (await sameContent(join(dir, old), payload, opts.fsGroup))) {
      let complete = true;
      for (const t of wantTop) if (!(await exists(join(dir, t)))) complete = false;
      if (complete) return false;
    }

    let version = timestampDirName(opts.now ?? new Date());
    for (;;) {
      try {
        await mkdir(join(dir, version), { mode: 0o755 });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        version = timestampDirName(opts.now ?? new Date());
      }
    }
    const versionDir = join(dir, version);
    await chmod(versionDir, 0o755);
    for (const [rel, f] of payload) {
      const path = join(versionDir, rel);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeFile(path, f.data, { mode: f.mode & 0o7777 });
      await chmod(path, f.mode & 0o7777);
    }
    if (opts.fsGroup !== undefined) await applyGroup(versionDir, opts.fsGroup);

    // The swap: one rename makes the new version visible at once.
    const tmp = join(dir, DATA_DIR_TMP);
    await rm(tmp, { force: true });
    await symlink(version, tmp);
    await rename(tmp, join(dir, DATA_DIR));

    for (const t of wantTop) if (!(await exists(join(dir, t)))) await symlink(join(DATA_DIR, t), join(dir, t));
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      if (ent.name.startsWith('..')) {
        // Old versions (and leftovers of an interrupted write).
        if (ent.name !== version && ent.name !== DATA_DIR && ent.isDirectory()) await rm(join(dir, ent.name), { recursive: true, force: true });
        continue;
      }
      if (wantTop.has(ent.name) || !ent.isSymbolicLink()) continue;
      const target = await readlink(join(dir, ent.name)).catch(() => '');
      if (target.startsWith(DATA_DIR + sep)) await unlink(join(dir, ent.name));
    }
    return true;
  }
}

async function applyGroup(root: string, gid: number): Promise<void> {
  const visit = async (p: string) => {
    const st = await lstat(p);
    await lchown(p, st.uid, gid);
    if (st.isDirectory()) {
      await chmod(p, (st.mode & 0o7777) | 0o2000 | 0o550);
      for (const name of await readdir(p)) await visit(join(p, name));
    } else if (st.isFile()) {
      await chmod(p, (st.mode & 0o7777) | 0o440);
    }
  };
  await visit(root);
}
