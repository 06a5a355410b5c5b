// A built-in load balancer for type LoadBalancer Services, like k3s's ServiceLB: every node is a
// load balancer (the proxy already answers on node addresses for the Service's port), so the
// Service's status.loadBalancer.ingress lists the Ready nodes' addresses (ExternalIP when a node
// has one, else InternalIP). Services with spec.loadBalancerClass belong to another
// implementation and are left alone; a Service that stops being a LoadBalancer loses its ingress.
// Every LoadBalancer shares the node addresses, so a port can belong to one Service only: as
// with k3s's svclb pods and their hostPorts, the oldest Service that asks for a port/protocol
// gets it, and a later one asking for any taken port stays pending (no ingress) until it is free.
// Level-triggered and idempotent: several replicas (one per agent) compute the same status.

import { oldestFirst } from '../../api/meta/age.js';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import type { EventRecorder } from '../../client/events.js';
import { SharedInformer, type EventHandlers } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import type { Logger } from '../../machinery/logger.js';

interface Ingress {
  ip: string;
  ipMode: 'VIP';
}

/** The addresses a LoadBalancer Service should announce, given the cluster's Nodes. */
export function loadBalancerIngress(nodes: KubeObject[]): Ingress[] {
  const ips = new Set<string>();
  for (const n of nodes) {
    const status = (n.status ?? {}) as { conditions?: { type: string; status: string }[]; addresses?: { type: string; address: string }[] };
    if (!status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
    if ((n.spec as { unschedulable?: boolean } | undefined)?.unschedulable) continue;
    const addrs = status.addresses ?? [];
    const ext = addrs.filter((a) => a.type === 'ExternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address));
    const use = ext.length ? ext : addrs.filter((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address));
    for (const a of use) ips.add(a.address);
  }
  return [...ips].sort().map((ip) => ({ ip, ipMode: 'VIP' }));
}

/** The ingress the Service should have: undefined when this controller does not own it. */
export function desiredIngress(svc: KubeObject, ingress: Ingress[]): Ingress[] | undefined {
  const spec = (svc.spec ?? {}) as { type?: string; loadBalancerClass?: string };
  if (spec.loadBalancerClass) return undefined;
  return spec.type === 'LoadBalancer' ? ingress : [];
}

type Ports = { ports?: { port: number; protocol?: string }[] };
const portKeys = (svc: KubeObject) => ((svc.spec as Ports | undefined)?.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${p.port}`);

/**
 * The ingress every Service should have (undefined: not this controller's), with port claims:
 * LoadBalancers in creation order take their ports; one that meets a taken port gets none.
 */
export function desiredIngresses(services: KubeObject[], ingress: Ingress[]): Map<KubeObject, { want: Ingress[] | undefined; conflict?: string }> {
  const out = new Map<KubeObject, { want: Ingress[] | undefined; conflict?: string }>();
  const claimed = new Map<string, string>();
  for (const svc of [...services].sort(oldestFirst)) {
    const want = desiredIngress(svc, ingress);
    const keys = portKeys(svc);
    const taken = want?.length ? keys.find((k) => claimed.has(k)) : undefined;
    if (taken) {
      out.set(svc, { want: [], conflict: `port ${taken} is already used by the load balancer of Service ${claimed.get(taken)}` });
      continue;
    }
    if (want?.length) for (const k of keys) claimed.set(k, `${svc.metadata.namespace}/${svc.metadata.name}`);
    out.set(svc, { want });
  }
  return out;
}

const sameIngress = (a: { ip?: string; ipMode?: string }[] | undefined, b: Ingress[]) =>
  (a ?? []).length === b.length && (a ?? []).every((x, i) => x.ip === b[i].ip && (x.ipMode ?? 'VIP') === b[i].ipMode);

export class ServiceLBController {
  private readonly services: SharedInformer;
  private readonly nodes: SharedInformer;
  private dirty = true;
  private wake?: () => void;
  /** Port conflicts already reported as Events (until they are resolved). */
  private reported = new Set<string>();

  constructor(private readonly o: { client: Client; log: Logger; events?: EventRecorder; resyncMs?: number }) {
    const onError = (resource: string) => (err: unknown) => o.log.warn({ err: String(err), resource }, 'service load balancer cannot list/watch, retrying');
    this.services = new SharedInformer(o.client, R.services, { onError: onError('services') });
    this.nodes = new SharedInformer(o.client, R.nodes, { onError: onError('nodes') });
    const changed: EventHandlers = { add: () => this.poke(), update: () => this.poke(), delete: () => this.poke() };
    this.services.addEventHandler(changed);
    this.nodes.addEventHandler(changed);
  }

  private poke(): void {
    this.dirty = true;
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    void this.services.run(signal);
    void this.nodes.run(signal);
    await Promise.race([Promise.all([this.services.waitForSync(), this.nodes.waitForSync()]), new Promise((r) => signal.addEventListener('abort', r, { once: true }))]);
    while (!signal.aborted) {
      let waitMs = this.o.resyncMs ?? 30_000;
      if (this.dirty) {
        this.dirty = false;
        const failed = await this.syncAll();
        if (failed) {
          this.dirty = true;
          waitMs = 1_000;
        } else if (this.dirty) {
          // Changed while this pass ran: go again after a short coalescing pause.
          waitMs = 50;
        }
      }
      await new Promise<void>((resolve) => {
        let finished = false;
        let t = setTimeout(() => done(), waitMs);
        const wake = () => {
          // Coalesce a burst of events into one pass.
          clearTimeout(t);
          t = setTimeout(() => done(), 50);
        };
        const done = () => {
          if (finished) return;
          finished = true;
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          if (this.wake === wake) this.wake = undefined;
          resolve();
        };
        signal.addEventListener('abort', done, { once: true });
        this.wake = wake;
      });
    }
  }

  /** One pass over every Service; returns how many status writes failed. */
  async syncAll(): Promise<number> {
    const ingress = loadBalancerIngress(this.nodes.indexer.list());
    let failed = 0;
    const conflicts = new Set<string>();
    for (const [svc, { want, conflict }] of desiredIngresses(this.services.indexer.list(), ingress)) {
      if (conflict) {
        const key = `${svc.metadata.uid}\u0000${conflict}`;
        conflicts.add(key);
        if (!this.reported.has(key)) this.o.events?.event({ ...svc, apiVersion: 'v1', kind: 'Service' }, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: ${conflict}`);
      }
      const have = (svc.status as { loadBalancer?: { ingress?: Ingress[] } } | undefined)?.loadBalancer?.ingress;
      if (!want || sameIngress(have, want)) continue;
      try {
        await this.o.client
          .resource(R.services)
          .patch(svc.metadata.namespace, svc.metadata.name!, 'merge', { status: { loadBalancer: { ingress: want.length ? want : null } } }, { subresource: 'status' });
      } catch (e) {
        failed++;
        this.o.log.warn({ err: e instanceof Error ? e.message : String(e), service: `${svc.metadata.namespace}/${svc.metadata.name}` }, 'cannot update load balancer status');
      }
    }
    this.reported = conflicts;
    return failed;
  }
}
