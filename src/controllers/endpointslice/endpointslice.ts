// The EndpointSlice controller: for each Service with a selector, EndpointSlices (at most 100
// endpoints each) labelled kubernetes.io/service-name and owned by the Service, one group per
// resolved port set. Slices this controller manages are rewritten in place when they change.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf, splitKey } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';
import { isPodReady, podHasAddress, podsForService, resolveTargetPort, enqueueServicesOfPods, type ServicePort } from '../endpoints/service-pods.js';

export const MANAGED_BY = 'endpointslice-controller.k8s.io';
const MAX_ENDPOINTS = 100;

interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  nodeName?: string;
  hostname?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

interface DesiredSlice {
  ports: { name: string; port: number; protocol: string; appProtocol?: string }[];
  endpoints: SliceEndpoint[];
}

export function desiredSlices(svc: KubeObject, pods: KubeObject[]): DesiredSlice[] {
  const ports = (svc.spec?.ports ?? []) as ServicePort[];
  const publishNotReady = !!svc.spec?.publishNotReadyAddresses;
  const groups = new Map<string, DesiredSlice>();
  for (const pod of pods) {
    if (!podHasAddress(pod, true)) continue;
    const terminating = !!pod.metadata.deletionTimestamp;
    const ready = isPodReady(pod);
    const resolved: DesiredSlice['ports'] = [];
    for (const sp of ports) {
      const port = resolveTargetPort(sp, pod);
      if (port === undefined) continue;
      resolved.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    const sig = JSON.stringify(resolved);
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { ports: resolved, endpoints: [] }));
    const ep: SliceEndpoint = {
      addresses: [pod.status.podIP],
      conditions: { ready: (publishNotReady || ready) && !terminating, serving: publishNotReady || ready, terminating },
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
    };
    if (pod.spec?.nodeName) ep.nodeName = pod.spec.nodeName;
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name) ep.hostname = pod.spec.hostname;
    g.endpoints.push(ep);
  }
  const out: DesiredSlice[] = [];
  for (const g of groups.values()) {
    g.endpoints.sort((a, b) => (a.targetRef.name < b.targetRef.name ? -1 : 1));
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS) out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS) });
  }
  // A Service with no ready pods still gets one (empty) slice with its ports, as upstream.
  if (!out.length) {
    out.push({
      ports: ports.filter((p) => typeof (p.targetPort ?? p.port) === 'number' || /^\d+$/.test(String(p.targetPort))).map((p) => ({ name: p.name ?? '', port: Number(p.targetPort ?? p.port), protocol: p.protocol ?? 'TCP' })),
      endpoints: [],
    });
  }
  return out;
}

export class EndpointSliceController implements Controller {
  readonly name = 'endpointslice';
  private readonly queue = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    const services = ctx.informers.for(R.services).addIndex('namespace', byNamespace);
    const pods = ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    const slices = ctx.informers.for(R.endpointslices).addIndex('service', (s) => {
      const svc = s.metadata.labels?.['kubernetes.io/service-name'];
      return svc && s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === MANAGED_BY ? [`${s.metadata.namespace}/${svc}`] : [];
    });
    services.addEventHandler({ add: (s) => this.queue.add(keyOf(s)), update: (_o, s) => this.queue.add(keyOf(s)), delete: (s) => this.queue.add(keyOf(s)) });
    enqueueServicesOfPods(services, pods, (key) => this.queue.add(key));
    const onSlice = (s: KubeObject) => {
      const svc = s.metadata.labels?.['kubernetes.io/service-name'];
      if (svc && s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] === MANAGED_BY) this.queue.add(`${s.metadata.namespace}/${svc}`);
    };
    slices.addEventHandler({ update: (_o, s) => onSlice(s), delete: onSlice });
    startWorkers(ctx, this.queue, 'endpointslice', (k) => this.sync(ctx, k));
  }

  private async sync(ctx: ControllerContext, key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = ctx.informers.for(R.services).indexer.get(key);
    const api = ctx.client.resource(R.endpointslices);
    const existing = ctx.informers.for(R.endpointslices).indexer.byIndex('service', key).filter((s) => !s.metadata.deletionTimestamp);
    // Deleted Services' slices go with them through their ownerReference (garbage collector).
    if (!svc || !svc.spec?.selector || !Object.keys(svc.spec.selector).length) return;
    const pods = podsForService(svc, ctx.informers.for(R.pods).indexer.byIndex('namespace', namespace!));
    const want = desiredSlices(svc, pods);
    const labels = {
      ...(svc.metadata.labels ?? {}),
      'kubernetes.io/service-name': name,
      'endpointslice.kubernetes.io/managed-by': MANAGED_BY,
      ...(svc.spec?.clusterIP === 'None' ? { 'service.kubernetes.io/headless': '' } : {}),
    };
    const owner = { apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true };
    const stale = [...existing].sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    for (const d of want) {
      const cur = stale.shift();
      const body = { addressType: 'IPv4', endpoints: d.endpoints, ports: d.ports };
      if (cur) {
        const same =
          JSON.stringify(cur.endpoints ?? []) === JSON.stringify(body.endpoints) &&
          JSON.stringify(cur.ports ?? []) === JSON.stringify(body.ports) &&
          JSON.stringify(cur.metadata.labels ?? {}) === JSON.stringify(labels);
        if (!same) ctx.informers.for(R.endpointslices).indexer.set(await api.update({ ...cur, metadata: { ...cur.metadata, labels }, ...body }));
      } else {
        const made = await api.create(namespace, { metadata: { generateName: `${name}-`, namespace, labels, ownerReferences: [owner] }, ...body });
        // Seen by the next sync even before the watch delivers it: no duplicate slice.
        ctx.informers.for(R.endpointslices).indexer.set(made);
      }
    }
    for (const s of stale) {
      try {
        await api.delete(namespace, s.metadata.name!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }
}
