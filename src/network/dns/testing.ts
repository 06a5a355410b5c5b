// Test fixtures for cluster DNS: API objects shaped as the controllers write them, and a stub
// upstream DNS server on loopback (UDP and TCP) that counts the questions it gets.

import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { KubeObject } from '../../api/meta/v1.js';

export function service(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

export interface TestEndpoint {
  ip: string;
  hostname?: string;
  ready?: boolean;
  pod?: string;
}

export function endpointSlice(ns: string, svc: string, name: string, endpoints: TestEndpoint[], ports: { name?: string; port: number; protocol?: string }[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
    })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

/** The upstream's zone: name → records (the name of each answer is filled in). */
export type StubZone = Record<string, { type: Answer['type']; ttl: number; data: unknown }[]>;

export interface StubUpstream {
  address: string;
  port: number;
  /** Questions seen, as `name/TYPE`. */
  seen: string[];
  stop(): Promise<void>;
}

/** A DNS server on 127.0.0.1 answering from `zone` (NXDOMAIN with an SOA for other names). */
export async function startStubUpstream(zone: StubZone, opts: { negativeTtl?: number } = {}): Promise<StubUpstream> {
  const seen: string[] = [];
  const answer = (msg: Buffer, limit: number): Buffer | undefined => {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions![0];
    seen.push(`${question.name}/${question.type}`);
    const records = zone[question.name.toLowerCase()];
    const answers = (records ?? []).filter((r) => r.type === question.type || r.type === 'CNAME').map((r) => ({ ...r, name: question.name }) as Answer);
    const resp: Packet = {
      type: 'response',
      id: q.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (records ? 0 : 3),
      questions: q.questions,
      answers,
      authorities: answers.length
        ? []
        : [{ type: 'SOA', name: 'example', ttl: 3600, data: { mname: 'ns.example', rname: 'admin.example', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: opts.negativeTtl ?? 30 } }],
    };
    const out = dnsPacket.encode(resp);
    if (out.length > limit) return dnsPacket.encode({ ...resp, flags: resp.flags! | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
    return out;
  };
  const udp: Socket = createSocket('udp4');
  udp.on('message', (msg, r) => {
    const opt = (() => {
      try {
        return dnsPacket.decode(msg).additionals?.find((a) => a.type === 'OPT');
      } catch {
        return undefined;
      }
    })();
    const out = answer(msg, opt && opt.type === 'OPT' ? opt.udpPayloadSize : 512);
    if (out) udp.send(out, r.port, r.address);
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const tcp: Server = createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('error', () => c.destroy());
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const out = answer(buf.subarray(2, 2 + len), 0xffff);
        buf = buf.subarray(2 + len);
        if (out) {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length);
          c.write(Buffer.concat([head, out]));
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    address: '127.0.0.1',
    port,
    seen,
    async stop() {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

/** Sends one raw datagram and returns the first reply (or undefined after timeoutMs). */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.send(msg, port, '127.0.0.1');
  });
}

/** A query packet for one question, optionally with an EDNS0 OPT record. */
export function queryPacket(name: string, type: Packet['questions'] extends (infer Q)[] | undefined ? (Q extends { type: infer T } ? T : never) : never, opts: { id?: number; edns?: number } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: 'IN' }],
    additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}
