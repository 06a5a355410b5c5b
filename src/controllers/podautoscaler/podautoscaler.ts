// The horizontal pod autoscaler (upstream's pkg/controller/podautoscaler), for Resource metrics:
// every sync period each HPA reads its target's `scale` subresource, the pods it selects and
// their usage from a MetricsSource, computes the replica count as upstream's replica calculator
// (ratio to target with 10% tolerance; pods without metrics assumed at 100% when scaling down
// and 0% when scaling up; unready pods ignored when scaling up), applies `behavior`
// (stabilization windows and rate policies) and min/max, writes the scale and the HPA status
// with upstream's conditions and events.

import type { KubeObject } from '../../api/meta/v1.js';
import { keyOf, splitKey } from '../../client/informer.js';
import { R, type GVR } from '../../client/resources.js';
import { ApiError, isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import { parseSelector } from '../../machinery/labels.js';
import { quantityFrom } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../context.js';
import { MetricsApiSource, type MetricsSource } from './metrics.js';

const TOLERANCE = 0.1;
const rfc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

const SCALABLE: Record<string, GVR> = {
  'apps/Deployment': R.deployments,
  'apps/ReplicaSet': R.replicasets,
  'apps/StatefulSet': R.statefulsets,
  '/ReplicationController': R.replicationcontrollers,
};

interface Policy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}
interface Rules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled';
  policies?: Policy[];
}

const DEFAULT_UP: Required<Rules> = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 15 }, { type: 'Percent', value: 100, periodSeconds: 15 }] };
const DEFAULT_DOWN: Required<Rules> = { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };

function milli(q: unknown): number {
  try {
    return quantityFrom(q).milliValue();
  } catch {
    return 0;
  }
}

