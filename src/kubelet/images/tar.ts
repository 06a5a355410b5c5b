// A small ustar writer: enough to build image layers and OCI image archives in memory (files,
// directories, symlinks; names up to 255 bytes). Fixed owners and times keep the output
// byte-identical between builds, so image digests stay the same.

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (default 0644 for files, 0755 for directories, 0777 for symlinks). */
  mode?: number;
  data?: Buffer | string;
  /** Symlink target. */
  linkname?: string;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default 0). */
  mtime?: number;
}

const BLOCK = 512;

function writeString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: ${JSON.stringify(value)} is longer than ${length} bytes`);
  bytes.copy(buf, offset);
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, then NUL.
  const s = value.toString(8).padStart(length - 1, '0');
  if (s.length > length - 1) throw new Error(`tar: ${value} does not fit in ${length} bytes`);
  writeString(buf, offset, length, s);
}

function splitName(name: string): { name: string; prefix: string } {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  // ustar splits long names at a '/' into prefix (155) and name (100).
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest) return { name: rest, prefix };
  }
  throw new Error(`tar: name too long: ${name}`);
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const name = e.type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name;
  const parts = splitName(name);
  writeString(h, 0, 100, parts.name);
  const mode = e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, e.uid ?? 0);
  writeOctal(h, 116, 8, e.gid ?? 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, e.mtime ?? 0);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h[156] = (e.type === 'file' ? '0' : e.type === 'symlink' ? '2' : '5').charCodeAt(0);
  if (e.linkname) writeString(h, 157, 100, e.linkname);
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  writeString(h, 265, 32, 'root');
  writeString(h, 297, 32, 'root');
  writeString(h, 345, 155, parts.prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** The whole archive, with the two zero blocks that end it. */
export function buildTar(entries: TarEntry[]): Buffer {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data) : e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    chunks.push(header(e, data.length));
    if (data.length) {
      chunks.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) chunks.push(Buffer.alloc(pad));
    }
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

/** Reads the entries of an uncompressed tar (regular files, dirs, symlinks; for tests and checks). */
export function readTar(buf: Buffer): Array<{ name: string; type: string; mode: number; size: number; linkname: string; data: Buffer }> {
  const out = [];
  let off = 0;
  const str = (o: number, l: number) => buf.subarray(o, o + l).toString('utf8').replace(/\0.*$/s, '');
  while (off + BLOCK <= buf.length) {
    if (buf.subarray(off, off + BLOCK).every((b) => b === 0)) break;
    const prefix = str(off + 345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(off, 100);
    const size = parseInt(str(off + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(buf[off + 156]);
    const mode = parseInt(str(off + 100, 8).trim() || '0', 8);
    const linkname = str(off + 157, 100);
    off += BLOCK;
    out.push({ name, type, mode, size, linkname, data: buf.subarray(off, off + size) });
    off += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
