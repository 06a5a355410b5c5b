// Storage keys (etcd's layout): /registry/<resource>/<namespace>/<name> for namespaced
// resources, /registry/<resource>/<name> for cluster-scoped ones. Resources that share storage
// (events.k8s.io events and core events; autoscaling v1 and v2) share a prefix.

import type { ResourceDef } from '../../api/resource.js';

export function storageResourceOf(def: ResourceDef): { group: string; version: string; resource: string } {
  if (def.storage) return { group: def.storage.group, version: def.storage.version, resource: def.storage.resource };
  return { group: def.group, version: def.version, resource: def.plural };
}

/** `/registry/<resource>/`, or `/registry/<group>/<resource>/` for custom resources. */
export function resourcePrefix(def: ResourceDef): string {
  const s = storageResourceOf(def);
  return `/registry/${s.resource}/`;
}

export function objectKey(def: ResourceDef, namespace: string | undefined, name: string): string {
  const p = resourcePrefix(def);
  return def.namespaced ? `${p}${namespace}/${name}` : `${p}${name}`;
}

/** Prefix for a list: all namespaces, or one. */
export function listPrefix(def: ResourceDef, namespace: string | undefined): string {
  const p = resourcePrefix(def);
  return def.namespaced && namespace ? `${p}${namespace}/` : p;
}
