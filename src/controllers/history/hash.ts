// Hashing shared by the controllers that keep ControllerRevisions (StatefulSet, DaemonSet):
// 32-bit FNV hashes, upstream's "safe" encoding of a decimal hash (no vowels, no look-alike
// digits), and a byte-stable JSON serialisation to hash (sorted keys, Go's HTML escaping, as
// Go's json.Marshal of a map produces).

import { NAME_ALPHABET } from '../../machinery/names.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const utf8 = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

/** Incremental FNV-1 (multiply, then xor) over 32 bits: Go's hash/fnv New32. */
export class Fnv32 {
  private h = FNV_OFFSET;
  constructor(private readonly variantA = false) {}

  write(data: string | Uint8Array): this {
    let h = this.h;
    for (const b of utf8(data)) {
      if (this.variantA) {
        h ^= b;
        h = Math.imul(h, FNV_PRIME);
      } else {
        h = Math.imul(h, FNV_PRIME);
        h ^= b;
      }
    }
    this.h = h >>> 0;
    return this;
  }

  sum32(): number {
    return this.h >>> 0;
  }
}

export const fnv32 = (data: string | Uint8Array): number => new Fnv32(false).write(data).sum32();
export const fnv32a = (data: string | Uint8Array): number => new Fnv32(true).write(data).sum32();

/** rand.SafeEncodeString: every character mapped into the 27-letter alphabet by its code modulo 27. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += NAME_ALPHABET[s.charCodeAt(i) % NAME_ALPHABET.length];
  return out;
}

const escapes: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** JSON with object keys sorted at every level and <, >, & escaped, as Go's json.Marshal of a generic map. */
export function stableStringify(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stableStringify(x))).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${stableString(k)}:${stableStringify(o[k])}`).join(',')}}`;
  }
  if (typeof v === 'string') return stableString(v);
  return JSON.stringify(v);
}

function stableString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => escapes[c]!);
}

/**
 * controller.ComputeHash: FNV-32a of the pod template, then of the collision count as 8
 * little-endian bytes; safe-encoded. (Upstream hashes Go's spew dump of the struct, which has no
 * JavaScript equivalent; this hashes the stable JSON instead, so values differ from upstream's.)
 */
export function computeTemplateHash(template: unknown, collisionCount?: number): string {
  const h = new Fnv32(true).write(stableStringify(template ?? null));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h.write(b);
  }
  return safeEncodeString(String(h.sum32()));
}
