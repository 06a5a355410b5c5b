// IPv4 addresses and CIDRs as 32-bit numbers: parsing, containment and subtraction. ipBlock's
// `except` becomes plain prefixes (cidr minus the exceptions), so every allow rule stays one
// iptables match with no marks or sub-chains.

export interface Cidr {
  /** The network address, host bits cleared. */
  base: number;
  prefix: number;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** "10.0.0.0/8" (host bits are cleared, as upstream's net.ParseCIDR does); a bare address is a /32. */
export function parseCidr(s: string): Cidr | undefined {
  const [addr, len, extra] = s.trim().split('/');
  if (extra !== undefined) return undefined;
  const ip = parseIPv4(addr);
  if (ip === undefined) return undefined;
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= 32)) return undefined;
  return { base: (ip & maskOf(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function cidrContainsIP(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.base;
}

/** True when `inner` lies wholly inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIP(outer, inner.base);
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** `from` minus every CIDR of `remove`, as a sorted list of disjoint prefixes. */
export function subtractCidrs(from: Cidr, remove: readonly Cidr[]): Cidr[] {
  let pieces: Cidr[] = [from];
  for (const r of remove) {
    const next: Cidr[] = [];
    for (const p of pieces) {
      if (!overlaps(p, r)) next.push(p);
      else if (cidrContains(r, p)) continue;
      else {
        // r lies strictly inside p: keep the sibling halves on the way down to r.
        let cur = p;
        while (cur.prefix < r.prefix) {
          const half = cur.prefix + 1;
          const low: Cidr = { base: cur.base, prefix: half };
          const high: Cidr = { base: (cur.base | (1 << (31 - cur.prefix))) >>> 0, prefix: half };
          if (cidrContains(low, r)) {
            next.push(high);
            cur = low;
          } else {
            next.push(low);
            cur = high;
          }
        }
      }
    }
    pieces = next;
  }
  return pieces.sort((a, b) => a.base - b.base || a.prefix - b.prefix);
}

/** The 8 hex digits of an address, for chain names keyed by pod IP. */
export function ipv4Hex(ip: number): string {
  return ip.toString(16).toUpperCase().padStart(8, '0');
}