function podReady(p: KubeObject): boolean {
  return p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

export interface ReplicaCalculation {
  replicas: number;
  utilization?: number;
  averageValueMilli: number;
}

/**
 * Upstream's GetResourceReplicas: `usage` (milli-units) by pod name for pods with metrics,
 * `requests` by pod name; target as utilization percent or average value (milli).
 */
export function calculateReplicas(
  current: number,
  pods: KubeObject[],
  usage: Map<string, number>,
  requests: Map<string, number>,
  target: { utilization?: number; averageValueMilli?: number },
): ReplicaCalculation {
  const ready: string[] = [];
  const unready: string[] = [];
  const missing: string[] = [];
  for (const p of pods) {
    const name = p.metadata.name!;
    if (p.metadata.deletionTimestamp || p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') continue;
    if (!usage.has(name)) missing.push(name);
    else if (!podReady(p)) unready.push(name);
    else ready.push(name);
  }
  const ratioOf = (names: string[], extra: (n: string) => number | undefined) => {
    let used = 0;
    let req = 0;
    for (const n of names) {
      used += extra(n) ?? usage.get(n) ?? 0;
      req += requests.get(n) ?? 0;
    }
    if (target.utilization !== undefined) {
      const util = req > 0 ? (used * 100) / req : 0;
      return { ratio: util / target.utilization, utilization: Math.round(util), avg: names.length ? used / names.length : 0 };
    }
    const avg = names.length ? used / names.length : 0;
    return { ratio: avg / (target.averageValueMilli || 1), utilization: undefined, avg };
  };
  if (!ready.length && !missing.length && !unready.length) return { replicas: 0, averageValueMilli: 0 };
  const base = ratioOf(ready, () => undefined);
  const rebalanceIgnored = unready.length > 0 && base.ratio > 1;
  if (!rebalanceIgnored && !missing.length) {
    if (Math.abs(1 - base.ratio) <= TOLERANCE) return { replicas: current, utilization: base.utilization, averageValueMilli: base.avg };
    return { replicas: Math.ceil(base.ratio * ready.length), utilization: base.utilization, averageValueMilli: base.avg };
  }
  // Fill in the pods without usable metrics in the direction that dampens the change.
  const scaleUp = base.ratio > 1;
  const fill = (n: string) => {
    if (missing.includes(n)) return scaleUp ? 0 : (target.utilization !== undefined ? requests.get(n) ?? 0 : target.averageValueMilli ?? 0);
    if (unready.includes(n)) return 0;
    return undefined;
  };
  const names = [...ready, ...missing, ...(rebalanceIgnored ? unready : [])];
  const adjusted = ratioOf(names, fill);
  if (Math.abs(1 - adjusted.ratio) <= TOLERANCE || (adjusted.ratio > 1) !== scaleUp) return { replicas: current, utilization: base.utilization, averageValueMilli: base.avg };
  const replicas = Math.ceil(adjusted.ratio * names.length);
  if ((scaleUp && replicas < current) || (!scaleUp && replicas > current)) return { replicas: current, utilization: base.utilization, averageValueMilli: base.avg };
  return { replicas, utilization: base.utilization, averageValueMilli: base.avg };
}

interface Recommendation {
  at: number;
  replicas: number;
}
interface ScaleEvent {
  at: number;
  delta: number;
}

export interface PodAutoscalerOptions {
  metrics?: MetricsSource;
  /** --horizontal-pod-autoscaler-sync-period (default 15 s). */
  syncPeriodMs?: number;
}

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontalpodautoscaling';
  private readonly queue = new WorkQueue<string>();
  private readonly recommendations = new Map<string, Recommendation[]>();
  private readonly scaleEvents = new Map<string, { up: ScaleEvent[]; down: ScaleEvent[] }>();

  constructor(private readonly opts: PodAutoscalerOptions = {}) {}

  start(ctx: ControllerContext): void {
    const hpas = ctx.informers.for(R.horizontalpodautoscalers);
    ctx.informers.for(R.pods);
    const metrics = this.opts.metrics ?? new MetricsApiSource(ctx.client);
    hpas.addEventHandler({
      add: (h) => this.queue.add(keyOf(h)),
      update: (o, h) => o.metadata.generation !== h.metadata.generation && this.queue.add(keyOf(h)),
      delete: (h) => {
        this.recommendations.delete(keyOf(h));
        this.scaleEvents.delete(keyOf(h));
      },
    });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    const period = this.opts.syncPeriodMs ?? 15_000;
    void (async () => {
      await ctx.informers.waitForSync();
      await runWorkers(
        this.queue,
        ctx.settings.workers,
        async (k) => {
          try {
            await this.sync(ctx, k, metrics);
          } finally {
            // Level-triggered on a timer, as upstream's resync.
            if (hpas.indexer.get(k)) this.queue.addAfter(k, period);
          }
        },
        (k, err) => ctx.log.debug({ err, k }, 'hpa: retry'),
      );
    })();
  }

  private async sync(ctx: ControllerContext, key: string, metrics: MetricsSource): Promise<void> {
    const hpa = ctx.informers.for(R.horizontalpodautoscalers).indexer.get(key);
    if (!hpa) return;
    const { namespace } = splitKey(key);
    const ref = hpa.spec?.scaleTargetRef ?? {};
    const group = String(ref.apiVersion ?? '').includes('/') ? String(ref.apiVersion).split('/')[0] : '';
    const gvr = SCALABLE[`${group}/${ref.kind}`];
    const recorder = ctx.recorder('horizontal-pod-autoscaler');
    const now = ctx.settings.now();
    const conditions = new Map<string, Record<string, unknown>>();
    const cond = (type: string, status: string, reason: string, message: string) => conditions.set(type, { type, status, reason, message });
    const finish = async (status: Record<string, unknown>) => {
      const old = (hpa.status?.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[];
      const conds = [...conditions.values()].map((c) => {
        const prev = old.find((o) => o.type === c.type);
        return { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : rfc(now) };
      });
      try {
        await ctx.client.resource(R.horizontalpodautoscalers).patch(namespace, hpa.metadata.name!, 'merge', { status: { ...status, observedGeneration: hpa.metadata.generation, conditions: conds } }, { subresource: 'status' });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    };
    if (!gvr) {
      cond('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: no matches for kind "${ref.kind}" in group "${group}"`);
      recorder.event(hpa, 'Warning', 'FailedGetScale', `no matches for kind "${ref.kind}" in group "${group}"`);
      return finish({ currentReplicas: hpa.status?.currentReplicas ?? 0, desiredReplicas: hpa.status?.desiredReplicas ?? 0 });
    }
    const scalePath = `${gvr.group ? `/apis/${gvr.group}/${gvr.version}` : '/api/v1'}/namespaces/${namespace}/${gvr.plural}/${encodeURIComponent(ref.name)}/scale`;
    let scale: KubeObject;
    try {
      scale = await ctx.client.request<KubeObject>('GET', scalePath);
    } catch (e) {
      const msg = e instanceof ApiError ? e.message : String(e);
      cond('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      return finish({ currentReplicas: hpa.status?.currentReplicas ?? 0, desiredReplicas: hpa.status?.desiredReplicas ?? 0 });
    }
    const current: number = scale.spec?.replicas ?? 0;
    const minReplicas: number = hpa.spec?.minReplicas ?? 1;
    const maxReplicas: number = hpa.spec?.maxReplicas ?? current;
    if (current === 0 && minReplicas > 0) {
      // Scaled to zero by hand: autoscaling is off until someone scales it up again.
      cond('AbleToScale', 'True', 'SucceededGetScale', 'the HPA controller was able to get the target\'s current scale');
      cond('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
      return finish({ currentReplicas: 0, desiredReplicas: 0 });
    }
    // Metrics: the largest recommendation over all metrics wins.
    let proposal = 0;
    let reason = '';
    const currentMetrics: unknown[] = [];
    let metricError: { reason: string; message: string } | undefined;
    const selector = scale.status?.selector ?? '';
    const pods = selector ? ctx.informers.for(R.pods).indexer.list().filter((p) => p.metadata.namespace === namespace && parseSelector(selector).matches(p.metadata.labels ?? {})) : [];
    for (const m of (hpa.spec?.metrics ?? [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }]) as Record<string, any>[]) { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (m.type !== 'Resource' && m.type !== 'ContainerResource') {
        metricError = { reason: `FailedGet${m.type}Metric`, message: `the HPA was unable to compute the replica count: ${m.type} metrics are not supported yet` };
        continue;
      }
      const res = m.resource ?? m.containerResource;
      const rname: string = res?.name ?? 'cpu';
      const t = res?.target ?? {};
      const utilization = t.type === 'Utilization' ? (t.averageUtilization as number) : undefined;
      const averageValueMilli = t.type === 'AverageValue' ? milli(t.averageValue) : undefined;
      let items;
      try {
        items = await metrics.podMetrics(namespace!, selector);
        if (!items.length) throw new Error(`unable to get metrics for resource ${rname}: no metrics returned from resource metrics API`);
      } catch (e) {
        const detail = e instanceof ApiError ? `unable to get metrics for resource ${rname}: unable to fetch metrics from resource metrics API: ${e.message}` : (e as Error).message;
        metricError = { reason: 'FailedGetResourceMetric', message: `the HPA was unable to compute the replica count: failed to get ${rname} utilization: ${detail}` };
        recorder.event(hpa, 'Warning', 'FailedGetResourceMetric', `failed to get ${rname} utilization: ${detail}`);
        continue;
      }
      const usage = new Map<string, number>();
      for (const it of items) {
        const cs = m.type === 'ContainerResource' ? it.containers.filter((c) => c.name === m.containerResource.container) : it.containers;
        usage.set(it.metadata.name, cs.reduce((a, c) => a + milli(c.usage[rname]), 0));
      }
      const requests = new Map<string, number>();
      let missingRequest: string | undefined;
      for (const p of pods) {
        let sum = 0;
        for (const c of p.spec?.containers ?? []) {
          if (m.type === 'ContainerResource' && c.name !== m.containerResource.container) continue;
          const r = c.resources?.requests?.[rname];
          if (r === undefined && utilization !== undefined) missingRequest ??= `missing request for ${rname} in container ${c.name} of Pod ${p.metadata.name}`;
          sum += milli(r ?? 0);
        }
        requests.set(p.metadata.name!, sum);
      }
      if (missingRequest) {
        metricError = { reason: 'FailedGetResourceMetric', message: `the HPA was unable to compute the replica count: failed to get ${rname} utilization: ${missingRequest}` };
        recorder.event(hpa, 'Warning', 'FailedGetResourceMetric', `failed to get ${rname} utilization: ${missingRequest}`);
        continue;
      }
      const calc = calculateReplicas(current, pods, usage, requests, { utilization, averageValueMilli });
      currentMetrics.push({
        type: 'Resource',
        resource: { name: rname, current: { averageValue: `${Math.round(calc.averageValueMilli)}m`, ...(calc.utilization !== undefined ? { averageUtilization: calc.utilization } : {}) } },
      });
      if (calc.replicas > proposal) {
        proposal = calc.replicas;
        reason = `${rname} resource ${utilization !== undefined ? 'utilization (percentage of request)' : ''}`.trim();
      }
    }
    if (!currentMetrics.length) {
      cond('AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
      cond('ScalingActive', 'False', metricError?.reason ?? 'FailedGetResourceMetric', metricError?.message ?? 'the HPA was unable to compute the replica count');
      return finish({ currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current });
    }
    cond('ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${reason}`);
    const desired = this.normalize(key, hpa, current, proposal, minReplicas, maxReplicas, now.getTime(), cond);
    let lastScaleTime = hpa.status?.lastScaleTime;
    if (desired !== current) {
      try {
        await ctx.client.request('PUT', scalePath, { body: { ...scale, spec: { ...scale.spec, replicas: desired } } });
      } catch (e) {
        cond('AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${(e as Error).message}`);
        recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${(e as Error).message}`);
        return finish({ currentReplicas: current, desiredReplicas: desired, currentMetrics });
      }
      const ev = this.scaleEvents.get(key) ?? { up: [], down: [] };
      (desired > current ? ev.up : ev.down).push({ at: now.getTime(), delta: Math.abs(desired - current) });
      this.scaleEvents.set(key, ev);
      lastScaleTime = rfc(now);
      cond('AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${desired > current ? `${reason} above target` : 'All metrics below target'}`);
    } else if (!conditions.has('AbleToScale')) {
      cond('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');
    }
    return finish({ currentReplicas: current, desiredReplicas: desired, currentMetrics, ...(lastScaleTime ? { lastScaleTime } : {}) });
  }

  /** Stabilization windows, rate policies, then min/max (upstream's normalizeDesiredReplicasWithBehaviors). */
  private normalize(
    key: string,
    hpa: KubeObject,
    current: number,
    proposal: number,
    min: number,
    max: number,
    now: number,
    cond: (type: string, status: string, reason: string, message: string) => void,
  ): number {
    const up: Rules = { ...DEFAULT_UP, ...(hpa.spec?.behavior?.scaleUp ?? {}) };
    const down: Rules = { ...DEFAULT_DOWN, ...(hpa.spec?.behavior?.scaleDown ?? {}) };
    const recs = (this.recommendations.get(key) ?? []).filter((r) => now - r.at <= Math.max(up.stabilizationWindowSeconds ?? 0, down.stabilizationWindowSeconds ?? 0) * 1000);
    recs.push({ at: now, replicas: proposal });
    this.recommendations.set(key, recs);
    // Scale up to the smallest recommendation in the up window; down to the largest in the down window.
    let upRec = proposal;
    let downRec = proposal;
    for (const r of recs) {
      if (now - r.at <= (up.stabilizationWindowSeconds ?? 0) * 1000) upRec = Math.min(upRec, r.replicas);
      if (now - r.at <= (down.stabilizationWindowSeconds ?? 0) * 1000) downRec = Math.max(downRec, r.replicas);
    }
    let desired = current;
    if (upRec > current) desired = upRec;
    else if (downRec < current) desired = downRec;
    if (desired !== proposal) cond('AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation');
    const ev = this.scaleEvents.get(key) ?? { up: [], down: [] };
    const changedIn = (events: ScaleEvent[], periodSeconds: number) => events.filter((e) => now - e.at <= periodSeconds * 1000).reduce((a, e) => a + e.delta, 0);
    if (desired > current) {
      if (up.selectPolicy === 'Disabled') return current;
      const limits = (up.policies ?? []).map((p) => {
        const start = current - changedIn(ev.up, p.periodSeconds);
        return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
      });
      const limit = limits.length ? (up.selectPolicy === 'Min' ? Math.min(...limits) : Math.max(...limits)) : Infinity;
      if (desired > limit) {
        desired = limit;
        cond('AbleToScale', 'True', 'ScaleUpLimit', 'the desired replica count is increasing faster than the maximum scale rate');
      }
    } else if (desired < current) {
      if (down.selectPolicy === 'Disabled') return current;
      const limits = (down.policies ?? []).map((p) => {
        const start = current + changedIn(ev.down, p.periodSeconds);
        return p.type === 'Pods' ? start - p.value : Math.floor(start * (1 - p.value / 100));
      });
      const limit = limits.length ? (down.selectPolicy === 'Min' ? Math.max(...limits) : Math.min(...limits)) : -Infinity;
      if (desired < limit) {
        desired = limit;
        cond('AbleToScale', 'True', 'ScaleDownLimit', 'the desired replica count is decreasing faster than the maximum scale rate');
      }
    }
    if (desired < min) {
      cond('ScalingLimited', 'True', 'TooFewReplicas', 'the desired replica count is less than the minimum replica count');
      return min;
    }
    if (desired > max) {
      cond('ScalingLimited', 'True', 'TooManyReplicas', 'the desired replica count is more than the maximum replica count');
      return max;
    }
    cond('ScalingLimited', 'False', 'DesiredWithinRange', 'the desired count is within the acceptable range');
    return desired;
  }
}
