// From an Ingress backend (Service + port number or name) to the ready endpoints that serve it,
// read from the Service and its EndpointSlices, with a round-robin cursor per backend.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Indexer } from '../../client/informer.js';
import type { BackendRef } from './routing.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const BY_SERVICE = 'byService';

/** EndpointSlices indexed by namespace/service. */
export const sliceServiceKey = (o: KubeObject): string[] => {
  const svc = o.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? [`${o.metadata.namespace}/${svc}`] : [];
};

export interface Endpoint {
  host: string;
  port: number;
}

export type Resolution =
  | { ok: true; endpoints: Endpoint[] }
  | { ok: false; reason: 'ServiceNotFound' | 'PortNotFound' | 'NoEndpoints'; message: string };

export function backendKey(b: BackendRef): string {
  return `${b.namespace}/${b.service}:${b.port.name ?? b.port.number}`;
}

/** Resolves one backend from the informer caches. */
export function resolveBackend(b: BackendRef, services: Indexer, slices: Indexer): Resolution {
  const svc = services.getByName(b.namespace, b.service) as Obj | undefined;
  if (!svc) return { ok: false, reason: 'ServiceNotFound', message: `service "${b.namespace}/${b.service}" not found` };
  const ports = (svc.spec?.ports ?? []) as Obj[];
  const sp = b.port.name !== undefined && b.port.name !== '' ? ports.find((p) => p.name === b.port.name) : ports.find((p) => p.port === b.port.number);
  if (svc.spec?.type === 'ExternalName' && svc.spec.externalName) {
    // No endpoints: the named host itself, on the port's numeric target (or the number asked for).
    const port = typeof sp?.targetPort === 'number' ? sp.targetPort : (sp?.port ?? b.port.number);
    if (!port) return { ok: false, reason: 'PortNotFound', message: `service "${b.namespace}/${b.service}" does not have port ${b.port.name ?? b.port.number}` };
    return { ok: true, endpoints: [{ host: svc.spec.externalName, port }] };
  }
  if (!sp) return { ok: false, reason: 'PortNotFound', message: `service "${b.namespace}/${b.service}" does not have port ${b.port.name ?? b.port.number}` };
  // EndpointSlice ports carry the Service port's name and the resolved target port number.
  const portName = sp.name ?? '';
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const slice of slices.byIndex(BY_SERVICE, `${b.namespace}/${b.service}`) as Obj[]) {
    if (slice.addressType === 'FQDN') continue;
    const port = ((slice.ports ?? []) as Obj[]).find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === 'TCP');
    if (!port?.port) continue;
    for (const ep of (slice.endpoints ?? []) as Obj[]) {
      // A missing ready condition means ready (discovery.k8s.io/v1 EndpointConditions).
      if (ep.conditions?.ready === false) continue;
      for (const addr of (ep.addresses ?? []) as string[]) {
        const k = `${addr}:${port.port}`;
        if (seen.has(k)) continue; // the same endpoint may appear in two slices during updates
        seen.add(k);
        endpoints.push({ host: addr, port: port.port });
      }
    }
  }
  if (!endpoints.length) return { ok: false, reason: 'NoEndpoints', message: `service "${b.namespace}/${b.service}" has no ready endpoints` };
  return { ok: true, endpoints };
}

/** Caches resolutions until the next change of Services or EndpointSlices; keeps cursors. */
export class BackendPool {
  private cache = new Map<string, Resolution>();
  private readonly cursors = new Map<string, number>();

  constructor(
    private readonly services: Indexer,
    private readonly slices: Indexer,
  ) {}

  invalidate(): void {
    this.cache = new Map();
  }

  resolve(b: BackendRef): Resolution {
    const k = backendKey(b);
    let r = this.cache.get(k);
    if (!r) this.cache.set(k, (r = resolveBackend(b, this.services, this.slices)));
    return r;
  }

  /** The endpoints in the order to try them: round-robin start, then the rest. */
  order(b: BackendRef, endpoints: Endpoint[]): Endpoint[] {
    const k = backendKey(b);
    const start = (this.cursors.get(k) ?? 0) % endpoints.length;
    this.cursors.set(k, start + 1);
    return start === 0 ? endpoints : [...endpoints.slice(start), ...endpoints.slice(0, start)];
  }
}
