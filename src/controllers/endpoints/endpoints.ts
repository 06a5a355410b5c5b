// The Endpoints controller: for each Service with a selector, an Endpoints object of the same
// name listing the ready pods (addresses) and the not-ready ones (notReadyAddresses), grouped
// into subsets by the ports they resolve to. Services without a selector are left alone.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf, splitKey } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';
import { isPodReady, nowRFC3339, podHasAddress, podsForService, resolveTargetPort, enqueueServicesOfPods, type ServicePort } from './service-pods.js';

interface Address {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef: { kind: 'Pod'; namespace: string; name: string; uid: string };
}

interface Subset {
  addresses?: Address[];
  notReadyAddresses?: Address[];
  ports: { name?: string; port: number; protocol: string; appProtocol?: string }[];
}

export function computeSubsets(svc: KubeObject, pods: KubeObject[]): Subset[] {
  const ports = (svc.spec?.ports ?? []) as ServicePort[];
  const publishNotReady = !!svc.spec?.publishNotReadyAddresses;
  const bySignature = new Map<string, Subset>();
  for (const pod of pods) {
    if (!podHasAddress(pod, publishNotReady)) continue;
    const addr: Address = {
      ip: pod.status.podIP,
      nodeName: pod.spec?.nodeName,
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace!, name: pod.metadata.name!, uid: pod.metadata.uid! },
    };
    if (pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name) addr.hostname = pod.spec.hostname;
    const resolved: Subset['ports'] = [];
    for (const sp of ports) {
      const port = resolveTargetPort(sp, pod);
      if (port === undefined) continue;
      resolved.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
    }
    if (ports.length && !resolved.length) continue;
    const sig = JSON.stringify(resolved);
    let subset = bySignature.get(sig);
    if (!subset) bySignature.set(sig, (subset = { ports: resolved }));
    if (publishNotReady || isPodReady(pod)) (subset.addresses ??= []).push(addr);
    else (subset.notReadyAddresses ??= []).push(addr);
  }
  // Upstream sorts addresses by IP within subsets, and subsets by their content (repacking).
  const byIP = (a: Address, b: Address) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  const subsets = [...bySignature.values()];
  for (const s of subsets) {
    s.addresses?.sort(byIP);
    s.notReadyAddresses?.sort(byIP);
    if (!s.ports.length) delete (s as Partial<Subset>).ports;
  }
  return subsets;
}

export class EndpointsController implements Controller {
  readonly name = 'endpoints';
  private readonly queue = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    const services = ctx.informers.for(R.services).addIndex('namespace', byNamespace);
    const pods = ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    const endpoints = ctx.informers.for(R.endpoints);
    services.addEventHandler({
      add: (s) => this.queue.add(keyOf(s)),
      update: (_o, s) => this.queue.add(keyOf(s)),
      delete: (s) => this.queue.add(keyOf(s)),
    });
    enqueueServicesOfPods(services, pods, (key) => this.queue.add(key));
    // Someone changed or deleted a managed Endpoints object: put it back.
    endpoints.addEventHandler({ update: (_o, e) => this.queue.add(keyOf(e)), delete: (e) => this.queue.add(keyOf(e)) });
    startWorkers(ctx, this.queue, 'endpoints', (k) => this.sync(ctx, k));
  }

  private async sync(ctx: ControllerContext, key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = ctx.informers.for(R.services).indexer.get(key);
    const eps = ctx.client.resource(R.endpoints);
    const current = ctx.informers.for(R.endpoints).indexer.get(key);
    if (!svc) {
      // Upstream deletes the Endpoints of a deleted Service.
      if (current && current.metadata.labels?.['endpoints.kubernetes.io/managed-by'] !== 'external') {
        try {
          await eps.delete(namespace, name);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      return;
    }
    if (!svc.spec?.selector || !Object.keys(svc.spec.selector).length) return;
    const pods = podsForService(svc, ctx.informers.for(R.pods).indexer.byIndex('namespace', namespace!));
    const subsets = computeSubsets(svc, pods);
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (svc.spec?.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
    if (current && JSON.stringify(current.subsets ?? []) === JSON.stringify(subsets) && JSON.stringify(current.metadata.labels ?? {}) === JSON.stringify(labels)) return;
    const annotations = { ...(current?.metadata.annotations ?? {}), 'endpoints.kubernetes.io/last-change-trigger-time': nowRFC3339() };
    try {
      if (!current) {
        await eps.create(namespace, { metadata: { name, namespace, labels, annotations }, subsets });
      } else {
        await eps.update({ ...current, metadata: { ...current.metadata, labels, annotations }, subsets });
      }
    } catch (e) {
      if (isConflict(e) || isAlreadyExists(e)) throw e; // retried with backoff, against a fresher cache
      if (isNotFound(e)) return;
      throw e;
    }
  }
}
