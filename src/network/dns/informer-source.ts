// The resolver's RecordSource over shared informers: Services, EndpointSlices, Namespaces and
// (for `pods verified`) Pods, indexed by what DNS looks up.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer, type EventHandlers } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { indexFuncs, type PodsMode, type RecordSource } from './records.js';

export interface ClusterDNSInformers {
  source: RecordSource;
  /** Runs the informers until the signal aborts. */
  run(signal: AbortSignal): void;
  waitForSync(): Promise<void>;
}

export function informerRecordSource(client: Client, opts: { pods?: PodsMode; onError?: (resource: string, e: unknown) => void } = {}): ClusterDNSInformers {
  const onError = (resource: string) => (e: unknown) => opts.onError?.(resource, e);
  const services = new SharedInformer(client, R.services, { onError: onError('services') }).addIndex('clusterIP', indexFuncs.clusterIP);
  const slices = new SharedInformer(client, R.endpointslices, { onError: onError('endpointslices') })
    .addIndex('serviceName', indexFuncs.serviceName)
    .addIndex('address', indexFuncs.address);
  const namespaces = new SharedInformer(client, R.namespaces, { onError: onError('namespaces') });
  // Pods are only read to verify pod names: skip the (largest) watch otherwise.
  const pods = opts.pods === 'verified' ? new SharedInformer(client, R.pods, { onError: onError('pods') }).addIndex('podIP', indexFuncs.podIP) : undefined;
  const informers = [services, slices, namespaces, ...(pods ? [pods] : [])];

  let modified = Math.floor(Date.now() / 1000);
  const touch: EventHandlers = {
    add: () => (modified = Math.floor(Date.now() / 1000)),
    update: () => (modified = Math.floor(Date.now() / 1000)),
    delete: () => (modified = Math.floor(Date.now() / 1000)),
  };
  for (const inf of informers) inf.addEventHandler(touch);

  const source: RecordSource = {
    namespaceExists: (ns) => !!namespaces.indexer.getByName(undefined, ns),
    service: (ns, name) => services.indexer.getByName(ns, name),
    endpointSlices: (ns, name) => slices.indexer.byIndex('serviceName', `${ns}/${name}`),
    servicesByClusterIP: (ip) => services.indexer.byIndex('clusterIP', ip),
    endpointSlicesByAddress: (ip) => slices.indexer.byIndex('address', ip),
    podsByIP: (ip): KubeObject[] => (pods ? pods.indexer.byIndex('podIP', ip) : []),
    modified: () => modified,
  };
  return {
    source,
    run(signal) {
      for (const inf of informers) void inf.run(signal);
    },
    async waitForSync() {
      await Promise.all(informers.map((i) => i.waitForSync()));
    },
  };
}
