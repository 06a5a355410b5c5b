// StatefulSet identity and storage rules (upstream stateful_set_utils.go): pod names and
// ordinals, the identity labels, claims from volumeClaimTemplates, revisions as template patches,
// and the owner references the PVC retention policy asks for.

import type { KubeObject } from '../../api/meta/v1.js';
import { newControllerRef, podFromTemplate, type OwnerKind, type OwnerRef } from '../history/controller-utils.js';

export const STATEFULSET_KIND: OwnerKind = { apiVersion: 'apps/v1', kind: 'StatefulSet' };
export const POD_KIND: OwnerKind = { apiVersion: 'v1', kind: 'Pod' };
export const POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const REVISION_LABEL = 'controller-revision-hash';

const identity = /^(.*)-([0-9]+)$/;

/** The set name and ordinal encoded in a pod name; ordinal -1 when it does not parse. */
export function parseIdentity(pod: KubeObject): { parent: string; ordinal: number } {
  const m = identity.exec(pod.metadata.name ?? '');
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  return { parent: m[1]!, ordinal: Number.isSafeInteger(n) && n <= 2 ** 31 - 1 ? n : -1 };
}

export const getOrdinal = (pod: KubeObject) => parseIdentity(pod).ordinal;
export const isMemberOf = (set: KubeObject, pod: KubeObject) => parseIdentity(pod).parent === set.metadata.name;
export const podName = (set: KubeObject, ordinal: number) => `${set.metadata.name}-${ordinal}`;
export const claimName = (set: KubeObject, templateName: string, ordinal: number) => `${templateName}-${set.metadata.name}-${ordinal}`;
export const startOrdinal = (set: KubeObject): number => set.spec?.ordinals?.start ?? 0;
export const replicasOf = (set: KubeObject): number => set.spec?.replicas ?? 1;

export function podInOrdinalRange(pod: KubeObject, set: KubeObject): boolean {
  const o = getOrdinal(pod);
  return o >= startOrdinal(set) && o < startOrdinal(set) + replicasOf(set);
}

export const getPodRevision = (pod: KubeObject): string => pod.metadata.labels?.[REVISION_LABEL] ?? '';

/** The revision data: a strategic patch that replaces the pod template. */
export function revisionData(set: KubeObject): unknown {
  return { spec: { template: { ...structuredClone(set.spec?.template ?? {}), $patch: 'replace' } } };
}

/** set with the template recorded in rev. */
export function applyRevision(set: KubeObject, rev: KubeObject): KubeObject {
  const t = structuredClone(rev.data?.spec?.template ?? set.spec?.template ?? {});
  delete t.$patch;
  return { ...set, spec: { ...set.spec, template: t } };
}

/** The claims (by template name) pod should have, named for its ordinal, labelled with the set's matchLabels. */
export function claimsFor(set: KubeObject, pod: KubeObject): Map<string, KubeObject> {
  const ordinal = getOrdinal(pod);
  const out = new Map<string, KubeObject>();
  for (const t of (set.spec?.volumeClaimTemplates ?? []) as KubeObject[]) {
    const tm = t.metadata ?? {};
    const labels = { ...(tm.labels ?? {}), ...(set.spec?.selector?.matchLabels ?? {}) };
    const metadata: KubeObject['metadata'] = { name: claimName(set, tm.name!, ordinal), namespace: set.metadata.namespace, labels };
    if (tm.annotations) metadata.annotations = { ...tm.annotations };
    out.set(tm.name!, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: structuredClone(t.spec ?? {}) });
  }
  return out;
}

export function updateIdentity(set: KubeObject, pod: KubeObject): void {
  const ordinal = getOrdinal(pod);
  pod.metadata.name = podName(set, ordinal);
  pod.metadata.namespace = set.metadata.namespace;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [POD_NAME_LABEL]: pod.metadata.name, [POD_INDEX_LABEL]: String(ordinal) };
}

/** Points the pod's volumes named like claim templates at the pod's claims; other volumes stay. */
export function updateStorage(set: KubeObject, pod: KubeObject): void {
  const claims = claimsFor(set, pod);
  const volumes: unknown[] = [];
  for (const [name, claim] of claims) volumes.push({ name, persistentVolumeClaim: { claimName: claim.metadata.name } });
  for (const v of (pod.spec?.volumes ?? []) as { name: string }[]) if (!claims.has(v.name)) volumes.push(v);
  pod.spec ??= {};
  if (volumes.length) pod.spec.volumes = volumes;
}

