// Objects every cluster starts with: the four system namespaces and the `kubernetes` Service
// in `default`, with its Endpoints and EndpointSlice (written here, as upstream's endpoint
// reconciler does: the Service has no selector, and mirroring is skipped by label), created
// through the REST stores like any client write.

import type { KubeObject } from '../api/meta/v1.js';
import { StatusError } from '../machinery/errors.js';
import type { RequestContext, WriteOptions } from './context.js';
import type { ApiServer } from './server.js';

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface BootstrapOptions {
  /** First address of the service CIDR (10.43.0.1 for the default 10.43.0.0/16). */
  kubernetesServiceIP: string;
  /** Address and port clients inside the cluster reach the API server at. */
  endpointIP: string;
  securePort: number;
}

const ctx = (): RequestContext => ({ userAgent: 'k8ts-apiserver', warnings: [] });
const opts: WriteOptions = { dryRun: false, fieldValidation: 'Strict', subresource: '', fieldManager: 'k8ts-apiserver' };

async function ensure(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
}

export async function bootstrapObjects(server: ApiServer, o: BootstrapOptions): Promise<void> {
  const namespaces = server.resourceStore('', 'v1', 'namespaces');
  for (const name of SYSTEM_NAMESPACES) {
    await ensure(() => namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } }, opts, ctx()));
  }
  // The namespace cache must see them before namespaced creates are admitted.
  await namespacesReady(server);
  const services = server.resourceStore('', 'v1', 'services');
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: o.kubernetesServiceIP,
      clusterIPs: [o.kubernetesServiceIP],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: o.securePort }],
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
  };
  // Look first: on a restart the stored Service already holds the IP, and the allocator would
  // refuse a second claim on it before the create could report AlreadyExists.
  if (!(await services.getStored('default', 'kubernetes'))) await ensure(() => services.create('default', svc, opts, ctx()));
  const port = { name: 'https', port: o.securePort, protocol: 'TCP' };
  // This server's address replaces what a previous start (another address or port) left.
  await reconcile(server.resourceStore('', 'v1', 'endpoints'), {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: o.endpointIP }], ports: [port] }],
  }, (cur) => JSON.stringify(cur.subsets));
  await reconcile(server.resourceStore('discovery.k8s.io', 'v1', 'endpointslices'), {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [o.endpointIP], conditions: { ready: true } }],
    ports: [port],
  }, (cur) => JSON.stringify([cur.endpoints, cur.ports]));
}

type Store = ReturnType<ApiServer['resourceStore']>;

/** Creates `want`, or rewrites the stored object when `key` (its content) differs. */
async function reconcile(store: Store, want: KubeObject, key: (o: KubeObject) => string): Promise<void> {
  const { name, namespace } = want.metadata;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await store.getStored(namespace, name!);
    try {
      if (!cur) {
        await store.create(namespace, want, opts, ctx());
        return;
      }
      const next = { ...want, metadata: { ...cur.obj.metadata, labels: { ...cur.obj.metadata.labels, ...want.metadata.labels } } };
      if (key(cur.obj) === key(next)) return;
      await store.update(namespace, name!, next, opts, ctx());
      return;
    } catch (e) {
      // Someone else wrote it meanwhile (a second server, a restart race): look again.
      if (!(e instanceof StatusError && (e.code === 409 || e.code === 404))) throw e;
    }
  }
}

async function namespacesReady(server: ApiServer): Promise<void> {
  const cache = server.dispatcher.cacheFor('/registry/namespaces/');
  for (let i = 0; i < 100 && !cache.get('/registry/namespaces/default'); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
