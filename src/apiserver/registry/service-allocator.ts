// Service ClusterIP and NodePort allocation, done by the API server on Service writes (upstream:
// pkg/registry/core/service/storage/alloc.go with the ipallocator and portallocator bitmaps).
//
// State: the allocator keeps no bitmap of its own that could drift. What is in use is derived,
// at each allocation, from the Services in the watch cache (which is loaded from the store at
// start and follows every write) plus the reservations this process has handed out and whose
// writes the cache has not shown yet. So a restart rebuilds the state from the stored Services,
// a deleted Service (or one whose type no longer needs a port) frees its values as soon as the
// cache sees the change, and concurrent creates in this process never get the same value because
// checking and reserving happen in one synchronous step.
//
// Two API servers on one etcd could still race (each reserves in memory only); see
// docs/architecture.md for the guard that would close that gap.

import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { type FieldError, fieldErr } from '../../machinery/field-errors.js';
import { allocatesNodePorts, needsClusterIP, needsHealthCheckNodePort, needsNodePorts, serviceClusterIPs, serviceNodePorts } from '../../api/builtin/service-fields.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// ---- ranges --------------------------------------------------------------------------------------

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Offsets 0..size-1 of a range; the first `staticSize` are preferred for requested values. */
interface Range {
  readonly size: number;
  /** Size of the lower band that dynamic allocation uses only when the upper band is full. */
  readonly staticSize: number;
}

/** An IPv4 service CIDR. Its network and broadcast addresses are never handed out. */
export class IPv4Range implements Range {
  readonly network: number;
  readonly prefix: number;
  readonly size: number;
  readonly staticSize: number;

  constructor(readonly cidr: string) {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
    const ip = m ? parseIPv4(m[1]) : undefined;
    const prefix = m ? Number(m[2]) : NaN;
    if (ip === undefined || !(prefix >= 8 && prefix <= 30)) throw new Error(`invalid service CIDR ${JSON.stringify(cidr)} (an IPv4 CIDR with a prefix of /8 to /30)`);
    this.prefix = prefix;
    const total = 2 ** (32 - prefix);
    this.network = ip - (ip % total);
    this.size = total - 2;
    // KEP-3070: a lower band kept for static IPs, between 16 and 256 addresses (1/16 of the range).
    this.staticSize = total <= 16 ? 0 : Math.min(256, Math.max(16, Math.floor(total / 16)));
  }

  /** The CIDR in canonical form (host bits cleared), as upstream prints the range. */
  toString(): string {
    return `${formatIPv4(this.network)}/${this.prefix}`;
  }

  offsetOf(ip: number): number | undefined {
    const off = ip - this.network - 1;
    return off >= 0 && off < this.size ? off : undefined;
  }

  ipAt(offset: number): number {
    return this.network + 1 + offset;
  }
}

/** A NodePort range, "30000-32767" (or a single port). */
export class PortRange implements Range {
  readonly base: number;
  readonly size: number;
  readonly staticSize: number;

  constructor(readonly spec: string) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!(lo >= 1 && hi <= 65535 && lo <= hi)) throw new Error(`invalid node port range ${JSON.stringify(spec)} (use e.g. 30000-32767)`);
    this.base = lo;
    this.size = hi - lo + 1;
    // KEP-3668: the static band is 1/32 of the range, between 16 and 128 ports.
    this.staticSize = this.size <= 16 ? 0 : Math.min(128, Math.max(16, Math.floor(this.size / 32)));
  }

  toString(): string {
    return `${this.base}-${this.base + this.size - 1}`;
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.base && port < this.base + this.size;
  }
}

/**
 * Picks a free offset: a random start in the upper (dynamic) band scanning forward, then the
 * lower band; undefined when the range is full.
 */
export function pickFree(range: Range, used: (offset: number) => boolean, random: () => number = Math.random): number | undefined {
  const bands: [number, number][] = [
    [range.staticSize, range.size],
    [0, range.staticSize],
  ];
  for (const [lo, hi] of bands) {
    const n = hi - lo;
    if (n <= 0) continue;
    const start = Math.floor(random() * n);
    for (let i = 0; i < n; i++) {
      const off = lo + ((start + i) % n);
      if (!used(off)) return off;
    }
  }
  return undefined;
}

// ---- the allocator -------------------------------------------------------------------------------

/** Settles the reservations of one write: commit with the write's revision, or revert. */
export interface AllocationTxn {
  commit(revision: number): void;
  revert(): void;
}

export interface ServiceAllocatorOptions {
  clusterIPRange: string;
  nodePortRange: string;
  /** Every stored Service (the watch cache). */
  services: () => Iterable<KubeObject>;
  /** The revision the `services` view has caught up with. */
  revision: () => number;
  random?: () => number;
}

interface Reservation {
  /** Set once the write is stored; the reservation ends when the cache reaches it. */
  revision?: number;
}

const invalid = (name: string, errs: FieldError[]) => StatusError.invalid('', 'Service', name, errs);

