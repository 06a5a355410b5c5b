// The cluster DNS server: UDP and TCP (RFC 1035 §4.2: two-byte length prefix) on each listen
// address, answering the cluster zone and reverse names of cluster addresses from informer
// caches (records.ts), and forwarding everything else upstream (forwarder.ts).
// Protocol errors get the codes CoreDNS's server (miekg/dns) gives: responses are ignored, anything
// but one question → FORMERR, opcodes other than QUERY → NOTIMP, EDNS versions above 0 → BADVERS.

import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question as PacketQuestion } from 'dns-packet';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket as TcpSocket } from 'node:net';
import type { Client } from '../../client/client.js';
import { Forwarder } from './forwarder.js';
import { startMetricsServer, type MetricsServer } from '../metrics-endpoint.js';
import { renderMetrics } from './metrics.js';
import { informerRecordSource, type ClusterDNSInformers } from './informer-source.js';
import { ClusterResolver, type PodsMode, type RecordSource } from './records.js';
import { type Logger } from '../../machinery/logger.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port, the same for UDP and TCP. */
  port: number;
}

export interface ClusterDNSOptions {
  /** Reads Services, EndpointSlices, Namespaces (and Pods for `pods: 'verified'`) through informers. */
  client?: Client;
  /** Instead of a client: a ready RecordSource (tests, benchmarks). */
  source?: RecordSource;
  listen: ListenAddress[];
  clusterDomain?: string;
  /** host:port of upstream resolvers for names outside the cluster; loopback ones in tests. */
  upstreams?: string[];
  /** Longest time a forwarded answer is cached (0: no cache). Default 30, as kubeadm's Corefile. */
  cacheSeconds?: number;
  ttl?: number;
  pods?: PodsMode;
  /** The cluster DNS Service's addresses, answered for ns.dns.<zone> and the apex NS. */
  nameservers?: string[];
  upstreamTimeoutMs?: number;
  /** Where to serve Prometheus metrics (/metrics) and /health, as CoreDNS does on :9153. */
  metrics?: ListenAddress;
  log?: Logger;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** BADVERS is an extended rcode (16): its upper bits travel in the OPT record. */
const BADVERS_EXTENDED = 16 >> 4;
const QR_RESPONSE = 1 << 15;
const OPCODE_MASK = 0xf << 11;
const CLASSIC_UDP_SIZE = 512;
/** What this server advertises and accepts as an EDNS UDP size (DNS flag day 2020). */
const MAX_UDP_SIZE = 1232;
/** Larger queries are not real queries (one question, at most an OPT record). */
const MAX_QUERY_BYTES = 1024;
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 512;
const MAX_TCP_BACKLOG_BYTES = 1 << 20;
const SYNC_WAIT_MS = 5000;

const noopLog: Logger = { info() {}, warn() {}, error() {}, debug() {} };

export interface ClusterDNSStats {
  queries: number;
  udpQueries: number;
  tcpQueries: number;
  clusterAnswers: number;
  forwarded: number;
  formErrors: number;
  servFails: number;
}

export class ClusterDNS {
  readonly resolver: ClusterResolver;
  readonly forwarder: Forwarder;
  readonly stats: ClusterDNSStats = { queries: 0, udpQueries: 0, tcpQueries: 0, clusterAnswers: 0, forwarded: 0, formErrors: 0, servFails: 0 };
  private readonly informers?: ClusterDNSInformers;
  private readonly log: Logger;
  private readonly abort = new AbortController();
  private readonly udp: Socket[] = [];
  private readonly tcp: Server[] = [];
  private readonly tcpConns = new Set<TcpSocket>();
  private readonly bound: { host: string; port: number }[] = [];
  private metricsServer?: MetricsServer;

  constructor(private readonly opts: ClusterDNSOptions) {
    if (!opts.client && !opts.source) throw new Error('ClusterDNS needs a client or a record source');
    if (!opts.listen?.length) throw new Error('ClusterDNS needs at least one listen address');
    for (const l of opts.listen) {
      if (!isIP(l.host)) throw new Error(`invalid DNS listen host ${JSON.stringify(l.host)}: want an IP address`);
      if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535) throw new Error(`invalid DNS listen port ${l.port}`);
    }
    this.log = opts.log ?? noopLog;
    this.informers = opts.source ? undefined : informerRecordSource(opts.client!, { pods: opts.pods, onError: (r, e) => this.log.warn({ resource: r, err: String(e) }, 'dns: watch failed') });
    const nameservers = opts.nameservers ?? [];
    this.resolver = new ClusterResolver(opts.source ?? this.informers!.source, { zone: opts.clusterDomain, ttl: opts.ttl, pods: opts.pods, nameservers: () => nameservers });
    this.forwarder = new Forwarder({ upstreams: opts.upstreams ?? [], cacheSeconds: opts.cacheSeconds, timeoutMs: opts.upstreamTimeoutMs });
  }

