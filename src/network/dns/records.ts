// Cluster DNS records: what CoreDNS's kubernetes plugin answers for the cluster zone, computed from
// Services, EndpointSlices (discovery.k8s.io/v1) and Pods. Pure: it reads a RecordSource and
// returns sections; the server does the wire format, forwarding and truncation.
// Spec: https://github.com/kubernetes/dns/blob/master/docs/specification.md (schema 1.1.0).

import type { Answer, RecordType, SrvAnswer } from 'dns-packet';
import { isIP } from 'node:net';
import type { KubeObject } from '../../api/meta/v1.js';

export const DNS_SCHEMA_VERSION = '1.1.0';
/** CoreDNS's default TTL for the kubernetes plugin. */
export const DEFAULT_TTL = 5;
/** The TTL CoreDNS gives the dns-version TXT record. */
const SCHEMA_VERSION_TTL = 28800;
/** How many in-zone CNAME hops are followed (CoreDNS stops after 8 records). */
const MAX_CNAME_CHAIN = 8;
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** `pods` option of the kubernetes plugin: disabled, insecure (any IP-shaped name), verified. */
export type PodsMode = 'disabled' | 'insecure' | 'verified';

/** The lookups the resolver needs; an informer-backed and an array-backed implementation below. */
export interface RecordSource {
  namespaceExists(namespace: string): boolean;
  service(namespace: string, name: string): KubeObject | undefined;
  /** The EndpointSlices labelled kubernetes.io/service-name=name in the namespace. */
  endpointSlices(namespace: string, serviceName: string): KubeObject[];
  servicesByClusterIP(ip: string): KubeObject[];
  endpointSlicesByAddress(ip: string): KubeObject[];
  podsByIP(ip: string): KubeObject[];
  /** Unix seconds of the last change seen: the SOA serial, as CoreDNS does. */
  modified(): number;
}

export interface ResolverOptions {
  /** The cluster domain, e.g. cluster.local. */
  zone?: string;
  ttl?: number;
  pods?: PodsMode;
  /** Addresses of the cluster DNS service itself, for `ns.dns.<zone>` and the apex NS record. */
  nameservers?: () => string[];
}

export interface Question {
  name: string;
  type: RecordType;
}

export interface Resolution {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** An ExternalName target outside the zone: the server resolves it upstream and appends the answers. */
  chase?: Question;
}

/** One address (or ExternalName target) a service name stands for, with the port it was found under. */
interface Item {
  host: string;
  /** -1 when the object has no ports (CoreDNS's sentinel): such items make no SRV records. */
  port: number;
  /** The owner name of the SRV target and its address record. */
  target: string;
  cname?: boolean;
}

interface ParsedName {
  kind: 'apex' | 'nodata' | 'nxdomain' | 'svc' | 'pod';
  namespace?: string;
  service?: string;
  endpoint?: string;
  port?: string;
  protocol?: string;
}

export class ClusterResolver {
  readonly zone: string;
  readonly ttl: number;
  private readonly podsMode: PodsMode;
  private readonly nameservers: () => string[];

  constructor(
    private readonly source: RecordSource,
    opts: ResolverOptions = {},
  ) {
    this.zone = normalize(opts.zone ?? 'cluster.local');
    this.ttl = opts.ttl ?? DEFAULT_TTL;
    this.podsMode = opts.pods ?? 'insecure';
    this.nameservers = opts.nameservers ?? (() => []);
  }

  /** True for names in the cluster zone (answered here, never forwarded). */
  inZone(name: string): boolean {
    const n = normalize(name);
    return n === this.zone || n.endsWith(`.${this.zone}`);
  }

  /**
   * The answer for a question, or undefined when it is not the cluster's to answer: names outside
   * the zone, and reverse names of addresses no Service or endpoint has (CoreDNS's
   * `fallthrough in-addr.arpa ip6.arpa`).
   */
  resolve(q: Question): Resolution | undefined {
    const name = normalize(q.name);
    if (isReverseName(name)) return this.reverse(q, name);
    if (!this.inZone(name)) return undefined;
    return this.forward(q, name, 0);
  }

