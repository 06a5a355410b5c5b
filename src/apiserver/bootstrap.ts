// Objects every cluster starts with: the four system namespaces and the `kubernetes` Service
// (with its Endpoints) in `default`, created through the REST stores like any client write.

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
  const endpoints = server.resourceStore('', 'v1', 'endpoints');
  const ep: KubeObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: o.endpointIP }], ports: [{ name: 'https', port: o.securePort, protocol: 'TCP' }] }],
  };
  await ensure(() => endpoints.create('default', ep, opts, ctx()));
}

async function namespacesReady(server: ApiServer): Promise<void> {
  const cache = server.dispatcher.cacheFor('/registry/namespaces/');
  for (let i = 0; i < 100 && !cache.get('/registry/namespaces/default'); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
