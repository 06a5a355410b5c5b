// One schema drives each resource (architecture principle 2). A Schema is an OpenAPI v3
// structural schema with Kubernetes' extensions; built-in kinds declare theirs with the small
// builders below, CRDs bring theirs at run time. Validation, pruning, strategic merge patch,
// server-side apply, /openapi/v2, /openapi/v3 and `kubectl explain` all read the same objects.

export type SchemaType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';

export interface Schema {
  type?: SchemaType;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  maxItems?: number;
  minItems?: number;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-patch-merge-key'?: string;
  /** "merge", "replace", "retainKeys", "merge,retainKeys". */
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
  /**
   * Name of the OpenAPI definition this schema is published under (e.g.
   * "io.k8s.api.core.v1.PodSpec"). Not emitted; the OpenAPI builder turns named schemas into $refs.
   */
  'x-k8ts-name'?: string;
}

// ---- builders -------------------------------------------------------------------------------

type Extra = Omit<Schema, 'type' | 'properties' | 'items' | 'additionalProperties'>;

export const str = (extra: Extra = {}): Schema => ({ type: 'string', ...extra });
export const enumOf = (values: string[], extra: Extra = {}): Schema => ({ type: 'string', enum: values, ...extra });
export const int32 = (extra: Extra = {}): Schema => ({ type: 'integer', format: 'int32', ...extra });
export const int64 = (extra: Extra = {}): Schema => ({ type: 'integer', format: 'int64', ...extra });
export const num = (extra: Extra = {}): Schema => ({ type: 'number', format: 'double', ...extra });
export const bool = (extra: Extra = {}): Schema => ({ type: 'boolean', ...extra });
/** RFC 3339 timestamp (metav1.Time). */
export const time = (extra: Extra = {}): Schema => named('io.k8s.apimachinery.pkg.apis.meta.v1.Time', { type: 'string', format: 'date-time', ...extra });
export const microTime = (): Schema => named('io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime', { type: 'string', format: 'date-time' });
/** base64 bytes ([]byte in Go). */
export const bytes = (): Schema => ({ type: 'string', format: 'byte' });
/** resource.Quantity: "500m", "1Gi", or a number. */
export const quantity = (): Schema => named('io.k8s.apimachinery.pkg.api.resource.Quantity', { 'x-kubernetes-int-or-string': true, format: 'quantity' });
/** intstr.IntOrString. */
export const intOrString = (): Schema => named('io.k8s.apimachinery.pkg.util.intstr.IntOrString', { 'x-kubernetes-int-or-string': true, format: 'int-or-string' });
/** Arbitrary JSON (runtime.RawExtension, JSON fields). */
export const anyValue = (extra: Extra = {}): Schema => ({ 'x-kubernetes-preserve-unknown-fields': true, ...extra });

export function obj(properties: Record<string, Schema>, extra: Extra = {}): Schema {
  return { type: 'object', properties, ...extra };
}

/** map[string]T. Granular unless said otherwise (as upstream maps are). */
export function mapOf(value: Schema, extra: Extra = {}): Schema {
  return { type: 'object', additionalProperties: value, ...extra };
}

export interface ListOptions extends Extra {
  /** Strategic-merge-patch key (x-kubernetes-patch-merge-key) and strategy "merge". */
  mergeKey?: string;
  /** SSA list-map keys (x-kubernetes-list-map-keys); implies list-type map. */
  mapKeys?: string[];
  /** x-kubernetes-list-type (default atomic; "set" for primitive sets). */
  listType?: 'atomic' | 'set' | 'map';
  /** x-kubernetes-patch-strategy override, e.g. "merge,retainKeys" or "merge" for primitive lists. */
  patchStrategy?: string;
}

export function arr(items: Schema, opts: ListOptions = {}): Schema {
  const { mergeKey, mapKeys, listType, patchStrategy, ...extra } = opts;
  const s: Schema = { type: 'array', items, ...extra };
  if (mergeKey) {
    s['x-kubernetes-patch-merge-key'] = mergeKey;
    s['x-kubernetes-patch-strategy'] = patchStrategy ?? 'merge';
  } else if (patchStrategy) {
    s['x-kubernetes-patch-strategy'] = patchStrategy;
  }
  if (mapKeys) {
    s['x-kubernetes-list-type'] = 'map';
    s['x-kubernetes-list-map-keys'] = mapKeys;
  } else if (listType) {
    s['x-kubernetes-list-type'] = listType;
  }
  return s;
}

/** Gives a schema its OpenAPI definition name (published as a $ref target). */
export function named(name: string, schema: Schema): Schema {
  schema['x-k8ts-name'] = name;
  return schema;
}

/** A top-level kind: adds apiVersion/kind/metadata and the GVK extension. */
export function kindSchema(
  name: string,
  gvk: { group: string; version: string; kind: string },
  properties: Record<string, Schema>,
  extra: Extra = {},
): Schema {
  return named(
    name,
    obj(
      {
        apiVersion: str(),
        kind: str(),
        metadata: objectMetaRef(),
        ...properties,
      },
      { ...extra, 'x-kubernetes-group-version-kind': [gvk] },
    ),
  );
}

// ObjectMeta is referenced lazily to avoid an import cycle with meta/v1.ts.
let objectMetaSchema: Schema | undefined;
export function setObjectMetaSchema(s: Schema): void {
  objectMetaSchema = s;
}
function objectMetaRef(): Schema {
  if (!objectMetaSchema) throw new Error('meta/v1 must be loaded before kind schemas');
  return objectMetaSchema;
}

// ---- walking --------------------------------------------------------------------------------

/** The schema of a property of an object schema (following additionalProperties for maps). */
export function propertySchema(s: Schema | undefined, name: string): Schema | undefined {
  if (!s) return undefined;
  if (s.properties && name in s.properties) return s.properties[name];
  if (s.additionalProperties && typeof s.additionalProperties === 'object') return s.additionalProperties;
  if (s['x-kubernetes-preserve-unknown-fields'] || s.additionalProperties === true) return anyValue();
  return undefined;
}

/** Strategic-merge-patch facts about a list or map field. */
export interface PatchMeta {
  /** "merge", "replace", "retainKeys" (comma separated as upstream). */
  strategy?: string;
  mergeKey?: string;
}

export function patchMetaOf(s: Schema | undefined): PatchMeta {
  if (!s) return {};
  return { strategy: s['x-kubernetes-patch-strategy'], mergeKey: s['x-kubernetes-patch-merge-key'] };
}
