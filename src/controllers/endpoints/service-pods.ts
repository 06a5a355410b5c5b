// What the Endpoints and EndpointSlice controllers share: which pods back a Service, whether a
// pod counts as ready, and how a Service port's targetPort resolves on a given pod.

import type { KubeObject } from '../../api/meta/v1.js';
import { keyOf, type SharedInformer } from '../../client/informer.js';
import { selectorFromSet } from '../../machinery/labels.js';

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  appProtocol?: string;
}

/** The pods of a Service with a selector (none for selector-less Services). */
export function podsForService(svc: KubeObject, podsInNamespace: KubeObject[]): KubeObject[] {
  const sel = svc.spec?.selector as Record<string, string> | undefined;
  if (!sel || !Object.keys(sel).length) return [];
  const s = selectorFromSet(sel);
  return podsInNamespace.filter((p) => s.matches(p.metadata.labels ?? {}));
}

export function servicesForPod(pod: KubeObject, servicesInNamespace: KubeObject[]): KubeObject[] {
  return servicesInNamespace.filter((svc) => {
    const sel = svc.spec?.selector as Record<string, string> | undefined;
    return !!sel && Object.keys(sel).length > 0 && selectorFromSet(sel).matches(pod.metadata.labels ?? {});
  });
}

export function isPodReady(pod: KubeObject): boolean {
  return (pod.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

/** A pod that can be an endpoint at all: has an IP, is not finished, and (usually) not deleting. */
export function podHasAddress(pod: KubeObject, includeTerminating: boolean): boolean {
  if (!pod.status?.podIP) return false;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (pod.metadata.deletionTimestamp && !includeTerminating) return false;
  return true;
}

/** The container port a Service port targets on this pod; undefined when a named port is missing. */
export function resolveTargetPort(sp: ServicePort, pod: KubeObject): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  const proto = sp.protocol ?? 'TCP';
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort;
  }
  return undefined;
}

export const nowRFC3339 = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Calls `enqueue` with the key of every Service (from an informer indexed by 'namespace') that
 * selects a pod that was added, changed or deleted; on a label change, both old and new ones.
 */
export function enqueueServicesOfPods(services: SharedInformer, pods: SharedInformer, enqueue: (serviceKey: string) => void): void {
  const onPod = (p: KubeObject) => {
    for (const s of servicesForPod(p, services.indexer.byIndex('namespace', p.metadata.namespace!))) enqueue(keyOf(s));
  };
  pods.addEventHandler({
    add: onPod,
    update: (o, n) => {
      onPod(n);
      if (JSON.stringify(o.metadata.labels) !== JSON.stringify(n.metadata.labels)) onPod(o);
    },
    delete: onPod,
  });
}
