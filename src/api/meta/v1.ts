// meta/v1: ObjectMeta, ListMeta, LabelSelector, OwnerReference, Condition, ManagedFieldsEntry.
// Schemas for the shared metadata types, plus the TypeScript shapes the rest of the code uses.

import { arr, bool, int64, mapOf, named, obj, setObjectMetaSchema, str, time, anyValue, enumOf, type Schema } from '../schema.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | null;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: ManagedFieldsEntry[];
  selfLink?: string;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
  selfLink?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Any API object, as stored and served. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

export const ownerReference = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference',
  obj(
    {
      apiVersion: str(),
      kind: str(),
      name: str(),
      uid: str(),
      controller: bool(),
      blockOwnerDeletion: bool(),
    },
    { required: ['apiVersion', 'kind', 'name', 'uid'], 'x-kubernetes-map-type': 'atomic' },
  ),
);

export const managedFieldsEntry = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry',
  obj({
    manager: str(),
    operation: str(),
    apiVersion: str(),
    time: time(),
    fieldsType: str(),
    fieldsV1: named('io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1', { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
    subresource: str(),
  }),
);

export const objectMeta = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta',
  obj({
    name: str(),
    generateName: str(),
    namespace: str(),
    selfLink: str(),
    uid: str(),
    resourceVersion: str(),
    generation: int64(),
    creationTimestamp: time(),
    deletionTimestamp: time(),
    deletionGracePeriodSeconds: int64(),
    labels: mapOf(str()),
    annotations: mapOf(str()),
    ownerReferences: arr(ownerReference, { mergeKey: 'uid', mapKeys: ['uid'] }),
    finalizers: arr(str(), { listType: 'set', patchStrategy: 'merge' }),
    managedFields: arr(managedFieldsEntry),
  }),
);
setObjectMetaSchema(objectMeta);

export const listMeta = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta',
  obj({ selfLink: str(), resourceVersion: str(), continue: str(), remainingItemCount: int64() }),
);

export const labelSelectorRequirement = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement',
  obj({ key: str(), operator: str(), values: arr(str(), { listType: 'atomic' }) }, { required: ['key', 'operator'] }),
);

export const labelSelector = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector',
  obj(
    {
      matchLabels: mapOf(str()),
      matchExpressions: arr(labelSelectorRequirement, { listType: 'atomic' }),
    },
    { 'x-kubernetes-map-type': 'atomic' },
  ),
);

/** metav1.Condition, used by newer APIs (e.g. PodDisruptionBudget status). */
export const condition = named(
  'io.k8s.apimachinery.pkg.apis.meta.v1.Condition',
  obj(
    {
      type: str(),
      status: enumOf(['True', 'False', 'Unknown']),
      observedGeneration: int64(),
      lastTransitionTime: time(),
      reason: str(),
      message: str(),
    },
    { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
  ),
);

/** runtime.RawExtension: any embedded object. */
export const rawExtension = (): Schema => named('io.k8s.apimachinery.pkg.runtime.RawExtension', { type: 'object', ...anyValue() });
