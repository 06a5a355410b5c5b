// The horizontal pod autoscaler (upstream's pkg/controller/podautoscaler/horizontal.go). Every
// sync period each HPA reads its target's `scale` subresource, computes a replica count per
// metric (Resource and ContainerResource through a MetricsSource and the replica calculator;
// Pods, Object and External metrics have no source here and fail as upstream does without a
// custom or external metrics API), takes the largest, stabilizes and rate-limits it (`behavior`,
// or upstream's legacy rules when there is none), clamps it to min/max, writes the scale, and
// records conditions (AbleToScale, ScalingActive, ScalingLimited), status and events with
// upstream's reasons and messages. Recommendations and scale events live in memory, as upstream.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf, splitKey } from '../../client/informer.js';
import { R, type GVR } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import { parseSelector, type Selector } from '../../machinery/labels.js';
import { Quantity, quantityFrom } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';
import { MetricsApiSource, type MetricsSource } from './metrics.js';
import { defaultCalculatorOptions, podMetricsInfo, ReplicaCalculator, type CalculatorOptions } from './replica-calculator.js';

export { StaticMetricsSource, MetricsApiSource, type MetricsSource, type PodMetrics } from './metrics.js';
export { ReplicaCalculator } from './replica-calculator.js';

/** Scale targets the controller knows, by "group/Kind" (upstream asks the REST mapper). */
const SCALABLE: Record<string, GVR> = {
  'apps/Deployment': R.deployments,
  'apps/ReplicaSet': R.replicasets,
  'apps/StatefulSet': R.statefulsets,
  '/ReplicationController': R.replicationcontrollers,
};

const SCALE_UP_LIMIT_FACTOR = 2;
const SCALE_UP_LIMIT_MINIMUM = 4;

interface Policy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}
interface Rules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: Policy[];
}
interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}
interface MetricStatus {
  type: string;
  [k: string]: unknown;
}
interface Status {
  currentReplicas: number;
  desiredReplicas: number;
  lastScaleTime?: string;
  currentMetrics?: MetricStatus[];
  conditions?: Condition[];
  observedGeneration?: number;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const milliQuantity = (m: number) => Quantity.fromMilli(Math.trunc(m)).toString();

/** Errors whose text is the message upstream would carry. */
class HPAError extends Error {}

export interface PodAutoscalerOptions {
  /** Where pod usage comes from; default the resource metrics API through the client. */
  metrics?: MetricsSource;
  /** --horizontal-pod-autoscaler-sync-period (default 15 s). */
  syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (default 5 min). */
  downscaleStabilizationMs?: number;
  /** --horizontal-pod-autoscaler-tolerance (0.1), -cpu-initialization-period (5 min), -initial-readiness-delay (30 s). */
  calculator?: Partial<CalculatorOptions>;
}

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontalpodautoscaling';
  private readonly queue = new WorkQueue<string>();
  private readonly recommendations = new Map<string, { at: number; replicas: number }[]>();
  private readonly scaleUpEvents = new Map<string, { at: number; change: number }[]>();
  private readonly scaleDownEvents = new Map<string, { at: number; change: number }[]>();
  /** The last selector each HPA used, to detect pods claimed by two HPAs. */
  private readonly selectors = new Map<string, Selector>();
  private readonly syncPeriod: number;
  private readonly downscaleWindow: number;
  private readonly calc: ReplicaCalculator;

  constructor(private readonly opts: PodAutoscalerOptions = {}) {
    this.syncPeriod = opts.syncPeriodMs ?? 15_000;
    this.downscaleWindow = opts.downscaleStabilizationMs ?? 5 * 60_000;
    this.calc = new ReplicaCalculator({ ...defaultCalculatorOptions(), ...opts.calculator });
  }

  start(ctx: ControllerContext): void {
    const hpas = ctx.informers.for(R.horizontalpodautoscalers);
    ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    const metrics = this.opts.metrics ?? new MetricsApiSource(ctx.client);
    const forget = (key: string) => {
      this.recommendations.delete(key);
      this.scaleUpEvents.delete(key);
      this.scaleDownEvents.delete(key);
      this.selectors.delete(key);
    };
    hpas.addEventHandler({
      add: (h) => this.queue.add(keyOf(h)),
      // Our own status writes do not change the generation; spec edits do.
      update: (o, h) => o.metadata.generation !== h.metadata.generation && this.queue.add(keyOf(h)),
      delete: (h) => forget(keyOf(h)),
    });
    startWorkers(ctx, this.queue, 'horizontalpodautoscaling', async (key) => {
      if (!hpas.indexer.get(key)) return forget(key);
      try {
        await this.reconcile(ctx, key, metrics);
      } catch (err) {
        // Upstream only logs: the next resync is the retry.
        ctx.log.debug({ err, key }, 'hpa: reconcile failed');
      }
      if (hpas.indexer.get(key)) this.queue.addAfter(key, this.syncPeriod);
    });
  }

