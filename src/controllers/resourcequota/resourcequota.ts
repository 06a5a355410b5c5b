// The resource quota controller: keeps each ResourceQuota's status.hard (= spec.hard) and
// status.used current for the resources it limits: object counts (pods, services,
// services.nodeports, services.loadbalancers, configmaps, secrets, persistentvolumeclaims,
// replicationcontrollers, resourcequotas, count/<resource>[.<group>]) and compute of
// non-terminal pods (requests.cpu/cpu, requests.memory/memory, limits.cpu, limits.memory) and
// requests.storage of claims. Enforcement at admission is not built yet.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf } from '../../client/informer.js';
import { R, type GVR } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import { canonicalQuantity, quantityFrom, type Quantity } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';

const COUNTED: Record<string, GVR> = {
  pods: R.pods,
  services: R.services,
  configmaps: R.configmaps,
  secrets: R.secrets,
  persistentvolumeclaims: R.persistentvolumeclaims,
  replicationcontrollers: R.replicationcontrollers,
  resourcequotas: R.resourcequotas,
};

const terminal = (p: KubeObject) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

/** Sum of quantities in the first one's format, as upstream's Quantity.Add; "0" for none. */
function sum(qs: unknown[]): string {
  let total: Quantity | undefined;
  for (const q of qs) {
    try {
      const x = quantityFrom(q);
      total = total ? total.add(x) : x;
    } catch {
      // invalid quantities were rejected at admission
    }
  }
  return total ? canonicalQuantity(total) : '0';
}

function podQuantities(pods: KubeObject[], kind: 'requests' | 'limits', res: string): unknown[] {
  const out: unknown[] = [];
  for (const p of pods) {
    for (const c of p.spec?.containers ?? []) {
      const q = c.resources?.[kind]?.[res] ?? (kind === 'requests' ? c.resources?.limits?.[res] : undefined);
      if (q !== undefined) out.push(q);
    }
  }
  return out;
}

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';
  private readonly queue = new WorkQueue<string>();

  constructor(private readonly resyncMs = 5 * 60_000) {}

  start(ctx: ControllerContext): void {
    const quotas = ctx.informers.for(R.resourcequotas).addIndex('namespace', byNamespace);
    const bump = (o: KubeObject) => {
      for (const q of quotas.indexer.byIndex('namespace', o.metadata.namespace ?? '')) this.queue.add(keyOf(q));
    };
    quotas.addEventHandler({ add: (q) => this.queue.add(keyOf(q)), update: (o, q) => o.metadata.generation !== q.metadata.generation && this.queue.add(keyOf(q)) });
    for (const gvr of Object.values(COUNTED)) {
      if (gvr === R.resourcequotas) continue;
      ctx.informers.for(gvr).addIndex('namespace', byNamespace).addEventHandler({
        add: bump,
        delete: bump,
        update: (o, n) => {
          // Pods change compute use when their phase or resources change.
          if (gvr === R.pods && (terminal(o) !== terminal(n) || JSON.stringify(o.spec?.containers) !== JSON.stringify(n.spec?.containers))) bump(n);
          else if (gvr === R.services && o.spec?.type !== n.spec?.type) bump(n);
          else if (gvr === R.persistentvolumeclaims) bump(n);
        },
      });
    }
    const timer = setInterval(() => quotas.indexer.list().forEach((q) => this.queue.add(keyOf(q))), this.resyncMs);
    timer.unref();
    ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    startWorkers(ctx, this.queue, 'resourcequota', (k) => this.sync(ctx, k));
  }

  private list(ctx: ControllerContext, gvr: GVR, ns: string): KubeObject[] {
    return ctx.informers.for(gvr).indexer.byIndex('namespace', ns);
  }

  private async sync(ctx: ControllerContext, key: string): Promise<void> {
    const q = ctx.informers.for(R.resourcequotas).indexer.get(key);
    if (!q) return;
    const ns = q.metadata.namespace!;
    const hard = (q.spec?.hard ?? {}) as Record<string, string>;
    const used: Record<string, string> = {};
    const pods = () => this.list(ctx, R.pods, ns).filter((p) => !terminal(p) && !p.metadata.deletionTimestamp);
    for (const name of Object.keys(hard)) {
      if (name in COUNTED) used[name] = String(name === 'pods' ? pods().length : this.list(ctx, COUNTED[name], ns).length);
      else if (name === 'services.nodeports') {
        used[name] = String(this.list(ctx, R.services, ns).reduce((a, s) => a + (s.spec?.type === 'NodePort' || s.spec?.type === 'LoadBalancer' ? (s.spec?.ports ?? []).filter((p: { nodePort?: number }) => p.nodePort).length : 0), 0));
      } else if (name === 'services.loadbalancers') used[name] = String(this.list(ctx, R.services, ns).filter((s) => s.spec?.type === 'LoadBalancer').length);
      else if (name === 'cpu' || name === 'requests.cpu') used[name] = sum(podQuantities(pods(), 'requests', 'cpu'));
      else if (name === 'memory' || name === 'requests.memory') used[name] = sum(podQuantities(pods(), 'requests', 'memory'));
      else if (name === 'limits.cpu') used[name] = sum(podQuantities(pods(), 'limits', 'cpu'));
      else if (name === 'limits.memory') used[name] = sum(podQuantities(pods(), 'limits', 'memory'));
      else if (name === 'requests.storage') used[name] = sum(this.list(ctx, R.persistentvolumeclaims, ns).map((c) => c.spec?.resources?.requests?.storage ?? '0'));
      else if (name.startsWith('count/')) {
        const [plural, ...group] = name.slice('count/'.length).split('.');
        const gvr = Object.values(R).find((g) => g.plural === plural && g.group === group.join('.'));
        if (gvr) used[name] = String(ctx.informers.for(gvr).indexer.list().filter((o) => o.metadata.namespace === ns).length);
      }
    }
    if (JSON.stringify(q.status?.hard ?? {}) === JSON.stringify(hard) && JSON.stringify(q.status?.used ?? {}) === JSON.stringify(used)) return;
    try {
      await ctx.client.resource(R.resourcequotas).updateStatus({ ...q, status: { hard, used } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