  /** The SOA record of the zone, as put in the authority section of negative answers. */
  soa(): Answer {
    return {
      type: 'SOA',
      name: this.zone,
      ttl: Math.min(this.ttl, 300),
      data: {
        mname: `ns.dns.${this.zone}`,
        rname: `hostmaster.${this.zone}`,
        serial: this.source.modified() >>> 0,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: this.ttl,
      },
    };
  }

  private forward(q: Question, name: string, depth: number): Resolution {
    const base = name === this.zone ? '' : name.slice(0, -(this.zone.length + 1));
    if (base === '') return this.apex(q);
    if (base === 'dns-version' && q.type === 'TXT') {
      return ok([{ type: 'TXT', name: q.name, ttl: SCHEMA_VERSION_TTL, data: DNS_SCHEMA_VERSION }]);
    }
    if (base === 'ns.dns') {
      const answers: Answer[] = [];
      for (const ip of this.nameservers()) if (addressType(ip) === q.type) answers.push({ type: q.type as 'A', name: q.name, ttl: this.ttl, data: ip });
      return answers.length ? ok(answers) : this.negative('NOERROR');
    }
    const p = parseName(base);
    if (p.kind === 'nxdomain') return this.negative('NXDOMAIN');
    if (p.kind === 'nodata') return this.negative('NOERROR');
    if (!p.service) return this.negative(this.source.namespaceExists(p.namespace!) ? 'NOERROR' : 'NXDOMAIN');
    if (!this.source.namespaceExists(p.namespace!)) return this.negative('NXDOMAIN');
    const items = p.kind === 'pod' ? this.podItems(p) : this.serviceItems(p);
    if (!items) return this.negative('NXDOMAIN');
    return this.recordsFor(q, items, depth);
  }

  private apex(q: Question): Resolution {
    if (q.type === 'SOA') return ok([{ ...this.soa(), name: q.name }]);
    if (q.type === 'NS') {
      const ns = `ns.dns.${this.zone}`;
      const ips = this.nameservers();
      if (ips.length) {
        const additionals = ips.filter((ip) => isIP(ip)).map((ip): Answer => ({ type: isIP(ip) === 4 ? 'A' : 'AAAA', name: ns, ttl: this.ttl, data: ip }));
        return { ...ok([{ type: 'NS', name: q.name, ttl: this.ttl, data: ns }]), additionals };
      }
    }
    return this.negative('NOERROR');
  }

