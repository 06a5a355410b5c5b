// The node agent's service proxy: keeps this node's iptables in line with Services and
// EndpointSlices, as upstream kube-proxy's iptables mode does. Informer events only mark the
// state dirty; a single loop syncs at most once per minSyncPeriod (coalescing bursts) and in
// any case every syncPeriod. Like upstream (MinimizeIPTablesRestore), a sync rewrites only the
// per-service chains whose text changed; a full rewrite (which re-reads iptables-save and removes
// whatever stale chains it finds) happens on the first sync, after a failure, when the canary
// chain has vanished (someone flushed the tables) and every fullSyncPeriod (1 h). Every sync is
// one `iptables-restore --noflush` transaction.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer, type EventHandlers } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { iptablesRunner, type IptablesRunner } from './iptables.js';
import { buildCleanupRules, buildRuleSet, CANARY_CHAIN, parseSave, renderRestore } from './rules.js';
import type { ServicePortInfo } from './service-ports.js';
import { type Logger } from '../../machinery/logger.js';

export interface ServiceProxyOptions {
  client: Client;
  nodeName: string;
  /** The node's addresses: NodePorts answer on them (and on 127.0.0.1). */
  nodeIPs: string[];
  /** The cluster's pod range (--cluster-cidr): traffic from outside it to ClusterIPs is masqueraded. */
  clusterCIDR?: string;
  /** Default: iptables of the host, or of `netns` when given. */
  iptables?: IptablesRunner;
  netns?: string;
  /** Resync period even without changes (default 30 s). */
  syncPeriodMs?: number;
  /** Full rewrite period (default 1 h): nftables makes rewriting 10k chains cost seconds. */
  fullSyncPeriodMs?: number;
  /** At most one sync per this period (default 1 s). */
  minSyncPeriodMs?: number;
  /** NodePorts on 127.0.0.1 (sets net.ipv4.conf.all.route_localnet=1), default true. */
  localhostNodePorts?: boolean;
  log: Logger;
}

export interface SyncStats {
  /** Wall time of the whole sync, and of rule building alone. */
  ms: number;
  buildMs: number;
  full: boolean;
  servicePorts: number;
  endpoints: number;
  chainsWritten: number;
  chainsDeleted: number;
  /** Size of the iptables-restore input. */
  bytes: number;
  conntrackDeleted: number;
}

interface UdpPort {
  dests: string[];
  nodePort?: number;
  endpoints: Set<string>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/([0-9]|[12]\d|3[0-2])$/;

export class ServiceProxy {
  private readonly services: SharedInformer;
  private readonly slices: SharedInformer;
  private readonly iptables: IptablesRunner;
  private readonly syncPeriodMs: number;
  private readonly minSyncPeriodMs: number;
  private readonly fullSyncPeriodMs: number;
  private lastFullAt = -Infinity;
  /** How many full rewrites succeeded (the first sync, repairs, hourly). */
  fullSyncs = 0;
  private readonly localhostNodePorts: boolean;
  /** Per-service chains applied by the last successful sync. */
  private previous?: Map<string, string>;
  private udpPorts = new Map<string, UdpPort>();
  private dirty = true;
  private lastSyncAt = 0;
  private wake?: () => void;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ServiceProxyOptions) {
    for (const ip of o.nodeIPs) if (!IPV4.test(ip)) throw new Error(`service proxy: node IP ${JSON.stringify(ip)} is not an IPv4 address`);
    if (o.clusterCIDR !== undefined && !IPV4_CIDR.test(o.clusterCIDR)) throw new Error(`service proxy: cluster CIDR ${JSON.stringify(o.clusterCIDR)} is not an IPv4 CIDR (a.b.c.d/n)`);
    this.iptables = o.iptables ?? iptablesRunner({ netns: o.netns });
    this.syncPeriodMs = o.syncPeriodMs ?? 30_000;
    this.minSyncPeriodMs = o.minSyncPeriodMs ?? 1_000;
    this.fullSyncPeriodMs = o.fullSyncPeriodMs ?? 3_600_000;
    this.localhostNodePorts = o.localhostNodePorts !== false;
    const onError = (resource: string) => (err: unknown) => o.log.warn({ err: String(err), resource }, 'service proxy cannot list/watch, retrying');
    this.services = new SharedInformer(o.client, R.services, { onError: onError('services') });
    this.slices = new SharedInformer(o.client, R.endpointslices, { onError: onError('endpointslices') });
    const changed: EventHandlers = { add: () => this.requestSync(), update: (a, b) => this.onUpdate(a, b), delete: () => this.requestSync() };
    this.services.addEventHandler(changed);
    this.slices.addEventHandler(changed);
  }

  private onUpdate(a: KubeObject, b: KubeObject): void {
    // Status-only churn of unrelated fields still resyncs: the diff of chain texts makes it cheap.
    if (a.metadata.resourceVersion !== b.metadata.resourceVersion) this.requestSync();
  }

  /** Marks the state changed; the loop syncs within minSyncPeriod. */
  requestSync(): void {
    this.dirty = true;
    this.wake?.();
  }

  get hasSynced(): boolean {
    return this.services.hasSynced && this.slices.hasSynced;
  }