  /** The bound metrics address, when metrics are served. */
  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsServer?.address;
  }

  /** The bound addresses (UDP and TCP share each port). */
  get addresses(): { host: string; port: number }[] {
    return [...this.bound];
  }

  /** Starts the informers, waits up to 5 s for them (as CoreDNS does), then listens. */
  async start(): Promise<void> {
    if (this.informers) {
      this.informers.run(this.abort.signal);
      let timer: NodeJS.Timeout | undefined;
      const synced = await Promise.race([
        this.informers.waitForSync().then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), SYNC_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (!synced) this.log.warn({}, 'dns: starting with unsynced Kubernetes API caches');
    }
    try {
      for (const l of this.opts.listen) await this.listenOn(l);
    } catch (e) {
      await this.stop();
      throw new Error(`dns: cannot listen on ${this.opts.listen.map((l) => `${l.host}:${l.port}`).join(', ')}: ${(e as Error).message}`);
    }
    // Without its metrics endpoint (the port is taken, say) the DNS still serves.
    const m = this.opts.metrics;
    if (m) {
      this.metricsServer = await startMetricsServer({ render: () => renderMetrics(this), ...m, healthPath: '/health' }).catch((e: Error) => {
        this.log.warn({ err: e.message }, `dns: no metrics endpoint on ${m.host}:${m.port}`);
        return undefined;
      });
    }
    this.log.info({ listen: this.bound, zone: this.resolver.zone, upstreams: this.opts.upstreams ?? [] }, 'dns: serving');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.forwarder.close();
    await this.metricsServer?.close();
    this.metricsServer = undefined;
    for (const c of this.tcpConns) c.destroy();
    await Promise.all([
      ...this.udp.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))),
    ]);
    this.udp.length = this.tcp.length = this.bound.length = 0;
  }

  private async listenOn(l: ListenAddress): Promise<void> {
    // Port 0: let UDP pick, then take the same port for TCP (retrying if TCP finds it taken).
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(l.host, l.port);
      const port = udp.address().port;
      try {
        const tcp = await this.bindTcp(l.host, port);
        this.udp.push(udp);
        this.tcp.push(tcp);
        this.bound.push({ host: l.host, port });
        return;
      } catch (e) {
        await new Promise<void>((r) => udp.close(() => r()));
        if (l.port !== 0 || attempt >= 10) throw e;
      }
    }
  }

  private bindUdp(host: string, port: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(port, host, () => {
        s.off('error', reject);
        s.on('error', (e) => this.log.warn({ err: String(e) }, 'dns: udp socket error'));
        s.on('message', (msg, rinfo) => {
          void this.handle(msg, 'udp').then(
            (out) => out && s.send(out, rinfo.port, rinfo.address),
            (e) => this.log.error({ err: String(e) }, 'dns: query failed'),
          );
        });
        resolve(s);
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<Server> {
    return new Promise((resolve, reject) => {
      const srv = createServer((c) => this.onTcpConnection(c));
      srv.maxConnections = MAX_TCP_CONNECTIONS;
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        srv.on('error', (e) => this.log.warn({ err: String(e) }, 'dns: tcp server error'));
        resolve(srv);
      });
    });
  }

  private onTcpConnection(c: TcpSocket): void {
    this.tcpConns.add(c);
    c.setTimeout(TCP_IDLE_MS, () => c.destroy());
    c.on('error', () => c.destroy());
    c.on('close', () => this.tcpConns.delete(c));
    let buf = Buffer.alloc(0);
    c.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        // A frame without a DNS header cannot be answered: the stream is out of step, close it.
        if (len < 12) return void c.destroy();
        void this.handle(msg, 'tcp').then(
          (out) => {
            if (!out || c.destroyed) return;
            // A client that sends but never reads is cut off rather than buffered for.
            if (c.writableLength > MAX_TCP_BACKLOG_BYTES) return void c.destroy();
            const head = Buffer.alloc(2);
            head.writeUInt16BE(out.length);
            c.write(Buffer.concat([head, out]));
          },
          (e) => this.log.error({ err: String(e) }, 'dns: query failed'),
        );
      }
    });
  }

  /** One query in, one response out (undefined: nothing to send back). Never throws. */
  async handle(msg: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    this.stats.queries++;
    if (transport === 'udp') this.stats.udpQueries++;
    else this.stats.tcpQueries++;
    // Without a full header there is no ID to answer to.
    if (msg.length < 12) return undefined;
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & QR_RESPONSE) return undefined;
    const echo = flags & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
    if (msg.length > MAX_QUERY_BYTES) return this.formErr(id, echo);
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return this.formErr(id, echo);
    }
    const opcode = (flags & OPCODE_MASK) >> 11;
    const q = query.questions?.[0];
    if (opcode !== 0) return encodeSafe({ type: 'response', id, flags: echo | RCODE.NOTIMP, questions: query.questions?.length === 1 ? query.questions : [] });
    const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
    if (!q || query.questions!.length !== 1 || (query.answers?.length ?? 0) > 1 || (query.authorities?.length ?? 0) > 1 || (query.additionals?.length ?? 0) > 2 || opts.length > 1) {
      return this.formErr(id, echo);
    }
    // Names dns-packet cannot carry back unchanged (bytes that are not UTF-8) are refused as malformed.
    if (!representable(q.name)) return this.formErr(id, echo);
    const opt = opts[0];
    const respOpt: OptAnswer | undefined = opt ? { type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } : undefined;
    const base: Packet = { type: 'response', id, flags: echo | dnsPacket.RECURSION_AVAILABLE, questions: [q] };
    if (opt && opt.ednsVersion > 0) return encodeSafe({ ...base, additionals: [{ ...respOpt!, extendedRcode: BADVERS_EXTENDED }] });
    const limit = transport === 'tcp' ? 0xffff : opt ? Math.min(Math.max(opt.udpPayloadSize, CLASSIC_UDP_SIZE), MAX_UDP_SIZE) : CLASSIC_UDP_SIZE;
    const withOpt = (p: Packet): Packet => (respOpt ? { ...p, additionals: [...(p.additionals ?? []), respOpt] } : p);

    if (q.class !== 'IN' && q.class !== undefined) return encodeSafe(withOpt({ ...base, flags: base.flags! | RCODE.REFUSED }));

    let resp: Packet;
    try {
      resp = await this.answer(q, base);
    } catch (e) {
      this.log.error({ err: String(e), name: q.name, type: q.type }, 'dns: answering failed');
      resp = { ...base, flags: base.flags! | RCODE.SERVFAIL };
    }
    if ((resp.flags! & 0xf) === RCODE.SERVFAIL) this.stats.servFails++;
    return fit(withOpt(resp), limit);
  }

  private async answer(q: PacketQuestion, base: Packet): Promise<Packet> {
    const res = this.resolver.resolve({ name: q.name, type: q.type });
    if (res) {
      this.stats.clusterAnswers++;
      const answers = [...res.answers];
      if (res.chase && this.forwarder.upstreams.length) {
        // An ExternalName outside the zone: the CNAME plus what upstream says of its target.
        const up = await this.forwarder.lookup(res.chase);
        if (up) answers.push(...up.answers);
      }
      return {
        ...base,
        flags: base.flags! | dnsPacket.AUTHORITATIVE_ANSWER | RCODE[res.rcode],
        answers,
        authorities: res.authorities,
        additionals: res.additionals,
      };
    }
    if (!this.forwarder.upstreams.length) return { ...base, flags: base.flags! | RCODE.SERVFAIL };
    this.stats.forwarded++;
    const up = await this.forwarder.lookup({ name: q.name, type: q.type, class: q.class });
    if (!up) return { ...base, flags: base.flags! | RCODE.SERVFAIL };
    return { ...base, flags: base.flags! | up.rcode, answers: up.answers, authorities: up.authorities, additionals: up.additionals };
  }

  private formErr(id: number, echo: number): Buffer {
    this.stats.formErrors++;
    return dnsPacket.encode({ type: 'response', id, flags: echo | RCODE.FORMERR });
  }
}