  /** Records of the asked type from the items a name stands for; NODATA when there are none of it. */
  private recordsFor(q: Question, items: Item[], depth: number): Resolution {
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    let chase: Question | undefined;
    switch (q.type) {
      case 'A':
      case 'AAAA':
      case 'TXT': {
        const seen = new Set<string>();
        for (const it of items) {
          if (it.cname) {
            const cname: Answer = { type: 'CNAME', name: q.name, ttl: this.ttl, data: it.host };
            if (normalize(it.host) === normalize(q.name)) continue;
            if (this.inZone(it.host)) {
              if (depth >= MAX_CNAME_CHAIN) continue;
              const next = this.forward({ name: it.host, type: q.type }, normalize(it.host), depth + 1);
              if (next.answers.length) answers.push(cname, ...next.answers);
              chase ??= next.chase;
            } else {
              answers.push(cname);
              chase ??= { name: it.host, type: q.type };
            }
            continue;
          }
          if (addressType(it.host) !== q.type || seen.has(it.host)) continue;
          seen.add(it.host);
          answers.push({ type: q.type as 'A', name: q.name, ttl: this.ttl, data: it.host });
        }
        break;
      }
      case 'CNAME':
        if (items[0]?.cname) answers.push({ type: 'CNAME', name: q.name, ttl: this.ttl, data: items[0].host });
        break;
      case 'SRV': {
        const usable = items.filter((it) => !it.cname && it.port >= 0);
        // Every target has priority 0 and an equal share of 100, as CoreDNS computes it.
        const weight = Math.max(1, Math.floor(100 / usable.length));
        const seenSrv = new Set<string>();
        const seenAddr = new Set<string>();
        for (const it of usable) {
          const srvKey = `${it.target}|${it.port}`;
          if (!seenSrv.has(srvKey)) {
            seenSrv.add(srvKey);
            answers.push({ type: 'SRV', name: q.name, ttl: this.ttl, data: { priority: 0, weight, port: it.port, target: it.target } } satisfies SrvAnswer);
          }
          const addrKey = `${it.target}|${it.host}`;
          const type = addressType(it.host);
          if (type && !seenAddr.has(addrKey)) {
            seenAddr.add(addrKey);
            additionals.push({ type, name: it.target, ttl: this.ttl, data: it.host });
          }
        }
        break;
      }
      default:
        break;
    }
    if (!answers.length && !chase) return this.negative('NOERROR');
    return { rcode: 'NOERROR', answers, authorities: [], additionals, ...(chase ? { chase } : {}) };
  }

  private serviceItems(p: ParsedName): Item[] | undefined {
    const svc = this.source.service(p.namespace!, p.service!);
    if (!svc) return undefined;
    const svcName = `${p.service}.${p.namespace}.svc.${this.zone}`;
    const items: Item[] = [];
    if (svc.spec?.type === 'ExternalName') {
      const target = String(svc.spec.externalName ?? '').replace(/\.$/, '');
      // An ExternalName has no endpoints, and an IP-shaped externalName is no CNAME target.
      if (p.endpoint || !target || isIP(target)) return undefined;
      return [{ host: target, port: -1, target: svcName, cname: true }];
    }
    const headless = svc.spec?.clusterIP === 'None';
    if (headless || p.endpoint) {
      for (const slice of this.source.endpointSlices(p.namespace!, p.service!)) {
        if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
        const ports = slicePorts(slice);
        for (const ep of (slice.endpoints ?? []) as SliceEndpoint[]) {
          if (ep.conditions?.ready === false) continue;
          for (const ip of ep.addresses ?? []) {
            const host = endpointHostname(ep, ip);
            if (p.endpoint && p.endpoint !== host.toLowerCase()) continue;
            for (const port of ports) {
              if (!portMatches(p, port.name, port.protocol)) continue;
              items.push({ host: ip, port: port.port, target: `${host}.${svcName}` });
            }
          }
        }
      }
      return items.length ? items : undefined;
    }
    const ips: string[] = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
    const ports = (svc.spec?.ports ?? []).length
      ? (svc.spec.ports as { name?: string; port: number; protocol?: string }[]).map((sp) => ({ name: sp.name ?? '', port: sp.port, protocol: sp.protocol ?? 'TCP' }))
      : [{ name: '', port: -1, protocol: '' }];
    let matched = false;
    for (const port of ports) {
      if (!portMatches(p, port.name, port.protocol)) continue;
      matched = true;
      for (const ip of ips) items.push({ host: ip, port: port.port, target: svcName });
    }
    return matched ? items : undefined;
  }

  private podItems(p: ParsedName): Item[] | undefined {
    if (this.podsMode === 'disabled' || p.endpoint || p.port) return undefined;
    const label = p.service!;
    // a-b-c-d is IPv4; otherwise dashes stand for the colons of an IPv6 address.
    const ip = (label.split('-').length === 4 && !label.includes('--') ? label.replaceAll('-', '.') : label.replaceAll('-', ':')).toLowerCase();
    if (!isIP(ip)) return undefined;
    if (this.podsMode === 'verified' && !this.source.podsByIP(ip).some((pod) => pod.metadata.namespace === p.namespace)) return undefined;
    return [{ host: ip, port: -1, target: `${label}.${p.namespace}.pod.${this.zone}` }];
  }

