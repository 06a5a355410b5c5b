// Upstream's replica calculator (pkg/controller/podautoscaler/replica_calculator.go) for Resource
// and ContainerResource metrics: group the selected pods into ready, unready, missing-metric and
// ignored ones; compute the usage ratio over the ready pods; within the tolerance keep the
// current count; otherwise, when pods lack metrics (assumed at 100% of request — or the target,
// if higher — on a scale down and 0% on a scale up) or are unready during a scale up (0%),
// recompute with those assumptions and refuse a change that would flip direction.
// All usage and request values are milli-units.

import type { KubeObject } from '../../api/meta/v1.js';
import { quantityFrom } from '../../machinery/quantity.js';
import { parseGoDuration, type PodMetrics } from './metrics.js';

export interface PodMetric {
  /** Milli-units. */
  value: number;
  timestamp: number;
  windowMs: number;
}

export type PodMetricsInfo = Map<string, PodMetric>;

export interface CalculatorOptions {
  /** --horizontal-pod-autoscaler-tolerance */
  tolerance: number;
  /** --horizontal-pod-autoscaler-cpu-initialization-period */
  cpuInitializationPeriodMs: number;
  /** --horizontal-pod-autoscaler-initial-readiness-delay */
  delayOfInitialReadinessStatusMs: number;
}

export const defaultCalculatorOptions = (): CalculatorOptions => ({ tolerance: 0.1, cpuInitializationPeriodMs: 5 * 60_000, delayOfInitialReadinessStatusMs: 30_000 });

function milli(q: unknown): number {
  return quantityFrom(q).milliValue();
}

const ms = (t: unknown) => (typeof t === 'string' && t ? Date.parse(t) : NaN);

/**
 * Upstream's getPodMetrics / getContainerMetrics: usage of `resource` per pod (summed over its
 * containers, or of `container` alone). A pod with no containers, or with a container lacking the
 * resource, has no metric.
 */
export function podMetricsInfo(samples: PodMetrics[], resource: string, container = ''): PodMetricsInfo {
  const out: PodMetricsInfo = new Map();
  for (const s of samples) {
    const base = { timestamp: ms(s.timestamp), windowMs: parseGoDuration(s.window) };
    if (container) {
      const c = s.containers.find((x) => x.name === container);
      if (c && c.usage[resource] !== undefined) out.set(s.pod, { ...base, value: milli(c.usage[resource]) });
      continue;
    }
    let sum = 0;
    let missing = s.containers.length === 0;
    for (const c of s.containers) {
      if (c.usage[resource] === undefined) {
        missing = true;
        break;
      }
      sum += milli(c.usage[resource]);
    }
    if (!missing) out.set(s.pod, { ...base, value: sum });
  }
  return out;
}