export function identityMatches(set: KubeObject, pod: KubeObject): boolean {
  const { parent, ordinal } = parseIdentity(pod);
  return (
    ordinal >= 0 &&
    parent === set.metadata.name &&
    pod.metadata.name === podName(set, ordinal) &&
    pod.metadata.namespace === set.metadata.namespace &&
    pod.metadata.labels?.[POD_NAME_LABEL] === pod.metadata.name &&
    pod.metadata.labels?.[POD_INDEX_LABEL] === String(ordinal)
  );
}

export function storageMatches(set: KubeObject, pod: KubeObject): boolean {
  const ordinal = getOrdinal(pod);
  if (ordinal < 0) return false;
  const volumes = new Map(((pod.spec?.volumes ?? []) as { name: string; persistentVolumeClaim?: { claimName?: string } }[]).map((v) => [v.name, v]));
  for (const [name, claim] of claimsFor(set, pod)) {
    if (volumes.get(name)?.persistentVolumeClaim?.claimName !== claim.metadata.name) return false;
  }
  return true;
}

/** A new pod for ordinal from set's template, with its identity and storage. */
export function newStatefulSetPod(set: KubeObject, ordinal: number): KubeObject {
  const pod = podFromTemplate(set.spec?.template, set.metadata.namespace!, newControllerRef(set, STATEFULSET_KIND));
  pod.metadata.name = podName(set, ordinal);
  updateIdentity(set, pod);
  pod.spec.hostname = pod.metadata.name;
  if (set.spec?.serviceName) pod.spec.subdomain = set.spec.serviceName;
  updateStorage(set, pod);
  return pod;
}

/** Ordinals below the partition (offset by the start ordinal) keep the current revision; the rest get the update revision. */
export function newVersionedPod(currentSet: KubeObject, updateSet: KubeObject, currentRevision: string, updateRevision: string, ordinal: number): KubeObject {
  const st = currentSet.spec?.updateStrategy;
  const start = startOrdinal(currentSet);
  const keepCurrent =
    st?.type === 'RollingUpdate' &&
    ((st.rollingUpdate == null && ordinal < start + (currentSet.status?.currentReplicas ?? 0)) ||
      (st.rollingUpdate != null && ordinal < start + (st.rollingUpdate.partition ?? 0)));
  const pod = keepCurrent ? newStatefulSetPod(currentSet, ordinal) : newStatefulSetPod(updateSet, ordinal);
  pod.metadata.labels![REVISION_LABEL] = keepCurrent ? currentRevision : updateRevision;
  return pod;
}

export interface RetentionPolicy {
  whenDeleted: 'Retain' | 'Delete';
  whenScaled: 'Retain' | 'Delete';
}

export function retentionPolicy(set: KubeObject): RetentionPolicy {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
  return { whenDeleted: p.whenDeleted === 'Delete' ? 'Delete' : 'Retain', whenScaled: p.whenScaled === 'Delete' ? 'Delete' : 'Retain' };
}

/**
 * The owner references claim should carry under the retention policy: the set as controller when
 * claims go with the set (and the pod is not scaled away), the pod as controller when claims go
 * on scale-down and the pod is condemned. Undefined when the claim is another controller's.
 */
export function desiredClaimOwners(claim: KubeObject, set: KubeObject, pod: KubeObject): OwnerRef[] | undefined {
  const refs = (claim.metadata.ownerReferences ?? []) as OwnerRef[];
  const ours = (r: OwnerRef) => r.uid === set.metadata.uid || r.uid === pod.metadata.uid || (r.kind === 'StatefulSet' && r.name === set.metadata.name) || (r.kind === 'Pod' && r.name === pod.metadata.name);
  if (refs.some((r) => r.controller && !ours(r))) return undefined;
  const out = refs.filter((r) => !ours(r));
  const policy = retentionPolicy(set);
  const scaledDown = !podInOrdinalRange(pod, set);
  if (policy.whenScaled === 'Delete' && scaledDown) {
    if (pod.metadata.uid) out.push(newControllerRef(pod, POD_KIND));
  } else if (policy.whenDeleted === 'Delete') out.push(newControllerRef(set, STATEFULSET_KIND));
  return out;
}

export function sameOwners(a: OwnerRef[] | undefined, b: OwnerRef[] | undefined): boolean {
  const key = (r: OwnerRef) => `${r.uid}/${r.kind}/${r.name}/${!!r.controller}`;
  const ka = (a ?? []).map(key).sort();
  const kb = (b ?? []).map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}