  private reverse(q: Question, name: string): Resolution | undefined {
    if (q.type !== 'PTR') return undefined;
    const ip = addressFromReverse(name);
    if (!ip) return undefined;
    const names: string[] = [];
    const svc = this.source.servicesByClusterIP(ip)[0];
    if (svc) names.push(`${svc.metadata.name}.${svc.metadata.namespace}.svc.${this.zone}`);
    else {
      for (const slice of this.source.endpointSlicesByAddress(ip)) {
        const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
        if (!svcName) continue;
        for (const ep of (slice.endpoints ?? []) as SliceEndpoint[]) {
          if (ep.conditions?.ready === false || !ep.addresses?.includes(ip)) continue;
          const n = `${endpointHostname(ep, ip)}.${svcName}.${slice.metadata.namespace}.svc.${this.zone}`;
          if (!names.includes(n)) names.push(n);
        }
      }
    }
    if (!names.length) return undefined;
    return ok(names.map((n): Answer => ({ type: 'PTR', name: q.name, ttl: this.ttl, data: n })));
  }

  private negative(rcode: Resolution['rcode']): Resolution {
    return { rcode, answers: [], authorities: [this.soa()], additionals: [] };
  }
}

interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null };
  hostname?: string;
}

function ok(answers: Answer[]): Resolution {
  return { rcode: 'NOERROR', answers, authorities: [], additionals: [] };
}

/** Lower case, no trailing dot: the form every comparison uses. */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function addressType(ip: string): 'A' | 'AAAA' | undefined {
  const v = isIP(ip);
  return v === 4 ? 'A' : v === 6 ? 'AAAA' : undefined;
}

/** The endpoint's hostname, or its address with dashes (CoreDNS's name for endpoints without one). */
function endpointHostname(ep: SliceEndpoint, ip: string): string {
  if (ep.hostname) return ep.hostname;
  return ip.replaceAll('.', '-').replaceAll(':', '-');
}

function slicePorts(slice: KubeObject): { name: string; port: number; protocol: string }[] {
  const ports = (slice.ports ?? []) as { name?: string | null; port?: number | null; protocol?: string | null }[];
  if (!ports.length) return [{ name: '', port: -1, protocol: '' }];
  return ports.map((sp) => ({ name: sp.name ?? '', port: typeof sp.port === 'number' ? sp.port : -1, protocol: sp.protocol ?? 'TCP' }));
}

/** An absent port or protocol in the question matches any (CoreDNS's matchPortAndProtocol). */
function portMatches(p: ParsedName, name: string, protocol: string): boolean {
  return (p.port === undefined || p.port === name.toLowerCase()) && (p.protocol === undefined || p.protocol === protocol.toLowerCase());
}

/**
 * The labels left of the zone, read from the right as CoreDNS's parseRequest does:
 * `[_port._proto. | endpoint.] service.namespace.(svc|pod)`.
 */
function parseName(base: string): ParsedName {
  if (base === 'svc' || base === 'pod') return { kind: 'nodata' };
  const segs = base.split('.');
  const kind = segs.pop();
  if (kind !== 'svc' && kind !== 'pod') return { kind: 'nxdomain' };
  const namespace = segs.pop()!;
  const service = segs.pop();
  if (segs.length === 0) return { kind, namespace, service };
  if (segs.length === 1) return { kind, namespace, service, endpoint: segs[0] };
  if (segs.length === 2) return { kind, namespace, service, port: stripUnderscore(segs[0]), protocol: stripUnderscore(segs[1]) };
  return { kind: 'nxdomain' };
}

function stripUnderscore(s: string): string {
  return s.startsWith('_') ? s.slice(1) : s;
}

