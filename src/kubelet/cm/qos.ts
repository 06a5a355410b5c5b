// Pod QoS classes and OOM score adjustments (pkg/apis/core/v1/helper/qos, pkg/kubelet/qos).
// Requests and limits are read as the API server defaults them: a container with a limit but no
// request for cpu or memory requests its limit.

import type { KubeObject } from '../../api/meta/v1.js';
import { quantityFrom, type Quantity } from '../../machinery/quantity.js';

export type QOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BEST_EFFORT_OOM_SCORE_ADJ = 1000;
/** oom_score_adj of the node agent and the runtime themselves (upstream KubeletOOMScoreAdj). */
export const KUBELET_OOM_SCORE_ADJ = -999;

const QOS_RESOURCES = ['cpu', 'memory'] as const;

/** A quantity, or undefined when absent or unparsable (validation is the API server's job). */
export function quantityOf(v: unknown): Quantity | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  try {
    return quantityFrom(v);
  } catch {
    return undefined;
  }
}

/** A container's requests as defaulted: each limited resource without a request requests its limit. */
export function effectiveRequests(c: Obj): Record<string, unknown> {
  const req: Record<string, unknown> = { ...(c.resources?.requests ?? {}) };
  for (const [k, v] of Object.entries(c.resources?.limits ?? {})) if (req[k] === undefined) req[k] = v;
  return req;
}

/** upstream ComputePodQOS: from the containers' and init containers' cpu and memory. */
export function computePodQOS(pod: KubeObject): QOSClass {
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  let guaranteed = true;
  const add = (m: Map<string, Quantity>, k: string, q: Quantity) => m.set(k, m.has(k) ? m.get(k)!.add(q) : q);
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])] as Obj[]) {
    const req = effectiveRequests(c);
    for (const r of QOS_RESOURCES) {
      const q = quantityOf(req[r]);
      if (q && q.sign() > 0) add(requests, r, q);
    }
    const found = new Set<string>();
    for (const r of QOS_RESOURCES) {
      const q = quantityOf(c.resources?.limits?.[r]);
      if (q && q.sign() > 0) {
        found.add(r);
        add(limits, r, q);
      }
    }
    if (!found.has('cpu') || !found.has('memory')) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [r, q] of requests) {
      const l = limits.get(r);
      if (!l || l.cmp(q) !== 0) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

/** upstream GetPodQOS: status.qosClass when the API server set it, else computed. */
export function getPodQOS(pod: KubeObject): QOSClass {
  const s = pod.status?.qosClass;
  return s === 'Guaranteed' || s === 'Burstable' || s === 'BestEffort' ? s : computePodQOS(pod);
}

const memoryRequest = (c: Obj): number => quantityOf(effectiveRequests(c).memory)?.value() ?? 0;

/**
 * upstream GetContainerOOMScoreAdjust: node-critical pods and Guaranteed -997, BestEffort 1000;
 * Burstable 1000 - 1000*memoryRequest/memoryCapacity, kept within [3, 999]; a sidecar never
 * scores above the regular container with the smallest memory request.
 */
export function containerOOMScoreAdj(pod: KubeObject, container: Obj, memoryCapacity: number): number {
  if (pod.spec?.priorityClassName === 'system-node-critical') return GUARANTEED_OOM_SCORE_ADJ;
  switch (getPodQOS(pod)) {
    case 'Guaranteed':
      return GUARANTEED_OOM_SCORE_ADJ;
    case 'BestEffort':
      return BEST_EFFORT_OOM_SCORE_ADJ;
  }
  const score = (req: number) => 1000 - Math.trunc((1000 * req) / memoryCapacity);
  let adj = score(memoryRequest(container));
  const isSidecar = ((pod.spec?.initContainers ?? []) as Obj[]).some((c) => c.name === container.name && c.restartPolicy === 'Always');
  if (isSidecar) {
    const regular = (pod.spec?.containers ?? []) as Obj[];
    if (regular.length) {
      const minReq = Math.min(...regular.map(memoryRequest));
      adj = Math.min(adj, score(minReq));
    }
  }
  if (adj < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adj === BEST_EFFORT_OOM_SCORE_ADJ) return adj - 1;
  return adj;
}
