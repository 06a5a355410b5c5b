// Forwarding of names outside the cluster zone to upstream resolvers (CoreDNS's `forward` plugin,
// tried in order), with a small response cache honouring TTLs (the `cache` plugin): positive
// answers for their smallest TTL, negative ones for the SOA's minimum (RFC 2308), both capped, the
// oldest entry evicted when full. Identical questions in flight share one upstream query.

import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordClass, type RecordType } from 'dns-packet';
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwardQuestion {
  name: string;
  type: RecordType;
  class?: RecordClass;
}

/** An upstream answer: its rcode, sections (no OPT) and whether the upstream truncated it. */
export interface ForwardedAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  fromCache: boolean;
}

export interface ForwarderOptions {
  upstreams: string[];
  /** Longest time any answer is cached; 0 disables the cache. CoreDNS's kubeadm Corefile uses 30. */
  cacheSeconds?: number;
  cacheSize?: number;
  /** Per upstream attempt. */
  timeoutMs?: number;
  now?: () => number;
}

const RCODE_NOERROR = 0;
const RCODE_NXDOMAIN = 3;
const ADVERTISED_UDP_SIZE = 1232;

/** host:port, [v6]:port or a bare address (port 53). */
export function parseUpstream(s: string): Upstream {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? (isIP(s) === 6 ? [s, s, undefined] : /^([^:]+)(?::(\d+))?$/.exec(s));
  if (!m || !isIP(m[1])) throw new Error(`invalid upstream ${JSON.stringify(s)}: want an IP address with an optional :port`);
  const port = m[2] === undefined ? 53 : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid upstream ${JSON.stringify(s)}: bad port`);
  return { host: m[1], port };
}

interface CacheEntry {
  answer: Omit<ForwardedAnswer, 'fromCache'>;
  storedAt: number;
  expiresAt: number;
}

interface Pending {
  resolve(p: DecodedPacket | undefined): void;
  upstream: Upstream;
  question: ForwardQuestion;
  timer: NodeJS.Timeout;
}

/** Queries in flight to upstreams at once; beyond this, new ones fail at once (SERVFAIL). */
const MAX_PENDING = 4096;

function sameQuestion(p: DecodedPacket, q: ForwardQuestion): boolean {
  const got = p.questions?.[0];
  return !!got && p.questions!.length === 1 && got.type === q.type && got.name.toLowerCase().replace(/\.$/, '') === q.name.toLowerCase().replace(/\.$/, '');
}

export class Forwarder {
  readonly upstreams: Upstream[];
  private readonly cacheMs: number;
  private readonly cacheSize: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<ForwardedAnswer | undefined>>();
  private readonly pending = new Map<number, Pending>();
  private readonly sockets: { udp4?: Socket; udp6?: Socket } = {};
  private closed = false;
  readonly stats = { upstreamQueries: 0, cacheHits: 0, failures: 0 };

  constructor(opts: ForwarderOptions) {
    this.upstreams = opts.upstreams.map(parseUpstream);
    this.cacheMs = Math.max(0, opts.cacheSeconds ?? 30) * 1000;
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.now = opts.now ?? Date.now;
  }

  get cacheEntries(): number {
    return this.cache.size;
  }

  /** The upstream answer, or undefined when no upstream answered (the caller sends SERVFAIL). */
  async lookup(q: ForwardQuestion): Promise<ForwardedAnswer | undefined> {
    const key = `${q.name.toLowerCase().replace(/\.$/, '')}|${q.type}|${q.class ?? 'IN'}`;
    const hit = this.fromCache(key);
    if (hit) return hit;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.ask(q).then((a) => {
        this.inflight.delete(key);
        if (a) this.store(key, a);
        return a;
      });
      this.inflight.set(key, p);
    }
    return p;
  }

  close(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.resolve(undefined);
      this.pending.delete(id);
    }
    this.sockets.udp4?.close();
    this.sockets.udp6?.close();
    this.sockets.udp4 = this.sockets.udp6 = undefined;
  }

  private async ask(q: ForwardQuestion): Promise<ForwardedAnswer | undefined> {
    for (const up of this.upstreams) {
      if (this.closed) return undefined;
      this.stats.upstreamQueries++;
      let res = await this.askUdp(up, q);
      if (res && res.flag_tc) res = await this.askTcp(up, q);
      if (!res) continue;
      const rcode = res.flags! & 0xf;
      // SERVFAIL and REFUSED mean this upstream cannot help: try the next one.
      if (rcode !== RCODE_NOERROR && rcode !== RCODE_NXDOMAIN && up !== this.upstreams.at(-1)) continue;
      return {
        rcode,
        answers: res.answers ?? [],
        authorities: res.authorities ?? [],
        additionals: (res.additionals ?? []).filter((a) => a.type !== 'OPT'),
        fromCache: false,
      };
    }
    this.stats.failures++;
    return undefined;
  }

  private query(id: number, q: ForwardQuestion): Packet {
    return {
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: q.name, type: q.type, class: q.class ?? 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: ADVERTISED_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    };
  }

  private socket(family: 4 | 6): Socket {
    const key = family === 4 ? 'udp4' : 'udp6';
    let s = this.sockets[key];
    if (!s) {
      s = createSocket(key);
      s.on('message', (msg, rinfo) => this.onUpstreamMessage(msg, rinfo.address, rinfo.port));
      s.on('error', () => {
        /* a send error surfaces as a timeout of that query */
      });
      s.unref();
      this.sockets[key] = s;
    }
    return s;
  }

  private onUpstreamMessage(msg: Buffer, address: string, port: number): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Only the upstream that was asked may answer (a spoofed or stray reply is dropped).
    if (!p || p.upstream.host !== address || p.upstream.port !== port) return;
    let decoded: DecodedPacket;
    try {
      decoded = dnsPacket.decode(msg);
    } catch {
      return;
    }
    // The reply must be to the question asked (a cheap guard against spoofed answers).
    if (decoded.type !== 'response' || !sameQuestion(decoded, p.question)) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(decoded);
  }

  private askUdp(up: Upstream, q: ForwardQuestion): Promise<DecodedPacket | undefined> {
    return new Promise((resolve) => {
      if (this.pending.size >= MAX_PENDING) return resolve(undefined);
      let id = randomInt(0, 0x10000);
      for (let i = 0; this.pending.has(id) && i < 100; i++) id = randomInt(0, 0x10000);
      if (this.pending.has(id)) return resolve(undefined);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.pending.set(id, { resolve, upstream: up, question: q, timer });
      const buf = dnsPacket.encode(this.query(id, q));
      this.socket(isIP(up.host) === 6 ? 6 : 4).send(buf, up.port, up.host, (err) => {
        if (err && this.pending.get(id)?.timer === timer) {
          this.pending.delete(id);
          clearTimeout(timer);
          resolve(undefined);
        }
      });
    });
  }

  private askTcp(up: Upstream, q: ForwardQuestion): Promise<DecodedPacket | undefined> {
    return new Promise((resolve) => {
      const id = randomInt(0, 0x10000);
      const sock = connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      const done = (p: DecodedPacket | undefined) => {
        sock.destroy();
        resolve(p);
      };
      sock.setTimeout(this.timeoutMs, () => done(undefined));
      sock.on('error', () => done(undefined));
      sock.on('connect', () => sock.write(dnsPacket.streamEncode(this.query(id, q))));
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        try {
          const p = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          done(p.id === id && sameQuestion(p, q) ? p : undefined);
        } catch {
          done(undefined);
        }
      });
      sock.on('end', () => done(undefined));
    });
  }

  private fromCache(key: string): ForwardedAnswer | undefined {
    const e = this.cache.get(key);
    if (!e) return undefined;
    const now = this.now();
    if (now >= e.expiresAt) {
      this.cache.delete(key);
      return undefined;
    }
    this.stats.cacheHits++;
    // Refresh its place in the eviction order.
    this.cache.delete(key);
    this.cache.set(key, e);
    const aged = Math.floor((now - e.storedAt) / 1000);
    const age = (rs: Answer[]) => rs.map((r) => (r.type === 'OPT' ? r : { ...r, ttl: Math.max(0, (r.ttl ?? 0) - aged) }) as Answer);
    return { rcode: e.answer.rcode, answers: age(e.answer.answers), authorities: age(e.answer.authorities), additionals: age(e.answer.additionals), fromCache: true };
  }

  private store(key: string, a: ForwardedAnswer): void {
    if (!this.cacheMs) return;
    let ttl: number | undefined;
    if (a.rcode === RCODE_NOERROR && a.answers.length) {
      ttl = Math.min(...a.answers.map((r) => (r.type === 'OPT' ? Infinity : (r.ttl ?? 0))));
    } else if (a.rcode === RCODE_NXDOMAIN || a.rcode === RCODE_NOERROR) {
      const soa = a.authorities.find((r) => r.type === 'SOA');
      if (soa && soa.type === 'SOA') ttl = Math.min(soa.ttl ?? 0, soa.data.minimum ?? 0);
    }
    if (!ttl || !Number.isFinite(ttl) || ttl <= 0) return;
    const now = this.now();
    const { fromCache: _, ...answer } = a;
    this.cache.delete(key);
    this.cache.set(key, { answer, storedAt: now, expiresAt: now + Math.min(ttl * 1000, this.cacheMs) });
    while (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
  }
}