  private async reconcile(ctx: ControllerContext, key: string, metricsSource: MetricsSource): Promise<void> {
    const shared = ctx.informers.for(R.horizontalpodautoscalers).indexer.get(key);
    if (!shared) return;
    const hpa = structuredClone(shared);
    const { namespace } = splitKey(key) as { namespace: string };
    const original = structuredClone(hpa.status ?? {}) as Status;
    const status: Status = { ...structuredClone(original), currentReplicas: original.currentReplicas ?? 0, desiredReplicas: original.desiredReplicas ?? 0 };
    delete status.observedGeneration;
    const recorder = ctx.recorder('horizontal-pod-autoscaler');
    const now = ctx.settings.now();
    const nowMs = now.getTime();
    const setCondition = (type: string, st: 'True' | 'False', reason: string, message: string) => {
      const list = (status.conditions ??= []);
      let c = list.find((x) => x.type === type);
      if (!c) list.push((c = { type, status: '' }));
      if (c.status !== st) c.lastTransitionTime = rfc3339(now);
      c.status = st;
      c.reason = reason;
      c.message = message;
    };
    const save = () => this.updateStatusIfNeeded(ctx, hpa, original, status);

    const spec = hpa.spec ?? {};
    const ref = spec.scaleTargetRef ?? {};
    const apiVersion = String(ref.apiVersion ?? '');
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
    const gvr = SCALABLE[`${group}/${ref.kind}`];
    const failedGetScale = async (msg: string) => {
      recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      setCondition('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      await save();
    };
    if (!gvr) return failedGetScale(`no matches for kind "${ref.kind}" in group "${group}"`);
    const scalePath = `${gvr.group ? `/apis/${gvr.group}/${gvr.version}` : '/api/v1'}/namespaces/${encodeURIComponent(namespace)}/${gvr.plural}/${encodeURIComponent(ref.name)}/scale`;
    let scale: KubeObject;
    try {
      scale = await ctx.client.request<KubeObject>('GET', scalePath);
    } catch (e) {
      return failedGetScale((e as Error).message);
    }
    setCondition('AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
    const currentReplicas: number = scale.spec?.replicas ?? 0;
    if (!this.recommendations.has(key)) this.recommendations.set(key, [{ at: nowMs, replicas: currentReplicas }]);

    const minReplicas: number = spec.minReplicas ?? 1;
    const maxReplicas: number = spec.maxReplicas;
    let desiredReplicas = 0;
    let rescaleReason = '';
    let rescale = true;
    let metricStatuses: MetricStatus[] | undefined;

    if (currentReplicas === 0 && minReplicas !== 0) {
      // Scaled to zero by hand: autoscaling is off until someone scales it up again.
      desiredReplicas = 0;
      rescale = false;
      setCondition('ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (currentReplicas > maxReplicas) {
      rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
      desiredReplicas = maxReplicas;
    } else if (currentReplicas < minReplicas) {
      rescaleReason = 'Current number of replicas below Spec.MinReplicas';
      desiredReplicas = minReplicas;
    } else {
      const computed = await this.computeReplicasForMetrics(ctx, key, hpa, scale, namespace, metricsSource, setCondition, nowMs);
      metricStatuses = computed.statuses;
      if (computed.replicas === -1) {
        status.currentReplicas = currentReplicas;
        if (metricStatuses) status.currentMetrics = metricStatuses;
        else delete status.currentMetrics;
        await save();
        recorder.event(hpa, 'Warning', 'FailedComputeMetricsReplicas', computed.error!);
        return;
      }
      let rescaleMetric = '';
      if (computed.replicas > desiredReplicas) {
        desiredReplicas = computed.replicas;
        rescaleMetric = computed.metric;
      }
      if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
      if (desiredReplicas < currentReplicas) rescaleReason = 'All metrics below target';
      desiredReplicas = spec.behavior
        ? this.normalizeWithBehaviors(key, spec, currentReplicas, desiredReplicas, minReplicas, nowMs, setCondition)
        : this.normalizeLegacy(key, spec, currentReplicas, desiredReplicas, minReplicas, nowMs, setCondition);
      rescale = desiredReplicas !== currentReplicas;
    }

    if (rescale) {
      try {
        await ctx.client.request('PUT', scalePath, { body: { ...scale, spec: { ...scale.spec, replicas: desiredReplicas } } });
      } catch (e) {
        const msg = (e as Error).message;
        recorder.event(hpa, 'Warning', 'FailedRescale', `New size: ${desiredReplicas}; reason: ${rescaleReason}; error: ${msg}`);
        setCondition('AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
        status.currentReplicas = currentReplicas;
        if (metricStatuses) status.currentMetrics = metricStatuses;
        else delete status.currentMetrics;
        await save();
        return;
      }
      setCondition('AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desiredReplicas}`);
      recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desiredReplicas}; reason: ${rescaleReason}`);
      this.storeScaleEvent(key, spec, currentReplicas, desiredReplicas, nowMs);
      ctx.log.info({ hpa: key, currentReplicas, desiredReplicas, reason: rescaleReason }, 'hpa: rescaled');
    } else {
      desiredReplicas = currentReplicas;
    }
    status.currentReplicas = currentReplicas;
    status.desiredReplicas = desiredReplicas;
    if (metricStatuses) status.currentMetrics = metricStatuses;
    else delete status.currentMetrics;
    if (rescale) status.lastScaleTime = rfc3339(now);
    await save();
  }

  private async updateStatusIfNeeded(ctx: ControllerContext, hpa: KubeObject, original: Status, status: Status): Promise<void> {
    const { observedGeneration: _, ...before } = original;
    if (JSON.stringify(canonical(before)) === JSON.stringify(canonical(status))) return;
    // A merge patch of the whole status: absent optional fields are written as null.
    const body = { status: { ...status, currentMetrics: status.currentMetrics ?? null, conditions: status.conditions ?? null } };
    try {
      await ctx.client.resource(R.horizontalpodautoscalers).patch(hpa.metadata.namespace, hpa.metadata.name!, 'merge', body, { subresource: 'status' });
    } catch (e) {
      if (isNotFound(e)) return;
      ctx.recorder('horizontal-pod-autoscaler').event(hpa, 'Warning', 'FailedUpdateStatus', (e as Error).message);
      throw e;
    }
  }

  /** Upstream's computeReplicasForMetrics: the largest proposal; -1 when none can be trusted. */
  private async computeReplicasForMetrics(
    ctx: ControllerContext,
    key: string,
    hpa: KubeObject,
    scale: KubeObject,
    namespace: string,
    source: MetricsSource,
    setCondition: (type: string, st: 'True' | 'False', reason: string, message: string) => void,
    now: number,
  ): Promise<{ replicas: number; metric: string; statuses?: MetricStatus[]; error?: string }> {
    const recorder = ctx.recorder('horizontal-pod-autoscaler');
    const selectorString: string = scale.status?.selector ?? '';
    if (!selectorString) {
      recorder.event(hpa, 'Warning', 'SelectorRequired', 'selector is required');
      setCondition('ScalingActive', 'False', 'InvalidSelector', "the HPA target's scale is missing a selector");
      return { replicas: -1, metric: '', error: 'selector is required' };
    }
    let selector: Selector;
    try {
      selector = parseSelector(selectorString);
    } catch (e) {
      const msg = `couldn't convert selector into a corresponding internal selector object: ${(e as Error).message}`;
      recorder.event(hpa, 'Warning', 'InvalidSelector', msg);
      setCondition('ScalingActive', 'False', 'InvalidSelector', msg);
      return { replicas: -1, metric: '', error: msg };
    }
    this.selectors.set(key, selector);
    const pods = ctx.informers.for(R.pods).indexer.byIndex('namespace', namespace).filter((p) => selector.matches(p.metadata.labels ?? {}));
    const claiming = new Set<string>();
    for (const [other, sel] of this.selectors) {
      if (splitKey(other).namespace !== namespace) continue;
      if (pods.some((p) => sel.matches(p.metadata.labels ?? {}))) claiming.add(other);
    }
    if (claiming.size > 1) {
      const msg = `pods by selector ${selectorString} are controlled by multiple HPAs: [${[...claiming].sort().join(' ')}]`;
      recorder.event(hpa, 'Warning', 'AmbiguousSelector', msg);
      setCondition('ScalingActive', 'False', 'AmbiguousSelector', msg);
      return { replicas: -1, metric: '', error: msg };
    }

    const specs = (hpa.spec?.metrics ?? []) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const statuses: MetricStatus[] = specs.map(() => ({ type: '' }));
    const specReplicas: number = scale.spec?.replicas ?? 0;
    let replicas = 0;
    let metric = '';
    let invalid = 0;
    let firstError: string | undefined;
    let firstCondition: { reason: string; message: string } | undefined;
    for (let i = 0; i < specs.length; i++) {
      const m = specs[i]!;
      try {
        const r = await this.computeReplicasForMetric(m, specReplicas, namespace, selectorString, pods, source, now);
        statuses[i] = r.status;
        if (replicas === 0 || r.replicas > replicas) {
          replicas = r.replicas;
          metric = r.metric;
        }
      } catch (e) {
        const f = e as MetricFailure;
        if (!(f instanceof MetricFailure)) throw e;
        recorder.event(hpa, 'Warning', f.reason, f.inner);
        if (invalid === 0) {
          firstError = f.message;
          firstCondition = { reason: f.reason, message: `the HPA was unable to compute the replica count: ${f.inner}` };
        }
        invalid++;
      }
    }
    const error = firstError !== undefined ? `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${firstError}` : undefined;
    if (invalid >= specs.length || (invalid > 0 && replicas < specReplicas)) {
      if (firstCondition) setCondition('ScalingActive', 'False', firstCondition.reason, firstCondition.message);
      return { replicas: -1, metric: '', statuses, error: error ?? 'no metrics specified' };
    }
    setCondition('ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metric}`);
    return { replicas, metric, statuses, error };
  }

  /** One metric: its proposal, its status, and the name used in messages; MetricFailure otherwise. */
  private async computeReplicasForMetric(
    m: Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    specReplicas: number,
    namespace: string,
    selector: string,
    pods: KubeObject[],
    source: MetricsSource,
    now: number,
  ): Promise<{ replicas: number; metric: string; status: MetricStatus }> {
    switch (m.type) {
      case 'Resource':
      case 'ContainerResource': {
        const container = m.type === 'ContainerResource';
        const src = container ? m.containerResource : m.resource;
        const reason = container ? 'FailedGetContainerResourceMetric' : 'FailedGetResourceMetric';
        const outer = (inner: string) => (container ? `failed to get ${src?.container} container metric value: ${inner}` : `failed to get ${src?.name} resource metric value: ${inner}`);
        try {
          const r = await this.resourceMetric(specReplicas, src?.target ?? {}, src?.name, namespace, container ? src?.container ?? '' : '', selector, pods, source, now, container);
          const status: MetricStatus = container
            ? { type: 'ContainerResource', containerResource: { name: src.name, container: src.container, current: r.current } }
            : { type: 'Resource', resource: { name: src.name, current: r.current } };
          return { replicas: r.replicas, metric: r.metric, status };
        } catch (e) {
          if (!(e instanceof HPAError)) throw e;
          throw new MetricFailure(reason, e.message, outer(e.message));
        }
      }
      case 'Pods': {
        const name = m.pods?.metric?.name;
        const inner = `unable to get metric ${name}: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered`;
        throw new MetricFailure('FailedGetPodsMetric', inner, `failed to get pods metric value: ${inner}`);
      }
      case 'Object': {
        const o = m.object ?? {};
        const t = o.target ?? {};
        const raw = `unable to get metric ${o.metric?.name}: ${o.describedObject?.kind} on ${namespace} ${o.describedObject?.name}/unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered`;
        if (t.type === 'Value' && t.value !== undefined) throw new MetricFailure('FailedGetObjectMetric', raw, `failed to get object metric value: ${raw}`);
        if (t.type === 'AverageValue' && t.averageValue !== undefined) throw new MetricFailure('FailedGetObjectMetric', raw, `failed to get object metric value: failed to get ${o.metric?.name} object metric: ${raw}`);
        const invalid = 'invalid object metric source: neither a value target nor an average value target was set';
        throw new MetricFailure('FailedGetObjectMetric', invalid, `failed to get object metric value: ${invalid}`);
      }
      case 'External': {
        const e = m.external ?? {};
        const name = e.metric?.name;
        const t = e.target ?? {};
        const raw = `unable to get external metric ${namespace}/${name}/${goLabelSelector(e.metric?.selector)}: unable to fetch metrics from external metrics API: the server could not find the requested resource (get ${name}.external.metrics.k8s.io)`;
        if (t.averageValue !== undefined) throw new MetricFailure('FailedGetExternalMetric', raw, `failed to get ${name} external metric value: failed to get ${name} external metric: ${raw}`);
        if (t.value !== undefined) throw new MetricFailure('FailedGetExternalMetric', raw, `failed to get ${name} external metric value: failed to get external metric ${name}: ${raw}`);
        const invalid = 'invalid external metric source: neither a value target nor an average value target was set';
        throw new MetricFailure('FailedGetExternalMetric', invalid, `failed to get ${name} external metric value: ${invalid}`);
      }
      default: {
        const inner = `unknown metric source type "${m.type}"`;
        throw new MetricFailure('InvalidMetricSourceType', inner, inner);
      }
    }
  }

  /** Upstream's computeStatusForResourceMetricGeneric. */
  private async resourceMetric(
    currentReplicas: number,
    target: Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    resource: string,
    namespace: string,
    container: string,
    selector: string,
    pods: KubeObject[],
    source: MetricsSource,
    now: number,
    isContainer: boolean,
  ): Promise<{ replicas: number; metric: string; current: Record<string, unknown> }> {
    const fetch = async () => {
      let samples;
      try {
        samples = await source.podMetrics(namespace, selector);
      } catch (e) {
        throw new HPAError(`unable to get metrics for resource ${resource}: unable to fetch metrics from resource metrics API: ${(e as Error).message}`);
      }
      if (!samples.length) throw new HPAError(`unable to get metrics for resource ${resource}: no metrics returned from resource metrics API`);
      return podMetricsInfo(samples, resource, container);
    };
    const wrap = <T>(what: string, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw new HPAError(`failed to get ${resource} ${what}: ${(e as Error).message}`);
      }
    };
    if (target.averageValue !== undefined && target.averageValue !== null) {
      const info = await fetch().catch((e: Error) => {
        throw new HPAError(`failed to get ${resource} usage: ${e.message}`);
      });
      const r = wrap('usage', () => this.calc.rawResourceReplicas(currentReplicas, quantityFrom(target.averageValue).milliValue(), resource, pods, info, now));
      return { replicas: r.replicas, metric: `${resource} resource`, current: { averageValue: milliQuantity(r.usage) } };
    }
    if (target.averageUtilization === undefined || target.averageUtilization === null) {
      throw new HPAError('invalid resource metric source: neither an average utilization target nor an average value (usage) target was set');
    }
    const info = await fetch().catch((e: Error) => {
      throw new HPAError(`failed to get ${resource} utilization: ${e.message}`);
    });
    const r = wrap('utilization', () => this.calc.resourceReplicas(currentReplicas, target.averageUtilization, resource, pods, info, container, now));
    return {
      replicas: r.replicas,
      metric: isContainer ? `${resource} container resource utilization (percentage of request)` : `${resource} resource utilization (percentage of request)`,
      current: { averageUtilization: r.utilization, averageValue: milliQuantity(r.rawUtilization) },
    };
  }

  /** Upstream's normalizeDesiredReplicas (no `behavior`): downscale stabilization, then max(2×, 4) and min/max. */
  private normalizeLegacy(
    key: string,
    spec: KubeObject['spec'],
    currentReplicas: number,
    proposed: number,
    minReplicas: number,
    now: number,
    setCondition: (type: string, st: 'True' | 'False', reason: string, message: string) => void,
  ): number {
    let stabilized = proposed;
    const cutoff = now - this.downscaleWindow;
    const recs = this.recommendations.get(key) ?? [];
    let old = -1;
    recs.forEach((r, i) => {
      if (r.at < cutoff) old = i;
      else if (r.replicas > stabilized) stabilized = r.replicas;
    });
    if (old >= 0) recs[old] = { at: now, replicas: proposed };
    else recs.push({ at: now, replicas: proposed });
    this.recommendations.set(key, recs);
    if (stabilized !== proposed) setCondition('AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation');
    else setCondition('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');

    const maxReplicas: number = spec.maxReplicas;
    const scaleUpLimit = Math.max(SCALE_UP_LIMIT_FACTOR * currentReplicas, SCALE_UP_LIMIT_MINIMUM);
    let maxAllowed: number;
    let reason: string;
    let message: string;
    if (maxReplicas > scaleUpLimit) {
      maxAllowed = scaleUpLimit;
      reason = 'ScaleUpLimit';
      message = 'the desired replica count is increasing faster than the maximum scale rate';
    } else {
      maxAllowed = maxReplicas;
      reason = 'TooManyReplicas';
      message = 'the desired replica count is more than the maximum replica count';
    }
    let desired = stabilized;
    if (stabilized < minReplicas) {
      desired = minReplicas;
      reason = 'TooFewReplicas';
      message = 'the desired replica count is less than the minimum replica count';
    } else if (stabilized > maxAllowed) desired = maxAllowed;
    else {
      reason = 'DesiredWithinRange';
      message = 'the desired count is within the acceptable range';
    }
    setCondition('ScalingLimited', desired === stabilized ? 'False' : 'True', reason, message);
    return desired;
  }

  /** Upstream's normalizeDesiredReplicasWithBehaviors: stabilization windows, then rate policies with min/max. */
  private normalizeWithBehaviors(
    key: string,
    spec: KubeObject['spec'],
    currentReplicas: number,
    proposed: number,
    minReplicas: number,
    now: number,
    setCondition: (type: string, st: 'True' | 'False', reason: string, message: string) => void,
  ): number {
    const { up, down } = this.rules(spec.behavior);
    // Stabilize: no higher than the lowest recommendation of the up window, no lower than the highest of the down window.
    let upRec = proposed;
    let downRec = proposed;
    const upCutoff = now - up.stabilizationWindowSeconds * 1000;
    const downCutoff = now - down.stabilizationWindowSeconds * 1000;
    const recs = this.recommendations.get(key) ?? [];
    let old = -1;
    recs.forEach((r, i) => {
      if (r.at > upCutoff) upRec = Math.min(upRec, r.replicas);
      if (r.at > downCutoff) downRec = Math.max(downRec, r.replicas);
      if (r.at < upCutoff && r.at < downCutoff) old = i;
    });
    let stabilized = currentReplicas;
    if (stabilized < upRec) stabilized = upRec;
    if (stabilized > downRec) stabilized = downRec;
    if (old >= 0) recs[old] = { at: now, replicas: proposed };
    else recs.push({ at: now, replicas: proposed });
    this.recommendations.set(key, recs);
    if (stabilized !== proposed) {
      if (proposed >= currentReplicas) setCondition('AbleToScale', 'True', 'ScaleUpStabilized', 'recent recommendations were lower than current one, applying the lowest recent recommendation');
      else setCondition('AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation');
    } else setCondition('AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size');

    // Rate policies and bounds.
    const ups = this.scaleUpEvents.get(key) ?? [];
    const downs = this.scaleDownEvents.get(key) ?? [];
    const changed = (events: { at: number; change: number }[], periodSeconds: number) => events.filter((e) => e.at > now - periodSeconds * 1000).reduce((a, e) => a + e.change, 0);
    const periodStart = (p: Policy) => currentReplicas - changed(ups, p.periodSeconds) + changed(downs, p.periodSeconds);
    let desired = stabilized;
    let reason = 'DesiredWithinRange';
    let message = 'the desired count is within the acceptable range';
    if (stabilized > currentReplicas) {
      let limit: number;
      if (up.selectPolicy === 'Disabled') limit = currentReplicas;
      else {
        const proposals = up.policies.map((p) => (p.type === 'Pods' ? periodStart(p) + p.value : Math.ceil(periodStart(p) * (1 + p.value / 100))));
        limit = up.selectPolicy === 'Min' ? Math.min(2 ** 31 - 1, ...proposals) : Math.max(-(2 ** 31), ...proposals);
      }
      if (limit < currentReplicas) limit = currentReplicas;
      let maxAllowed = spec.maxReplicas as number;
      let r = 'TooManyReplicas';
      let msg = 'the desired replica count is more than the maximum replica count';
      if (maxAllowed > limit) {
        maxAllowed = limit;
        r = 'ScaleUpLimit';
        msg = 'the desired replica count is increasing faster than the maximum scale rate';
      }
      if (stabilized > maxAllowed) [desired, reason, message] = [maxAllowed, r, msg];
    } else if (stabilized < currentReplicas) {
      let limit: number;
      if (down.selectPolicy === 'Disabled') limit = currentReplicas;
      else {
        const proposals = down.policies.map((p) => (p.type === 'Pods' ? periodStart(p) - p.value : Math.trunc(periodStart(p) * (1 - p.value / 100))));
        limit = down.selectPolicy === 'Min' ? Math.max(-(2 ** 31), ...proposals) : Math.min(2 ** 31 - 1, ...proposals);
      }
      if (limit > currentReplicas) limit = currentReplicas;
      let minAllowed = minReplicas;
      let r = 'TooFewReplicas';
      let msg = 'the desired replica count is less than the minimum replica count';
      if (minAllowed < limit) {
        minAllowed = limit;
        r = 'ScaleDownLimit';
        msg = 'the desired replica count is decreasing faster than the maximum scale rate';
      }
      if (stabilized < minAllowed) [desired, reason, message] = [minAllowed, r, msg];
    }
    setCondition('ScalingLimited', desired === stabilized ? 'False' : 'True', reason, message);
    return desired;
  }

  /** The behavior with upstream's defaults filled in (API defaulting, then the controller's downscale window). */
  private rules(behavior: KubeObject['spec']['behavior']): { up: Rules; down: Rules } {
    const b = behavior ?? {};
    const up: Rules = {
      stabilizationWindowSeconds: b.scaleUp?.stabilizationWindowSeconds ?? 0,
      selectPolicy: b.scaleUp?.selectPolicy ?? 'Max',
      policies: b.scaleUp?.policies ?? [
        { type: 'Pods', value: 4, periodSeconds: 15 },
        { type: 'Percent', value: 100, periodSeconds: 15 },
      ],
    };
    const down: Rules = {
      stabilizationWindowSeconds: b.scaleDown?.stabilizationWindowSeconds ?? Math.trunc(this.downscaleWindow / 1000),
      selectPolicy: b.scaleDown?.selectPolicy ?? 'Max',
      policies: b.scaleDown?.policies ?? [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    };
    return { up, down };
  }

  /** Upstream's storeScaleEvent: only with `behavior`; events older than the longest policy period are dropped. */
  private storeScaleEvent(key: string, spec: KubeObject['spec'], prev: number, next: number, now: number): void {
    if (!spec.behavior) return;
    const { up, down } = this.rules(spec.behavior);
    const isUp = next > prev;
    const map = isUp ? this.scaleUpEvents : this.scaleDownEvents;
    const longest = Math.max(0, ...(isUp ? up : down).policies.map((p) => p.periodSeconds));
    const kept = (map.get(key) ?? []).filter((e) => e.at >= now - longest * 1000);
    kept.push({ at: now, change: Math.abs(next - prev) });
    map.set(key, kept);
  }
}

/** A metric that could not be computed: the event/condition reason, the inner error and the wrapped one. */
class MetricFailure extends Error {
  constructor(
    readonly reason: string,
    readonly inner: string,
    outer: string,
  ) {
    super(outer);
  }
}

/** Status fields in a fixed order, for the "did anything change" comparison. */
function canonical(s: Partial<Status>): unknown {
  return {
    currentReplicas: s.currentReplicas ?? 0,
    desiredReplicas: s.desiredReplicas ?? 0,
    lastScaleTime: s.lastScaleTime ?? null,
    currentMetrics: s.currentMetrics ?? null,
    conditions: (s.conditions ?? []).map((c) => ({ type: c.type, status: c.status, lastTransitionTime: c.lastTransitionTime ?? null, reason: c.reason ?? null, message: c.message ?? null })),
  };
}

/** A *metav1.LabelSelector as Go's %+v prints it (its generated String method), or "nil". */
function goLabelSelector(sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined): string {
  if (!sel) return 'nil';
  const labels = Object.keys(sel.matchLabels ?? {})
    .sort()
    .map((k) => `${k}: ${sel.matchLabels![k]},`)
    .join('');
  const exprs = (sel.matchExpressions ?? []).map((r) => `LabelSelectorRequirement{Key:${r.key},Operator:${r.operator},Values:[${(r.values ?? []).join(' ')}],}`).join(',');
  return `&LabelSelector{MatchLabels:map[string]string{${labels}},MatchExpressions:[]LabelSelectorRequirement{${exprs}},}`;
}
