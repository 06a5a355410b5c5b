// What the API-backed volumes hold: the files of configMap, secret, downwardAPI and projected
// volumes, computed from the objects (upstream's MakePayload / CollectData per plugin).

import type { KubeObject } from '../../api/meta/v1.js';
import { containerResourceValue, findContainer, podFieldValue, type PodRuntimeFacts } from '../env/downward.js';
import type { Payload } from './atomic-writer.js';

export const DEFAULT_MODE = 0o644;

interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** Files for a ConfigMap (data and binaryData) or a Secret (data, base64); items select and rename keys. */
export function objectPayload(
  kind: 'configmap' | 'secret',
  obj: KubeObject | undefined,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
): Payload {
  const payload: Payload = new Map();
  const values = new Map<string, Buffer>();
  if (obj) {
    if (kind === 'configmap') {
      for (const [k, v] of Object.entries<string>(obj.data ?? {})) values.set(k, Buffer.from(v, 'utf8'));
      for (const [k, v] of Object.entries<string>(obj.binaryData ?? {})) values.set(k, Buffer.from(v, 'base64'));
    } else {
      for (const [k, v] of Object.entries<string>(obj.data ?? {})) values.set(k, Buffer.from(v, 'base64'));
    }
  }
  if (!items?.length) {
    for (const [k, data] of values) payload.set(k, { data, mode: defaultMode });
    return payload;
  }
  for (const item of items) {
    const data = values.get(item.key);
    if (!data) {
      if (optional) continue;
      throw new Error(kind === 'configmap' ? `configmap references non-existent config key: ${item.key}` : `references non-existent secret key: ${item.key}`);
    }
    payload.set(item.path, { data, mode: item.mode ?? defaultMode });
  }
  return payload;
}

interface DownwardAPIItem {
  path: string;
  mode?: number;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
}

/** Files of a downwardAPI volume (or projection): one per item. */
export function downwardAPIPayload(
  pod: KubeObject,
  items: DownwardAPIItem[] | undefined,
  defaultMode: number,
  opts: { facts?: PodRuntimeFacts; allocatable?: Record<string, string | number> } = {},
): Payload {
  const payload: Payload = new Map();
  for (const item of items ?? []) {
    let value: string;
    if (item.fieldRef) {
      value = podFieldValue(pod, item.fieldRef.fieldPath, opts.facts);
    } else if (item.resourceFieldRef) {
      const name = item.resourceFieldRef.containerName ?? '';
      const c = findContainer(pod, name);
      if (!c) throw new Error(`container ${name} not found`);
      value = containerResourceValue(c, item.resourceFieldRef, opts.allocatable);
    } else continue;
    payload.set(item.path, { data: Buffer.from(value, 'utf8'), mode: item.mode ?? defaultMode });
  }
  return payload;
}