export function isReverseName(name: string): boolean {
  const n = normalize(name);
  return n.endsWith('.in-addr.arpa') || n.endsWith('.ip6.arpa');
}

/** The address a full reverse name stands for, or undefined (partial names are not addresses). */
export function addressFromReverse(name: string): string | undefined {
  const n = normalize(name);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return undefined;
    return parts.reverse().map(Number).join('.');
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups = hex.match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
    return canonicalIPv6(groups.join(':'));
  }
  return undefined;
}

/** The RFC 5952 text of an IPv6 address (the longest zero run as ::), so lookups match the API's form. */
export function canonicalIPv6(ip: string): string {
  const full = expandIPv6(ip);
  if (!full) return ip;
  const groups = full.map((g) => g.toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (full[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && full[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function expandIPv6(ip: string): number[] | undefined {
  if (isIP(ip) !== 6 || ip.includes('.')) return undefined;
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  if (ip.includes('::') ? missing < 1 : missing !== 0) return undefined;
  return [...h, ...Array(ip.includes('::') ? missing : 0).fill('0'), ...t].map((g) => parseInt(g, 16));
}

// ---- sources ----

const canonicalIP = (ip: string) => (isIP(ip) === 6 ? canonicalIPv6(ip.toLowerCase()) : ip);

export const indexFuncs = {
  clusterIP: (o: KubeObject): string[] => {
    const ips: string[] = o.spec?.clusterIPs?.length ? o.spec.clusterIPs : o.spec?.clusterIP ? [o.spec.clusterIP] : [];
    return ips.filter((ip) => isIP(ip)).map(canonicalIP);
  },
  serviceName: (o: KubeObject): string[] => {
    const n = o.metadata.labels?.[SERVICE_NAME_LABEL];
    return n ? [`${o.metadata.namespace}/${n}`] : [];
  },
  address: (o: KubeObject): string[] => {
    const out = new Set<string>();
    for (const ep of (o.endpoints ?? []) as SliceEndpoint[]) for (const a of ep.addresses ?? []) out.add(canonicalIP(a));
    return [...out];
  },
  podIP: (o: KubeObject): string[] => {
    const ips = ((o.status?.podIPs ?? []) as { ip: string }[]).map((p) => p.ip);
    if (o.status?.podIP && !ips.includes(o.status.podIP)) ips.push(o.status.podIP);
    return ips.map(canonicalIP);
  },
};

/** A RecordSource over plain arrays (tests, benchmarks), indexed; namespaces default to those of the objects. */
export function recordSourceFromObjects(objs: { services?: KubeObject[]; endpointSlices?: KubeObject[]; pods?: KubeObject[]; namespaces?: string[] }): RecordSource {
  const index = (items: KubeObject[], fn: (o: KubeObject) => string[]) => {
    const m = new Map<string, KubeObject[]>();
    for (const o of items) for (const k of fn(o)) m.set(k, [...(m.get(k) ?? []), o]);
    return (k: string) => m.get(k) ?? [];
  };
  const services = objs.services ?? [];
  const slices = objs.endpointSlices ?? [];
  const pods = objs.pods ?? [];
  const namespaces = new Set(objs.namespaces ?? [...services, ...slices, ...pods].map((o) => o.metadata.namespace!));
  const byName = index(services, (o) => [`${o.metadata.namespace}/${o.metadata.name}`]);
  const stamp = Math.floor(Date.now() / 1000);
  return {
    namespaceExists: (ns) => namespaces.has(ns),
    service: (ns, name) => byName(`${ns}/${name}`)[0],
    endpointSlices: ((f) => (ns: string, name: string) => f(`${ns}/${name}`))(index(slices, indexFuncs.serviceName)),
    servicesByClusterIP: index(services, indexFuncs.clusterIP),
    endpointSlicesByAddress: index(slices, indexFuncs.address),
    podsByIP: index(pods, indexFuncs.podIP),
    modified: () => stamp,
  };
}