  /** Runs the informers and the sync loop until the signal aborts. Rules stay in place afterwards (call cleanup() to remove them). */
  async run(signal: AbortSignal): Promise<void> {
    void this.services.run(signal);
    void this.slices.run(signal);
    await Promise.race([Promise.all([this.services.waitForSync(), this.slices.waitForSync()]), aborted(signal)]);
    if (signal.aborted) return;
    if (this.localhostNodePorts) {
      try {
        await this.iptables.setSysctl('net.ipv4.conf.all.route_localnet', '1');
      } catch (e) {
        this.o.log.warn({ err: String(e) }, 'cannot set net.ipv4.conf.all.route_localnet=1: NodePorts on 127.0.0.1 will not answer');
      }
    }
    let lastPeriodic = -Infinity;
    let failures = 0;
    while (!signal.aborted) {
      const now = Date.now();
      const periodic = now - lastPeriodic >= this.syncPeriodMs;
      let waitMs = lastPeriodic + this.syncPeriodMs - now;
      if (this.dirty || periodic) {
        const hold = this.lastSyncAt + this.minSyncPeriodMs - now;
        if (hold > 0) waitMs = hold;
        else {
          this.dirty = false;
          try {
            const stats = await this.syncNow();
            if (periodic) lastPeriodic = now;
            failures = 0;
            this.o.log.debug({ ...stats }, 'service proxy rules synced');
            continue;
          } catch (e) {
            failures++;
            this.dirty = true;
            this.o.log.error({ err: e instanceof Error ? e.message : String(e), failures }, 'service proxy sync failed, retrying');
            waitMs = Math.min(this.minSyncPeriodMs * 2 ** Math.min(failures, 5), this.syncPeriodMs);
          }
        }
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          if (this.wake === done) this.wake = undefined;
          resolve();
        };
        const t = setTimeout(done, Math.max(10, waitMs));
        signal.addEventListener('abort', done, { once: true });
        this.wake = done;
      });
    }
  }

  /** Syncs now (serialised with the loop); `full` rewrites every chain and re-reads iptables. */
  syncNow(opts: { full?: boolean } = {}): Promise<SyncStats> {
    const p = this.serial.then(async () => {
      let full = opts.full === true || !this.previous || Date.now() - this.lastFullAt >= this.fullSyncPeriodMs;
      if (!full && !((await this.iptables.chainExists('nat', CANARY_CHAIN)) && (await this.iptables.chainExists('filter', CANARY_CHAIN)))) {
        this.o.log.warn({}, 'service proxy rules were flushed by someone else, rewriting them all');
        full = true;
      }
      return this.sync(full);
    });
    this.serial = p.catch(() => {});
    return p;
  }

  private async sync(full: boolean): Promise<SyncStats> {
    const started = performance.now();
    this.lastSyncAt = Date.now();
    const rs = buildRuleSet({
      services: this.services.indexer.list(),
      endpointSlices: this.slices.indexer.list(),
      nodeName: this.o.nodeName,
      nodeIPs: this.o.nodeIPs,
      clusterCIDR: this.o.clusterCIDR,
      localhostNodePorts: this.localhostNodePorts,
    });
    const existing = full ? { nat: parseSave(await this.iptables.save('nat')), filter: parseSave(await this.iptables.save('filter')) } : undefined;
    const r = renderRestore(rs, { previous: full ? undefined : this.previous, existing, installJumps: full });
    const buildMs = performance.now() - started;
    const text = r.filter + r.nat;
    try {
      await this.iptables.restore(text);
    } catch (e) {
      this.previous = undefined;
      throw e;
    }
    this.previous = r.applied;
    if (full) {
      this.lastFullAt = Date.now();
      this.fullSyncs++;
    }
    const conntrackDeleted = await this.flushStaleUdp(rs.ports);
    return {
      ms: performance.now() - started,
      buildMs,
      full,
      servicePorts: rs.ports.length,
      endpoints: rs.ports.reduce((n, p) => n + p.allEndpoints.length, 0),
      chainsWritten: r.chainsWritten,
      chainsDeleted: r.chainsDeleted,
      bytes: Buffer.byteLength(text),
      conntrackDeleted,
    };
  }

  /**
   * UDP has no connection end: conntrack entries keep sending datagrams to an endpoint that is
   * gone, or (entries made while the port had no endpoints) past the DNAT. Delete those.
   */
  private async flushStaleUdp(ports: ServicePortInfo[]): Promise<number> {
    const now = new Map<string, UdpPort>();
    for (const p of ports) {
      if (p.protocol !== 'UDP') continue;
      now.set(`${p.name}/UDP`, { dests: [p.clusterIP, ...p.externalIPs, ...p.loadBalancerIPs], nodePort: p.nodePort, endpoints: new Set(p.allEndpoints.map((e) => e.ip)) });
    }
    const jobs: string[][] = [];
    for (const [key, before] of this.udpPorts) {
      const after = now.get(key);
      for (const ip of before.endpoints) {
        if (after?.endpoints.has(ip)) continue;
        for (const d of before.dests) jobs.push(['--orig-dst', d, '-p', 'udp', '--dst-nat', ip]);
        if (before.nodePort) jobs.push(['-p', 'udp', '--orig-port-dst', String(before.nodePort), '--dst-nat', ip]);
      }
    }
    for (const [key, after] of now) {
      const before = this.udpPorts.get(key);
      if (!after.endpoints.size || (before && before.endpoints.size)) continue;
      for (const d of after.dests) jobs.push(['--orig-dst', d, '-p', 'udp']);
      if (after.nodePort) jobs.push(['-p', 'udp', '--orig-port-dst', String(after.nodePort)]);
    }
    this.udpPorts = now;
    let deleted = 0;
    for (const args of jobs) {
      try {
        if (await this.iptables.conntrackDelete(args)) deleted++;
      } catch (e) {
        this.o.log.warn({ err: String(e), args }, 'conntrack cleanup failed');
      }
    }
    return deleted;
  }

  /** Removes every chain and jump of the proxy (other rules stay). */
  async cleanup(): Promise<void> {
    await this.serial;
    const text = buildCleanupRules({ nat: await this.iptables.save('nat'), filter: await this.iptables.save('filter') });
    if (text) await this.iptables.restore(text);
    this.previous = undefined;
    this.udpPorts.clear();
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
}
