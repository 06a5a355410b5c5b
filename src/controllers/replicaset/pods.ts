// Pod helpers shared by the workload controllers, after upstream's pkg/api/v1/pod and
// pkg/controller/controller_utils.go: readiness and availability, active pods, the pod a
// controller creates from its template, and the order in which surplus pods are deleted.

import type { KubeObject, OwnerReference } from '../../api/meta/v1.js';

export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

const timeOf = (t: string | undefined | null): number => (t ? Date.parse(t) : 0);

export function podReadyCondition(pod: KubeObject): { status?: string; lastTransitionTime?: string } | undefined {
  return (pod.status?.conditions as { type: string; status?: string; lastTransitionTime?: string }[] | undefined)?.find((c) => c.type === 'Ready');
}

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: KubeObject): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** podutil.IsPodAvailable: ready, and ready for at least minReadySeconds. */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: Date): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const t = timeOf(podReadyCondition(pod)?.lastTransitionTime);
  return t !== 0 && t + minReadySeconds * 1000 < now.getTime();
}

/** controller.IsPodActive: not Succeeded, not Failed, not being deleted. */
export function isPodActive(pod: KubeObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

/** metav1.NewControllerRef. */
export function newControllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** GetPodFromTemplate: labels, annotations and finalizers copied, generateName "<owner>-", the controller ref. */
export function podFromTemplate(template: KubeObject | undefined, owner: KubeObject, ref: OwnerReference): KubeObject {
  const meta = template?.metadata ?? {};
  // getPodsPrefix: "<name>-" unless that is not a valid pod name prefix.
  let prefix = `${owner.metadata.name}-`;
  const probe = `${prefix}a`;
  if (probe.length > 253 || !DNS1123_SUBDOMAIN.test(probe)) prefix = owner.metadata.name!;
  const metadata: KubeObject['metadata'] = { generateName: prefix, namespace: owner.metadata.namespace };
  if (meta.labels) metadata.labels = { ...meta.labels };
  if (meta.annotations) metadata.annotations = { ...meta.annotations };
  if (meta.finalizers) metadata.finalizers = [...meta.finalizers];
  metadata.ownerReferences = [ref];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(template?.spec ?? {}) };
}

function deletionCost(pod: KubeObject): number {
  const v = pod.metadata.annotations?.[POD_DELETION_COST];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return 0;
  const n = Number(v);
  return n >= -(2 ** 31) && n < 2 ** 31 ? n : 0;
}

function maxContainerRestarts(pod: KubeObject): [number, number] {
  let regular = 0;
  let sidecar = 0;
  for (const c of pod.status?.containerStatuses ?? []) regular = Math.max(regular, c.restartCount ?? 0);
  const sidecars = new Set<string>();
  for (const c of pod.spec?.initContainers ?? []) if (c.restartPolicy === 'Always') sidecars.add(c.name);
  for (const c of pod.status?.initContainerStatuses ?? []) if (sidecars.has(c.name)) sidecar = Math.max(sidecar, c.restartCount ?? 0);
  return [regular, sidecar];
}

/** afterOrZero: a zero time sorts first; otherwise the later time first. */
function afterOrZero(t1: number, t2: number): boolean {
  if (t1 === 0 || t2 === 0) return t1 === 0;
  return t1 > t2;
}

/** logarithmicRankDiff: compares floor(log2(age in ns)) of two times. */
function logRankDiff(t1: number, t2: number, now: number): number {
  const rank = (t: number) => {
    const d = (now - t) * 1e6;
    return d > 0 ? Math.floor(Math.log2(d)) : -1;
  };
  return rank(t1) - rank(t2);
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const phaseOrdinal = (p: KubeObject) => PHASE_ORDINAL[p.status?.phase as string] ?? 0;

/**
 * ActivePodsWithRanks.Less (with PodDeletionCost and LogarithmicScaleDown on, as in v1.32): true
 * when pod a should be deleted before pod b. rankA/rankB count the related ready pods on the
 * same node (doubled-up pods go first).
 */
export function deleteBefore(a: KubeObject, b: KubeObject, rankA: number, rankB: number, now: number): boolean {
  const na = a.spec?.nodeName ?? '';
  const nb = b.spec?.nodeName ?? '';
  // 1. Unassigned < assigned.
  if (na !== nb && (na === '' || nb === '')) return na === '';
  // 2. Pending < Unknown < Running.
  if (phaseOrdinal(a) !== phaseOrdinal(b)) return phaseOrdinal(a) < phaseOrdinal(b);
  // 3. Not ready < ready.
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return !ra;
  // 4. Lower pod-deletion-cost first.
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca < cb;
  // 5. More colocated related pods first.
  if (rankA !== rankB) return rankA > rankB;
  // 6. Ready for less time first (logarithmic buckets).
  if (ra && rb) {
    const ta = timeOf(podReadyCondition(a)?.lastTransitionTime);
    const tb = timeOf(podReadyCondition(b)?.lastTransitionTime);
    if (ta !== tb) {
      if (ta === 0 || tb === 0) return afterOrZero(ta, tb);
      const d = logRankDiff(ta, tb, now);
      if (d === 0) return (a.metadata.uid ?? '') < (b.metadata.uid ?? '');
      return d < 0;
    }
  }
  // 7. Higher restart counts first (regular containers, then sidecars).
  const [ia, sa] = maxContainerRestarts(a);
  const [ib, sb] = maxContainerRestarts(b);
  if (ia !== ib) return ia > ib;
  if (sa !== sb) return sa > sb;
  // 8. Newer first (logarithmic buckets), zero creation time first.
  const ka = timeOf(a.metadata.creationTimestamp);
  const kb = timeOf(b.metadata.creationTimestamp);
  if (ka !== kb) {
    if (ka === 0 || kb === 0) return afterOrZero(ka, kb);
    const d = logRankDiff(ka, kb, now);
    if (d === 0) return (a.metadata.uid ?? '') < (b.metadata.uid ?? '');
    return d < 0;
  }
  return false;
}

/**
 * getPodsToDelete: the `diff` pods to delete, ranked by deleteBefore; related pods (of the same
 * owner's other replica sets, and these) raise the rank of pods sharing a node with them.
 */
export function podsToDelete(pods: KubeObject[], related: KubeObject[], diff: number, now: number): KubeObject[] {
  if (diff >= pods.length) return pods.slice();
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const ranked = pods.map((p) => ({ p, rank: onNode.get(p.spec?.nodeName ?? '') ?? 0 }));
  ranked.sort((x, y) => (deleteBefore(x.p, y.p, x.rank, y.rank, now) ? -1 : deleteBefore(y.p, x.p, y.rank, x.rank, now) ? 1 : 0));
  return ranked.slice(0, diff).map((r) => r.p);
}
