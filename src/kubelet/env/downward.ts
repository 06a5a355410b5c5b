// The downward API's values, shared by env vars (fieldRef, resourceFieldRef) and downwardAPI
// volumes: https://kubernetes.io/docs/concepts/workloads/pods/downward-api/

import type { KubeObject } from '../../api/meta/v1.js';
import { quantityFrom } from '../../machinery/quantity.js';

/** Facts the pod object does not hold (yet) when the container is created. */
export interface PodRuntimeFacts {
  nodeName?: string;
  podIP?: string;
  podIPs?: string[];
  hostIP?: string;
  hostIPs?: string[];
}

/** Go's %q for the strings labels and annotations hold. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/** Labels or annotations as the downward API writes them: sorted `key="value"` lines. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k])}`)
    .join('\n');
}

/** `metadata.labels['app']` → ['metadata.labels', 'app']. */
function splitSubscript(path: string): [string, string | undefined] {
  const m = /^(.+)\['(.*)'\]$/.exec(path);
  return m ? [m[1], m[2]] : [path, undefined];
}

/** The value of a fieldRef, or throws `unsupported fieldPath: ...`. */
export function podFieldValue(pod: KubeObject, fieldPath: string, facts: PodRuntimeFacts = {}): string {
  const [path, key] = splitSubscript(fieldPath);
  const meta = pod.metadata;
  if (key !== undefined) {
    if (path === 'metadata.labels') return meta.labels?.[key] ?? '';
    if (path === 'metadata.annotations') return meta.annotations?.[key] ?? '';
    throw new Error(`unsupported fieldPath: ${fieldPath}`);
  }
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.nodeName':
      return facts.nodeName ?? pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return facts.hostIP ?? pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return (facts.hostIPs ?? (facts.hostIP ? [facts.hostIP] : (pod.status?.hostIPs ?? []).map((i: { ip: string }) => i.ip))).join(',');
    case 'status.podIP':
      return facts.podIP ?? pod.status?.podIP ?? '';
    case 'status.podIPs':
      return (facts.podIPs ?? (facts.podIP ? [facts.podIP] : (pod.status?.podIPs ?? []).map((i: { ip: string }) => i.ip))).join(',');
  }
  throw new Error(`unsupported fieldPath: ${fieldPath}`);
}

export interface ResourceFieldSelector {
  containerName?: string;
  resource: string;
  divisor?: string | number;
}

/**
 * The value of a resourceFieldRef for `container`: ceil(quantity / divisor), CPU counted in
 * millicores. Unset limits are the node's allocatable, as upstream.
 */
export function containerResourceValue(container: KubeObject['spec'], sel: ResourceFieldSelector, allocatable: Record<string, string | number> = {}): string {
  const dot = sel.resource.indexOf('.');
  const kind = sel.resource.slice(0, dot);
  const name = sel.resource.slice(dot + 1);
  if (dot < 0 || (kind !== 'limits' && kind !== 'requests') || !name) throw new Error(`unsupported container resource : ${sel.resource}`);
  const res = container?.resources ?? {};
  let raw = res[kind]?.[name];
  if (raw === undefined && kind === 'limits') raw = allocatable[name];
  const divisor = quantityFrom(sel.divisor ?? '1');
  const q = quantityFrom(raw ?? '0');
  if (name === 'cpu') {
    const d = divisor.milliValue();
    return String(Math.ceil(q.milliValue() / (d || 1)));
  }
  if (name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-')) {
    const d = divisor.value();
    return String(Math.ceil(q.value() / (d || 1)));
  }
  throw new Error(`unsupported container resource : ${sel.resource}`);
}

/** The named container among containers, init containers and ephemeral containers. */
export function findContainer(pod: KubeObject, name: string): KubeObject['spec'] | undefined {
  const s = pod.spec ?? {};
  for (const list of [s.containers, s.initContainers, s.ephemeralContainers]) {
    const c = (list ?? []).find((x: { name: string }) => x.name === name);
    if (c) return c;
  }
  return undefined;
}
