// The disruption controller: keeps each PodDisruptionBudget's status current: healthy pods
// (ready, not being deleted), the desired number, expected pods (from the pods' controllers'
// scale when the budget is a percentage or maxUnavailable), disruptionsAllowed, and the
// DisruptionAllowed condition the eviction subresource reads. Expired disruptedPods entries
// (evictions the informer never saw happen, after 2 minutes) are dropped.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf, splitKey } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import { getScaledValueFromIntOrPercent } from '../../machinery/intstr.js';
import { labelSelectorAsSelector } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';
import { isPodReady } from '../endpoints/service-pods.js';

const DELETION_TIMEOUT_MS = 2 * 60_000;
const rfc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export class DisruptionController implements Controller {
  readonly name = 'disruption';
  private readonly queue = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    const pdbs = ctx.informers.for(R.poddisruptionbudgets).addIndex('namespace', byNamespace);
    const pods = ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    for (const r of [R.replicasets, R.statefulsets, R.replicationcontrollers, R.deployments]) ctx.informers.for(r);
    pdbs.addEventHandler({ add: (p) => this.queue.add(keyOf(p)), update: (_o, p) => this.queue.add(keyOf(p)) });
    const onPod = (p: KubeObject) => {
      for (const b of pdbs.indexer.byIndex('namespace', p.metadata.namespace!)) {
        try {
          if (labelSelectorAsSelector(b.spec?.selector).matches(p.metadata.labels ?? {})) this.queue.add(keyOf(b));
        } catch {
          // an invalid selector matches nothing
        }
      }
    };
    pods.addEventHandler({ add: onPod, update: (o, n) => (onPod(n), onPod(o)), delete: onPod });
    startWorkers(ctx, this.queue, 'disruption', (k) => this.sync(ctx, k));
  }

  /** Replicas of the pod's controller (following a ReplicaSet to its Deployment, as upstream). */
  private scaleOf(ctx: ControllerContext, pod: KubeObject): { uid: string; replicas: number } | undefined {
    const ref = pod.metadata.ownerReferences?.find((r) => r.controller);
    if (!ref) return undefined;
    const ns = pod.metadata.namespace!;
    const inf = (r: typeof R.replicasets) => ctx.informers.for(r).indexer.getByName(ns, ref.name);
    let owner: KubeObject | undefined;
    if (ref.kind === 'ReplicaSet') {
      owner = inf(R.replicasets);
      const dref = owner?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      const dep = dref ? ctx.informers.for(R.deployments).indexer.getByName(ns, dref.name) : undefined;
      if (dep) owner = dep;
    } else if (ref.kind === 'StatefulSet') owner = inf(R.statefulsets);
    else if (ref.kind === 'ReplicationController') owner = inf(R.replicationcontrollers);
    if (!owner) return undefined;
    return { uid: owner.metadata.uid!, replicas: owner.spec?.replicas ?? 1 };
  }

  private async sync(ctx: ControllerContext, key: string): Promise<void> {
    const pdb = ctx.informers.for(R.poddisruptionbudgets).indexer.get(key);
    if (!pdb || pdb.metadata.deletionTimestamp) return;
    const { namespace } = splitKey(key);
    const now = ctx.settings.now();
    let selected: KubeObject[] = [];
    try {
      const sel = labelSelectorAsSelector(pdb.spec?.selector);
      selected = ctx.informers.for(R.pods).indexer.byIndex('namespace', namespace!).filter((p) => sel.matches(p.metadata.labels ?? {}));
    } catch {
      selected = [];
    }
    const disrupted: Record<string, string> = {};
    let recheckMs = 0;
    for (const [name, when] of Object.entries((pdb.status?.disruptedPods ?? {}) as Record<string, string>)) {
      const pod = selected.find((p) => p.metadata.name === name);
      if (!pod || pod.metadata.deletionTimestamp) continue; // the eviction happened
      const age = now.getTime() - Date.parse(when);
      if (age < DELETION_TIMEOUT_MS) {
        disrupted[name] = when;
        recheckMs = Math.max(recheckMs, DELETION_TIMEOUT_MS - age);
      }
    }
    const healthy = selected.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p) && !(p.metadata.name! in disrupted)).length;
    let expected = selected.length;
    let desired = 0;
    const minAvailable = pdb.spec?.minAvailable;
    const maxUnavailable = pdb.spec?.maxUnavailable;
    if (maxUnavailable !== undefined || typeof minAvailable === 'string') {
      const owners = new Map<string, number>();
      let unmanaged = false;
      for (const p of selected) {
        const s = this.scaleOf(ctx, p);
        if (s) owners.set(s.uid, s.replicas);
        else unmanaged = true;
      }
      if (!unmanaged) expected = [...owners.values()].reduce((a, b) => a + b, 0);
      if (maxUnavailable !== undefined) desired = Math.max(0, expected - getScaledValueFromIntOrPercent(maxUnavailable, expected, true));
      else desired = getScaledValueFromIntOrPercent(minAvailable, expected, true);
    } else if (minAvailable !== undefined) {
      desired = Number(minAvailable);
    }
    const allowed = Math.max(0, healthy - desired);
    const old = pdb.status ?? {};
    const prevCond = (old.conditions ?? []).find((c: { type: string }) => c.type === 'DisruptionAllowed');
    const condStatus = allowed > 0 ? 'True' : 'False';
    const condition = {
      type: 'DisruptionAllowed',
      status: condStatus,
      reason: allowed > 0 ? 'SufficientPods' : 'InsufficientPods',
      message: '',
      observedGeneration: pdb.metadata.generation,
      lastTransitionTime: prevCond && prevCond.status === condStatus ? prevCond.lastTransitionTime : rfc(now),
    };
    const status = {
      ...(Object.keys(disrupted).length ? { disruptedPods: disrupted } : {}),
      disruptionsAllowed: allowed,
      currentHealthy: healthy,
      desiredHealthy: desired,
      expectedPods: expected,
      observedGeneration: pdb.metadata.generation,
      conditions: [condition],
    };
    const same =
      old.disruptionsAllowed === allowed &&
      old.currentHealthy === healthy &&
      old.desiredHealthy === desired &&
      old.expectedPods === expected &&
      old.observedGeneration === pdb.metadata.generation &&
      JSON.stringify(old.disruptedPods ?? {}) === JSON.stringify(disrupted) &&
      prevCond?.status === condStatus;
    if (!same) {
      try {
        await ctx.client.resource(R.poddisruptionbudgets).updateStatus({ ...pdb, status });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (recheckMs) this.queue.addAfter(key, recheckMs);
  }
}
