// Ordering objects by age, for "the oldest wins" rules (conflicting Ingress rules, LoadBalancer
// port claims). RFC 3339 timestamps in UTC compare as strings; ties go by namespace/name.

import type { KubeObject } from './v1.js';

export function oldestFirst(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
