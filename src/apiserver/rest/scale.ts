// The scale subresource (autoscaling/v1 Scale) for deployments, replicasets, statefulsets and
// replicationcontrollers (and, later, custom resources that declare one).

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceDef } from '../../api/resource.js';
import { StatusError } from '../../machinery/errors.js';
import { selectorToString } from '../../machinery/labels.js';
import type { RequestContext, WriteOptions } from '../context.js';
import type { ResourceStore } from './resource-store.js';

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.replace(/^\./, '').split('.');
  let cur = obj;
  for (const seg of segs.slice(0, -1)) {
    if (cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[segs[segs.length - 1]] = value;
}

/** The Scale view of an object. */
export function scaleOf(def: ResourceDef, obj: KubeObject): KubeObject {
  const sc = def.subresources!.scale!;
  const sel = sc.labelSelectorPath ? getPath(obj, sc.labelSelectorPath) : undefined;
  let selector: string | undefined = typeof sel === 'string' ? sel : undefined;
  if (selector === undefined) {
    // Built-in workloads: the selector string is computed from spec.selector.
    const specSel = obj.spec?.selector;
    if (specSel && typeof specSel === 'object') {
      // ReplicationControllers select with a plain label map; the others with a LabelSelector.
      const isLabelSelector = 'matchLabels' in specSel || 'matchExpressions' in specSel;
      selector = selectorToString(isLabelSelector ? specSel : { matchLabels: specSel });
    }
  }
  const status: Record<string, unknown> = { replicas: Number(getPath(obj, sc.statusReplicasPath) ?? 0) };
  if (selector) status.selector = selector;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: Number(getPath(obj, sc.specReplicasPath) ?? 0) },
    status,
  };
}

/** Reads the Scale, lets `mutate` produce the new one, and writes spec.replicas back. */
export async function applyScale(
  def: ResourceDef,
  store: ResourceStore,
  ns: string | undefined,
  name: string,
  opts: WriteOptions,
  ctx: RequestContext,
  mutate: (scale: KubeObject) => KubeObject,
): Promise<KubeObject> {
  const sc = def.subresources!.scale!;
  const res = await store.guaranteedUpdate(ns, name, { ...opts, subresource: '' }, ctx, (cur) => {
    const current = cur!;
    const before = scaleOf(def, current);
    const next = mutate(structuredClone(before));
    const rv = next.metadata?.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw store.conflict(name);
    const replicas = next.spec?.replicas;
    if (replicas === undefined || replicas === null) {
      throw StatusError.invalid('autoscaling', 'Scale', name, [{ type: 'FieldValueRequired', field: 'spec.replicas', hasBadValue: false, detail: '' }]);
    }
    if (typeof replicas !== 'number' || !Number.isInteger(replicas)) {
      throw StatusError.badRequest(`Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal ${typeof replicas} into Go struct field ScaleSpec.spec.replicas of type int32`);
    }
    if (replicas < 0) {
      throw StatusError.invalid('autoscaling', 'Scale', name, [
        { type: 'FieldValueInvalid', field: 'spec.replicas', badValue: replicas, hasBadValue: true, detail: 'must be greater than or equal to 0' },
      ]);
    }
    setPath(current as Record<string, unknown>, sc.specReplicasPath, replicas);
    return current;
  });
  return scaleOf(def, res.obj);
}