interface Grouped {
  readyPodCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** Upstream's groupPods. The readiness rules apply to cpu only. */
export function groupPods(pods: KubeObject[], metrics: PodMetricsInfo, resource: string, opts: CalculatorOptions, now: number): Grouped {
  const g: Grouped = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = pod.metadata.name!;
    if (pod.metadata.deletionTimestamp || pod.status?.phase === 'Failed') {
      g.ignored.add(name);
      continue;
    }
    if (pod.status?.phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      g.missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const cond = ((pod.status?.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[]).find((c) => c.type === 'Ready');
      const start = ms(pod.status?.startTime);
      let unready: boolean;
      if (!cond || Number.isNaN(start)) unready = true;
      else {
        const transition = ms(cond.lastTransitionTime);
        const transitionAt = Number.isNaN(transition) ? 0 : transition;
        if (start + opts.cpuInitializationPeriodMs > now) {
          // Still initialising: ignore the sample if unready, or if it predates a full window after the last transition.
          unready = cond.status === 'False' || metric.timestamp < transitionAt + metric.windowMs;
        } else {
          // Ignore a pod that is unready and has never been ready.
          unready = cond.status === 'False' && start + opts.delayOfInitialReadinessStatusMs > transitionAt;
        }
      }
      if (unready) {
        g.unready.add(name);
        continue;
      }
    }
    g.readyPodCount++;
  }
  return g;
}

/** Upstream's calculatePodRequests: per pod, the sum over containers (and restartable init containers). */
export function calculatePodRequests(pods: KubeObject[], container: string, resource: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    type C = { name: string; restartPolicy?: string; resources?: { requests?: Record<string, unknown> } };
    const containers: C[] = [...((pod.spec?.containers ?? []) as C[]), ...((pod.spec?.initContainers ?? []) as C[]).filter((c) => c.restartPolicy === 'Always')];
    let sum = 0;
    for (const c of containers) {
      if (container !== '' && container !== c.name) continue;
      const r = c.resources?.requests?.[resource];
      if (r === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name}`);
      sum += milli(r);
    }
    out.set(pod.metadata.name!, sum);
  }
  return out;
}

/** Upstream's GetResourceUtilizationRatio: utilization is an integer percentage. */
export function resourceUtilizationRatio(metrics: PodMetricsInfo, requests: Map<string, number>, targetUtilization: number): { ratio: number; utilization: number; rawAverage: number } {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let n = 0;
  for (const [pod, m] of metrics) {
    const r = requests.get(pod);
    if (r === undefined) continue;
    metricsTotal += m.value;
    requestsTotal += r;
    n++;
  }
  if (requestsTotal === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / n) };
}

/** Upstream's GetMetricUsageRatio: the average is an integer (milli-units). */
export function metricUsageRatio(metrics: PodMetricsInfo, targetUsage: number): { ratio: number; usage: number } {
  let total = 0;
  for (const m of metrics.values()) total += m.value;
  const usage = Math.trunc(total / metrics.size);
  return { ratio: usage / targetUsage, usage };
}

export class ReplicaCalculator {
  constructor(readonly opts: CalculatorOptions = defaultCalculatorOptions()) {}

  /** GetResourceReplicas: an averageUtilization target (percent of request). */
  resourceReplicas(
    currentReplicas: number,
    targetUtilization: number,
    resource: string,
    pods: KubeObject[],
    metricsIn: PodMetricsInfo,
    container: string,
    now: number,
  ): { replicas: number; utilization: number; rawUtilization: number } {
    if (pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
    const metrics: PodMetricsInfo = new Map(metricsIn);
    const g = groupPods(pods, metrics, resource, this.opts, now);
    for (const p of [...g.ignored, ...g.unready]) metrics.delete(p);
    if (metrics.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
    const requests = calculatePodRequests(pods, container, resource);
    const { ratio, utilization, rawAverage } = resourceUtilizationRatio(metrics, requests, targetUtilization);
    const keep = { replicas: currentReplicas, utilization, rawUtilization: rawAverage };
    const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
    if (!scaleUpWithUnready && g.missing.size === 0) {
      if (Math.abs(1 - ratio) <= this.opts.tolerance) return keep;
      return { replicas: Math.ceil(ratio * g.readyPodCount), utilization, rawUtilization: rawAverage };
    }
    if (g.missing.size > 0) {
      const fallback = Math.max(100, targetUtilization);
      for (const p of g.missing) {
        if (ratio < 1) metrics.set(p, { value: Math.trunc(((requests.get(p) ?? 0) * fallback) / 100), timestamp: 0, windowMs: 0 });
        else if (ratio > 1) metrics.set(p, { value: 0, timestamp: 0, windowMs: 0 });
      }
    }
    if (scaleUpWithUnready) for (const p of g.unready) metrics.set(p, { value: 0, timestamp: 0, windowMs: 0 });
    const next = resourceUtilizationRatio(metrics, requests, targetUtilization).ratio;
    if (Math.abs(1 - next) <= this.opts.tolerance || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) return keep;
    const replicas = Math.ceil(next * metrics.size);
    if ((next < 1 && replicas > currentReplicas) || (next > 1 && replicas < currentReplicas)) return keep;
    return { replicas, utilization, rawUtilization: rawAverage };
  }

  /** GetRawResourceReplicas (calcPlainMetricReplicas): an averageValue target (milli-units). */
  rawResourceReplicas(currentReplicas: number, targetUsage: number, resource: string, pods: KubeObject[], metricsIn: PodMetricsInfo, now: number): { replicas: number; usage: number } {
    if (pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
    const metrics: PodMetricsInfo = new Map(metricsIn);
    const g = groupPods(pods, metrics, resource, this.opts, now);
    for (const p of [...g.ignored, ...g.unready]) metrics.delete(p);
    if (metrics.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');
    const { ratio, usage } = metricUsageRatio(metrics, targetUsage);
    const keep = { replicas: currentReplicas, usage };
    const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
    if (!scaleUpWithUnready && g.missing.size === 0) {
      if (Math.abs(1 - ratio) <= this.opts.tolerance) return keep;
      return { replicas: Math.ceil(ratio * g.readyPodCount), usage };
    }
    if (g.missing.size > 0) {
      for (const p of g.missing) {
        if (ratio < 1) metrics.set(p, { value: targetUsage, timestamp: 0, windowMs: 0 });
        else if (ratio > 1) metrics.set(p, { value: 0, timestamp: 0, windowMs: 0 });
      }
    }
    if (scaleUpWithUnready) for (const p of g.unready) metrics.set(p, { value: 0, timestamp: 0, windowMs: 0 });
    const next = metricUsageRatio(metrics, targetUsage).ratio;
    if (Math.abs(1 - next) <= this.opts.tolerance || (ratio < 1 && next > 1) || (ratio > 1 && next < 1)) return keep;
    const replicas = Math.ceil(next * metrics.size);
    if ((next < 1 && replicas > currentReplicas) || (next > 1 && replicas < currentReplicas)) return keep;
    return { replicas, usage };
  }
}
