// A resource definition: everything the generic API server needs to serve one
// group/version/resource. Adding a built-in kind means writing one of these (schema + strategy
// + printer) and nothing in the server, storage or client. CRDs produce the same shape at run time.

import type { FieldError } from '../machinery/field-errors.js';
import type { KubeObject } from './meta/v1.js';
import type { Schema } from './schema.js';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface TableColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  /** 0 = shown by default; 1 = only with `-o wide`. */
  priority: number;
}

export interface Printer {
  columns: TableColumnDefinition[];
  /** One row of cells per object, in column order. `now` in epoch ms (for Age columns). */
  cells(obj: KubeObject, now: number): unknown[];
}

/** Context a strategy gets for validation and preparation. */
export interface StrategyContext {
  /** "create" | "update"; on update `old` is set. */
  operation: 'create' | 'update';
  /** The subresource being written ("" for the main resource, "status", "scale"). */
  subresource: string;
}

export interface Strategy {
  /** Fills in upstream defaults (mutating). Runs on every decoded write, before validation. */
  defaults?(obj: KubeObject): void;
  /** Kind-specific preparation on create (e.g. clear status, set initial phase). */
  prepareForCreate?(obj: KubeObject): void;
  /** Kind-specific preparation on update (e.g. keep immutable fields). */
  prepareForUpdate?(obj: KubeObject, old: KubeObject): void;
  /** Validation on create (metadata is validated by the server; return kind-specific errors). */
  validate?(obj: KubeObject, ctx: StrategyContext): FieldError[];
  /** Validation on update (immutability etc.). Defaults to validate(). */
  validateUpdate?(obj: KubeObject, old: KubeObject, ctx: StrategyContext): FieldError[];
  /** The rule for metadata.name (default: DNS-1123 subdomain); returns upstream's messages. */
  validateName?(name: string): string[];
  /** Keep a client-supplied status on create (nodes do; most kinds reset status). */
  keepStatusOnCreate?: boolean;
  /** Maintain metadata.generation (1 on create, +1 on each spec change). */
  tracksGeneration?: boolean;
  /**
   * Deployments (upstream's deployment strategies): an annotation change bumps generation too,
   * and a status write may change annotations (the controller records the revision that way).
   */
  annotationsAreSpec?: boolean;
  /** Allow PUT to create a missing object (upstream AllowCreateOnUpdate). */
  allowCreateOnUpdate?: boolean;
  /** Non-fatal warnings returned in `Warning` headers. */
  warnings?(obj: KubeObject, old?: KubeObject): string[];
}

export interface ScaleSubresource {
  /** JSON path-ish dotted paths into the object, as CRD scale subresources spell them. */
  specReplicasPath: string; // ".spec.replicas"
  statusReplicasPath: string; // ".status.replicas"
  labelSelectorPath?: string; // ".status.selector" (string form) or computed
}

export interface ExtraSubresource {
  name: string;
  /** The kind the subresource takes and returns (e.g. policy/v1 Eviction). */
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

export interface ResourceDef {
  group: string;
  version: string;
  kind: string;
  /** Lowercase plural, the URL segment: "deployments". */
  plural: string;
  /** Lowercase singular: "deployment". */
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  /** Verbs served; defaults to all of create, delete, deletecollection, get, list, patch, update, watch. */
  verbs?: string[];
  /** The whole object's schema (a kindSchema). */
  schema: Schema;
  subresources?: {
    status?: boolean;
    scale?: ScaleSubresource;
    /** Subresources the API server serves with its own code (pods/binding, pods/eviction), for discovery. */
    extra?: ExtraSubresource[];
  };
  strategy: Strategy;
  printer?: Printer;
  /** Extra field selectors beyond metadata.name / metadata.namespace: field -> value getter. */
  fieldSelectors?: Record<string, (obj: KubeObject) => string | undefined>;
  /**
   * Where objects of this resource are stored when it shares storage with another version
   * (e.g. autoscaling/v1 HPAs are stored as autoscaling/v2; events.k8s.io/v1 as core/v1 events).
   * The server stores objects in the storage version and converts on the way in and out.
   */
  storage?: {
    group: string;
    version: string;
    resource: string;
    /** API version -> storage version. */
    toStorage(obj: KubeObject): KubeObject;
    /** Storage version -> API version. */
    fromStorage(obj: KubeObject): KubeObject;
  };
  /** Whether this version is the preferred one in its group (discovery). Defaults to true. */
  preferred?: boolean;
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}
