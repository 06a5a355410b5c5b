// Small pieces the workload controllers share (upstream pkg/controller and podutil): controller
// references, pod readiness and availability, pods from templates, and claiming (adopting and
// releasing) objects by selector, as upstream's ControllerRefManager.

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceClient } from '../../client/client.js';
import { isNotFound } from '../../client/transport.js';
import type { Selector } from '../../machinery/labels.js';

export interface OwnerKind {
  apiVersion: string;
  kind: string;
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function newControllerRef(owner: KubeObject, kind: OwnerKind): OwnerRef {
  return { apiVersion: kind.apiVersion, kind: kind.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

export function controllerOf(o: KubeObject): OwnerRef | undefined {
  return (o.metadata.ownerReferences as OwnerRef[] | undefined)?.find((r) => r.controller);
}

export function podReadyCondition(pod: KubeObject): { status?: string; lastTransitionTime?: string } | undefined {
  return (pod.status?.conditions as { type: string; status?: string; lastTransitionTime?: string }[] | undefined)?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: KubeObject): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** Ready, and for at least minReadySeconds (by the Ready condition's lastTransitionTime). */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: Date): boolean {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : 0;
  return since + minReadySeconds * 1000 < now.getTime();
}

/** The earliest moment a ready pod becomes available; undefined when that is not in the future. */
export function availableAt(pod: KubeObject, minReadySeconds: number): number | undefined {
  const c = podReadyCondition(pod);
  if (c?.status !== 'True' || !minReadySeconds || !c.lastTransitionTime) return undefined;
  return Date.parse(c.lastTransitionTime) + minReadySeconds * 1000;
}

export const isTerminal = (pod: KubeObject) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** A pod from a template: its labels, annotations, finalizers and spec, owned by controllerRef. */
export function podFromTemplate(template: KubeObject | undefined, namespace: string, controllerRef: OwnerRef): KubeObject {
  const t = structuredClone(template ?? { metadata: {} }) as KubeObject;
  const tm = t.metadata ?? {};
  const metadata: KubeObject['metadata'] = { namespace, labels: { ...(tm.labels ?? {}) }, ownerReferences: [controllerRef] };
  if (tm.annotations && Object.keys(tm.annotations).length) metadata.annotations = { ...tm.annotations };
  if (tm.finalizers?.length) metadata.finalizers = [...tm.finalizers];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: t.spec ?? {} };
}

/**
 * Sorts candidates into what parent controls: its own objects that still match, plus orphans that
 * match (adopted by patch). Owned objects that no longer match are released. Objects being
 * deleted are not adopted; a parent being deleted neither adopts nor releases.
 */
export async function claimObjects(
  client: ResourceClient,
  parent: KubeObject,
  kind: OwnerKind,
  selector: Selector,
  candidates: KubeObject[],
  matches: (o: KubeObject) => boolean = () => true,
): Promise<KubeObject[]> {
  const uid = parent.metadata.uid;
  const parentDeleting = !!parent.metadata.deletionTimestamp;
  const out: KubeObject[] = [];
  for (const o of candidates) {
    const ref = controllerOf(o);
    const match = selector.matches(o.metadata.labels) && matches(o);
    if (ref) {
      if (ref.uid !== uid) continue;
      if (match || parentDeleting) {
        out.push(o);
        continue;
      }
      const refs = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      try {
        await client.patch(o.metadata.namespace, o.metadata.name!, 'merge', { metadata: { uid: o.metadata.uid, ownerReferences: refs } });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      continue;
    }
    if (!match || parentDeleting || o.metadata.deletionTimestamp) continue;
    try {
      const refs = [...(o.metadata.ownerReferences ?? []), newControllerRef(parent, kind)];
      out.push(await client.patch(o.metadata.namespace, o.metadata.name!, 'merge', { metadata: { uid: o.metadata.uid, ownerReferences: refs } }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return out;
}