function representable(name: string): boolean {
  if (name === '.') return true;
  if (name.includes('\uFFFD')) return false;
  return name.split('.').every((l) => l.length > 0 && Buffer.byteLength(l) <= 63);
}

/** Encodes, or a bare SERVFAIL when a record cannot be encoded (e.g. a malformed upstream record). */
function encodeSafe(p: Packet): Buffer {
  try {
    return dnsPacket.encode(p);
  } catch {
    const failed: Packet = { type: 'response', id: p.id, flags: ((p.flags ?? 0) & ~0xf) | RCODE.SERVFAIL };
    try {
      return dnsPacket.encode({ ...failed, questions: p.questions });
    } catch {
      return dnsPacket.encode(failed);
    }
  }
}

/**
 * Makes a response fit a UDP size: extra records go first (they need no TC bit), then answer and
 * authority records from the end, with TC set so the client retries over TCP (RFC 2181 §9).
 */
function fit(p: Packet, limit: number): Buffer {
  const out = encodeSafe(p);
  if (out.length <= limit) return out;
  const opt = (p.additionals ?? []).filter((a) => a.type === 'OPT');
  const trimmed: Packet = { ...p, additionals: opt };
  if (dnsPacket.encodingLength(trimmed) <= limit) return encodeSafe(trimmed);
  const answers: Answer[] = p.answers ?? [];
  let lo = 0;
  let hi = answers.length;
  // The most answers that fit, with no authority section.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (dnsPacket.encodingLength({ ...trimmed, answers: answers.slice(0, mid), authorities: [] }) <= limit) lo = mid;
    else hi = mid - 1;
  }
  return encodeSafe({ ...trimmed, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: answers.slice(0, lo), authorities: [] });
}