export class ServiceAllocator {
  readonly ipRange: IPv4Range;
  readonly portRange: PortRange;
  private readonly ipReservations = new Map<number, Reservation>();
  private readonly portReservations = new Map<number, Reservation>();
  private readonly random: () => number;

  constructor(private readonly opts: ServiceAllocatorOptions) {
    this.ipRange = new IPv4Range(opts.clusterIPRange);
    this.portRange = new PortRange(opts.nodePortRange);
    this.random = opts.random ?? Math.random;
  }

  /** IPs and ports in use: the stored Services, plus reservations whose writes the cache has not shown yet. */
  private inUse(): { ips: Set<number>; ports: Set<number> } {
    const rev = this.opts.revision();
    for (const m of [this.ipReservations, this.portReservations]) {
      for (const [k, r] of m) if (r.revision !== undefined && r.revision <= rev) m.delete(k);
    }
    const ips = new Set<number>(this.ipReservations.keys());
    const ports = new Set<number>(this.portReservations.keys());
    for (const svc of this.opts.services()) {
      for (const ip of serviceClusterIPs(svc)) {
        const n = parseIPv4(ip);
        if (n !== undefined) ips.add(n);
      }
      for (const p of serviceNodePorts(svc)) ports.add(p);
    }
    return { ips, ports };
  }

  /** Counts of values in use (for tests and metrics). */
  usage(): { ips: number; ports: number } {
    const u = this.inUse();
    return { ips: u.ips.size, ports: u.ports.size };
  }

  /** On create: IP families, ClusterIPs and NodePorts. Mutates `svc`; throws upstream's errors. */
  allocateCreate(svc: KubeObject, dryRun: boolean): AllocationTxn {
    const op = new Operation(this, dryRun);
    try {
      initIPFamilies(svc);
      const spec = svc.spec ?? {};
      if (needsClusterIP(svc) && spec.clusterIP !== 'None') this.allocClusterIP(op, svc);
      if (needsNodePorts(svc)) this.allocNodePorts(op, svc, []);
      if (needsHealthCheckNodePort(svc)) this.allocHealthCheck(op, svc);
    } catch (e) {
      op.revert();
      throw e;
    }
    return op;
  }

  /** On update: new values for what the change needs; released values free up when the cache sees the write. */
  allocateUpdate(svc: KubeObject, old: KubeObject, dryRun: boolean): AllocationTxn {
    const op = new Operation(this, dryRun);
    try {
      if (needsClusterIP(svc) && !needsClusterIP(old)) initIPFamilies(svc);
      if (needsClusterIP(svc) && !needsClusterIP(old) && svc.spec?.clusterIP !== 'None') this.allocClusterIP(op, svc);
      if (needsNodePorts(svc)) this.allocNodePorts(op, svc, needsNodePorts(old) ? serviceNodePorts(old) : []);
      if (needsHealthCheckNodePort(svc)) {
        const had = needsHealthCheckNodePort(old) ? old.spec?.healthCheckNodePort : undefined;
        if (!svc.spec.healthCheckNodePort || svc.spec.healthCheckNodePort !== had) this.allocHealthCheck(op, svc, had ? [had] : []);
      }
    } catch (e) {
      op.revert();
      throw e;
    }
    return op;
  }

  private allocClusterIP(op: Operation, svc: Obj): void {
    const spec = svc.spec;
    const requested: string | undefined = spec.clusterIPs?.[0] || spec.clusterIP || undefined;
    const used = op.used().ips;
    let ip: number;
    if (requested) {
      const n = parseIPv4(requested);
      const fail = (why: string): never => {
        const err = fieldErr.invalid('spec.clusterIPs', spec.clusterIPs ?? [requested], `failed to allocate IP ${requested}: ${why}`);
        err.renderedValue = `[]string{${((spec.clusterIPs ?? [requested]) as string[]).map((s) => JSON.stringify(s)).join(', ')}}`;
        throw invalid(svc.metadata?.name ?? '', [err]);
      };
      if (n === undefined || this.ipRange.offsetOf(n) === undefined) {
        fail(`the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.ipRange}`);
      }
      if (used.has(n!)) fail('provided IP is already allocated');
      ip = n!;
    } else {
      const off = pickFree(this.ipRange, (o) => used.has(this.ipRange.ipAt(o)), this.random);
      if (off === undefined) throw StatusError.internal('failed to allocate a serviceIP: range is full');
      ip = this.ipRange.ipAt(off);
    }
    op.reserveIP(ip);
    spec.clusterIP = formatIPv4(ip);
    spec.clusterIPs = [spec.clusterIP];
  }

