// The Service that publishes the built-in Ingress controller on every node, as k3s publishes
// Traefik: `kube-system/k8ts-ingress`, a LoadBalancer without a selector whose EndpointSlice
// (and Endpoints, for older readers) is this controller's own address. ServiceLB gives it the
// nodes' addresses, so every node's service proxy forwards its ports 80 and 443 to the
// controller, and served Ingresses report those addresses (ingress-nginx's --publish-service).
// The Service is created when the controller starts without one (like k3s's packaged manifests)
// and is otherwise its users' (they may, say, make it ClusterIP); the endpoints always follow
// the controller's current address and ports.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R, type GVR } from '../../client/resources.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';

export interface PublishedService {
  namespace: string;
  name: string;
}

export const DEFAULT_PUBLISHED_SERVICE: PublishedService = { namespace: 'kube-system', name: 'k8ts-ingress' };
const MANAGED_BY = 'k8ts-ingress';

export interface PublishedTarget {
  /** The controller's address, as the nodes reach it. */
  address: string;
  /** The ports the controller listens on. */
  httpPort: number;
  httpsPort: number;
}

/** The objects that publish the controller: the Service, its EndpointSlice and Endpoints. */
export function publishedObjects(svc: PublishedService, t: PublishedTarget): { service: KubeObject; slice: KubeObject; endpoints: KubeObject } {
  const labels = { 'app.kubernetes.io/name': 'k8ts-ingress', 'app.kubernetes.io/managed-by': MANAGED_BY };
  const ports = [
    { name: 'http', port: t.httpPort, protocol: 'TCP' },
    { name: 'https', port: t.httpsPort, protocol: 'TCP' },
  ];
  return {
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: svc.namespace, name: svc.name, labels },
      spec: {
        type: 'LoadBalancer',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP', targetPort: t.httpPort },
          { name: 'https', port: 443, protocol: 'TCP', targetPort: t.httpsPort },
        ],
      },
    },
    slice: {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { namespace: svc.namespace, name: svc.name, labels: { ...labels, 'kubernetes.io/service-name': svc.name, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [t.address], conditions: { ready: true } }],
      ports,
    },
    endpoints: {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { namespace: svc.namespace, name: svc.name, labels: { ...labels, 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: [{ ip: t.address }], ports }],
    },
  };
}

/** Makes the endpoints point at this controller; with `createService`, creates the Service if missing. */
export async function ensurePublishedService(client: Client, svc: PublishedService, t: PublishedTarget, o: { createService: boolean }): Promise<void> {
  const want = publishedObjects(svc, t);
  if (o.createService) {
    try {
      await client.resource(R.services).create(svc.namespace, want.service);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  await reconcile(client, R.endpointslices, want.slice, (o) => JSON.stringify([o.endpoints, o.ports]));
  await reconcile(client, R.endpoints, want.endpoints, (o) => JSON.stringify(o.subsets));
}

/** Creates `want`, or replaces the stored object's content when `content` differs. */
async function reconcile(client: Client, gvr: GVR, want: KubeObject, content: (o: Record<string, unknown>) => string): Promise<void> {
  const rc = client.resource(gvr);
  const { namespace, name } = want.metadata;
  for (let attempt = 0; ; attempt++) {
    try {
      const cur = await rc.get(namespace, name!).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
      if (!cur) {
        await rc.create(namespace, want);
        return;
      }
      if (content(cur as Record<string, unknown>) === content(want as Record<string, unknown>)) return;
      await rc.update({ ...want, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...want.metadata.labels } } });
      return;
    } catch (e) {
      // Another writer (a second server, a restart) got there first: look again.
      if (attempt >= 4 || !(isConflict(e) || isAlreadyExists(e) || isNotFound(e))) throw e;
    }
  }
}
