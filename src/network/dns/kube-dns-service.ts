// The `kube-dns` Service in kube-system and its endpoints. k8ts serves cluster DNS in-process
// rather than from pods, so the Service has no selector (the endpoints and EndpointSlice
// controllers leave selector-less Services alone) and this code writes the Endpoints and the
// EndpointSlice itself, pointing at the DNS server's listen address. The service proxy then
// DNATs <clusterIP>:53 to that address as for any other Service.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';

export const KUBE_DNS_NAMESPACE = 'kube-system';
export const KUBE_DNS_NAME = 'kube-dns';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'k8ts-dns';
/** The slice's name: the Service's name plus a fixed suffix (there is only ever one). */
export const KUBE_DNS_SLICE = 'kube-dns-k8ts';

/** The tenth address of an IPv4 service CIDR (10.43.0.0/16 → 10.43.0.10), kubeadm's and k3s's choice. */
export function clusterDNSIP(serviceCIDR: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(serviceCIDR.trim());
  const octets = m?.slice(1, 5).map(Number);
  const bits = Number(m?.[5]);
  if (!m || octets!.some((o) => o > 255) || bits > 28) throw new Error(`invalid IPv4 service CIDR ${JSON.stringify(serviceCIDR)}: want a.b.c.d/n with n <= 28`);
  const base = octets!.reduce((a, o) => a * 256 + o, 0);
  const network = bits === 0 ? 0 : Math.floor(base / 2 ** (32 - bits)) * 2 ** (32 - bits);
  const ip = network + 10;
  return [24, 16, 8, 0].map((s) => Math.floor(ip / 2 ** s) % 256).join('.');
}

export interface KubeDNSServiceOptions {
  /** --service-cluster-ip-range; the Service gets its tenth address unless clusterIP is given. */
  serviceCIDR?: string;
  clusterIP?: string;
  /** Where the DNS server listens (UDP and TCP): the endpoint the proxy forwards to. */
  endpoint: { ip: string; port: number };
  /** The node serving it, recorded on the endpoint. */
  nodeName?: string;
  /** The port of a metrics listener, if one runs; without it the metrics port has no endpoint. */
  metricsPort?: number;
}

export interface KubeDNSObjects {
  service: KubeObject;
  endpoints: KubeObject;
  endpointSlice: KubeObject;
}

/** Creates or repairs the kube-dns Service, its Endpoints and its EndpointSlice. Idempotent. */
export async function ensureKubeDNSService(client: Client, opts: KubeDNSServiceOptions): Promise<KubeDNSObjects> {
  const clusterIP = opts.clusterIP ?? clusterDNSIP(opts.serviceCIDR ?? '10.43.0.0/16');
  const service = await ensureService(client, clusterIP);
  const ports = [
    { name: 'dns', port: opts.endpoint.port, protocol: 'UDP' },
    { name: 'dns-tcp', port: opts.endpoint.port, protocol: 'TCP' },
    ...(opts.metricsPort ? [{ name: 'metrics', port: opts.metricsPort, protocol: 'TCP' }] : []),
  ];
  const endpoints = await upsert(client.resource(R.endpoints), {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: KUBE_DNS_NAME,
      namespace: KUBE_DNS_NAMESPACE,
      // No EndpointSlice mirroring: this code writes the slice itself.
      labels: { ...serviceLabels(), 'endpointslice.kubernetes.io/skip-mirror': 'true' },
    },
    subsets: [{ addresses: [{ ip: opts.endpoint.ip, ...(opts.nodeName ? { nodeName: opts.nodeName } : {}) }], ports }],
  });
  const endpointSlice = await upsert(client.resource(R.endpointslices), {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: KUBE_DNS_SLICE,
      namespace: KUBE_DNS_NAMESPACE,
      labels: { ...serviceLabels(), 'kubernetes.io/service-name': KUBE_DNS_NAME, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: KUBE_DNS_NAME, uid: service.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: [opts.endpoint.ip],
        conditions: { ready: true, serving: true, terminating: false },
        ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      },
    ],
    ports,
  });
  return { service, endpoints, endpointSlice };
}

function serviceLabels(): Record<string, string> {
  return { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' };
}

function desiredService(clusterIP: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: KUBE_DNS_NAME,
      namespace: KUBE_DNS_NAMESPACE,
      labels: serviceLabels(),
      annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP,
      clusterIPs: [clusterIP],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
      ],
    },
  };
}

async function ensureService(client: Client, clusterIP: string): Promise<KubeObject> {
  const services = client.resource(R.services);
  const want = desiredService(clusterIP);
  for (let attempt = 0; ; attempt++) {
    let cur: KubeObject | undefined;
    try {
      cur = await services.get(KUBE_DNS_NAMESPACE, KUBE_DNS_NAME);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    try {
      if (!cur) return await services.create(KUBE_DNS_NAMESPACE, want);
      // A ClusterIP cannot be changed in place: a wrong one means a new Service.
      if (cur.spec?.clusterIP !== clusterIP) {
        await services.delete(KUBE_DNS_NAMESPACE, KUBE_DNS_NAME, { preconditions: { uid: cur.metadata.uid } });
        continue;
      }
      const selector = cur.spec?.selector;
      const drift = (selector && Object.keys(selector).length) || cur.spec?.type !== 'ClusterIP' || !samePorts(cur.spec?.ports, want.spec.ports);
      if (!drift) return cur;
      const next = structuredClone(cur);
      delete next.spec.selector;
      next.spec.type = 'ClusterIP';
      next.spec.ports = want.spec.ports;
      next.metadata.labels = { ...next.metadata.labels, ...want.metadata.labels };
      return await services.update(next);
    } catch (e) {
      if (attempt < 5 && (isConflict(e) || isAlreadyExists(e) || isNotFound(e))) continue;
      throw e;
    }
  }
}

function samePorts(a: unknown, b: unknown): boolean {
  const norm = (ps: unknown) => ((ps ?? []) as { name?: string; port: number; protocol?: string }[]).map((p) => `${p.name}/${p.port}/${p.protocol ?? 'TCP'}`).sort().join(',');
  return norm(a) === norm(b);
}

/** Creates the object, or rewrites the stored one when its content differs (retrying conflicts). */
async function upsert(rc: ReturnType<Client['resource']>, want: KubeObject): Promise<KubeObject> {
  const { namespace, name } = want.metadata;
  for (let attempt = 0; ; attempt++) {
    try {
      let cur: KubeObject | undefined;
      try {
        cur = await rc.get(namespace, name!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (!cur) return await rc.create(namespace, want);
      const { metadata: _m, apiVersion: _a, kind: _k, ...body } = want;
      const { metadata: _cm, apiVersion: _ca, kind: _ck, ...curBody } = cur;
      const sameLabels = Object.entries(want.metadata.labels ?? {}).every(([k, v]) => cur.metadata.labels?.[k] === v);
      const sameOwner = JSON.stringify(cur.metadata.ownerReferences ?? []) === JSON.stringify(want.metadata.ownerReferences ?? []);
      if (sameLabels && sameOwner && isSubset(body, curBody)) return cur;
      return await rc.update({ ...cur, ...body, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...want.metadata.labels }, ownerReferences: want.metadata.ownerReferences } });
    } catch (e) {
      if (attempt < 5 && (isConflict(e) || isAlreadyExists(e))) continue;
      throw e;
    }
  }
}

/** Every field of `want` is present and equal in `have` (the server may add defaults). */
function isSubset(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && want.length === have.length && want.every((w, i) => isSubset(w, have[i]));
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object') return false;
    return Object.entries(want).every(([k, v]) => v === undefined || isSubset(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}