  /** Upstream initNodePorts/updateNodePorts: requested ports are checked, missing ones allocated; ports of one number share a nodePort. */
  private allocNodePorts(op: Operation, svc: Obj, held: number[]): void {
    const name = svc.metadata?.name ?? '';
    const ports = (svc.spec.ports ?? []) as Obj[];
    const byServicePort = new Map<number, number>();
    const claimed = new Set<number>(held);
    const take = (np: number, i: number) => {
      if (claimed.has(np)) return;
      const why = !this.portRange.contains(np)
        ? `provided port is not in the valid range. The range of valid ports is ${this.portRange}`
        : op.used().ports.has(np)
          ? 'provided port is already allocated'
          : undefined;
      if (why) throw invalid(name, [fieldErr.invalid(`spec.ports[${i}].nodePort`, np, why)]);
      op.reservePort(np);
      claimed.add(np);
    };
    // Requested values first, so a dynamic pick never takes a port asked for later in the list.
    ports.forEach((p, i) => {
      if (p.nodePort) {
        take(p.nodePort, i);
        if (!byServicePort.has(p.port)) byServicePort.set(p.port, p.nodePort);
      }
    });
    for (const p of ports) {
      if (p.nodePort || !allocatesNodePorts(svc)) continue;
      const same = byServicePort.get(p.port);
      if (same) {
        p.nodePort = same;
        continue;
      }
      p.nodePort = this.nextPort(op);
      byServicePort.set(p.port, p.nodePort);
    }
  }

  private allocHealthCheck(op: Operation, svc: Obj, held: number[] = []): void {
    const want = svc.spec.healthCheckNodePort;
    if (want && held.includes(want)) return;
    if (want) {
      if (!this.portRange.contains(want) || op.used().ports.has(want)) {
        const why = this.portRange.contains(want) ? 'provided port is already allocated' : `provided port is not in the valid range. The range of valid ports is ${this.portRange}`;
        throw StatusError.internal(`failed to allocate requested HealthCheck NodePort ${want}: ${why}`);
      }
      op.reservePort(want);
      return;
    }
    svc.spec.healthCheckNodePort = this.nextPort(op);
  }

  private nextPort(op: Operation): number {
    const used = op.used().ports;
    const off = pickFree(this.portRange, (o) => used.has(this.portRange.base + o), this.random);
    if (off === undefined) throw StatusError.internal('failed to allocate a nodePort: range is full');
    const port = this.portRange.base + off;
    op.reservePort(port);
    return port;
  }

  /** @internal */
  snapshot(): { ips: Set<number>; ports: Set<number> } {
    return this.inUse();
  }

  /** @internal */
  reserve(kind: 'ip' | 'port', value: number): Reservation {
    const r: Reservation = {};
    (kind === 'ip' ? this.ipReservations : this.portReservations).set(value, r);
    return r;
  }

  /** @internal */
  unreserve(kind: 'ip' | 'port', value: number, r: Reservation): void {
    const m = kind === 'ip' ? this.ipReservations : this.portReservations;
    if (m.get(value) === r) m.delete(value);
  }
}

/** One write's reservations. A dry run checks against the real state but reserves nothing. */
class Operation implements AllocationTxn {
  private readonly held: { kind: 'ip' | 'port'; value: number; r: Reservation }[] = [];
  private view?: { ips: Set<number>; ports: Set<number> };

  constructor(
    private readonly alloc: ServiceAllocator,
    private readonly dryRun: boolean,
  ) {}

  used(): { ips: Set<number>; ports: Set<number> } {
    return (this.view ??= this.alloc.snapshot());
  }

  reserveIP(ip: number): void {
    this.used().ips.add(ip);
    if (!this.dryRun) this.held.push({ kind: 'ip', value: ip, r: this.alloc.reserve('ip', ip) });
  }

  reservePort(port: number): void {
    this.used().ports.add(port);
    if (!this.dryRun) this.held.push({ kind: 'port', value: port, r: this.alloc.reserve('port', port) });
  }

  commit(revision: number): void {
    for (const h of this.held) h.r.revision = revision;
  }

  revert(): void {
    for (const h of this.held) this.alloc.unreserve(h.kind, h.value, h.r);
    this.held.length = 0;
  }
}

/** Upstream initIPFamilyFields for a single-stack IPv4 cluster. */
function initIPFamilies(svc: Obj): void {
  const spec = svc.spec;
  if (!needsClusterIP(svc)) return;
  const headlessNoSelector = spec.clusterIP === 'None' && !Object.keys(spec.selector ?? {}).length;
  if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = headlessNoSelector ? 'RequireDualStack' : 'SingleStack';
  if (headlessNoSelector) {
    if (!spec.ipFamilies?.length) spec.ipFamilies = ['IPv4'];
    if (spec.ipFamilies.length < 2 && spec.ipFamilyPolicy !== 'SingleStack') spec.ipFamilies = [spec.ipFamilies[0], spec.ipFamilies[0] === 'IPv4' ? 'IPv6' : 'IPv4'];
    return;
  }
  const errs: FieldError[] = [];
  if (spec.ipFamilyPolicy === 'SingleStack' && (spec.clusterIPs?.length ?? 0) > 1) {
    errs.push(fieldErr.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
  }
  if (spec.ipFamilyPolicy === 'RequireDualStack') errs.push(fieldErr.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
  ((spec.ipFamilies ?? []) as string[]).forEach((f, i) => {
    if (f !== 'IPv4') errs.push(fieldErr.invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
  });
  if (errs.length) throw invalid(svc.metadata?.name ?? '', errs);
  if (!spec.ipFamilies?.length) spec.ipFamilies = ['IPv4'];
}
