// From Services and their EndpointSlices to what the rules need: one entry per service port with
// its virtual addresses and the endpoints chosen by the traffic policies, as upstream's
// CategorizeEndpoints does (ready endpoints; serving-but-terminating ones only when none is ready).

import type { KubeObject } from '../../api/meta/v1.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Endpoint {
  ip: string;
  port: number;
  nodeName?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  /** "ip:port", the endpoint's identity. */
  key: string;
}

export interface ServicePortInfo {
  /** "ns/name:portName" (":portName" only when the port is named): upstream's ServicePortName. */
  name: string;
  /** "ns/name". */
  service: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  nodePort?: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** spec.loadBalancerSourceRanges (valid IPv4 CIDRs): who may use the load-balancer IPs. */
  loadBalancerSourceRanges: string[];
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  /** Seconds, when sessionAffinity is ClientIP. */
  affinitySeconds?: number;
  /** Every usable endpoint (ready, else serving-terminating), deduplicated, sorted. */
  allEndpoints: Endpoint[];
  /** The ones for cluster-internal traffic (all, or only this node's with internalTrafficPolicy Local). */
  clusterEndpoints: Endpoint[];
  /** This node's usable endpoints (for the Local policies). */
  localEndpoints: Endpoint[];
}

const DEFAULT_AFFINITY_SECONDS = 10800;

function isIPv4(s: unknown): s is string {
  return typeof s === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(s);
}

/** Usable endpoints as upstream picks them: ready ones, or serving-terminating ones if none is ready. */
function usable(eps: Endpoint[]): Endpoint[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length ? ready : eps.filter((e) => e.serving && e.terminating);
}

/** Groups EndpointSlices by "ns/service" through the kubernetes.io/service-name label. */
export function slicesByService(slices: KubeObject[]): Map<string, KubeObject[]> {
  const out = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc || (s as { addressType?: string }).addressType !== 'IPv4') continue;
    const k = `${s.metadata.namespace}/${svc}`;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(s);
  }
  return out;
}

interface SlicePort {
  name?: string;
  port?: number;
  protocol?: string;
}
interface SliceEndpoint {
  addresses?: string[];
  nodeName?: string;
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
}

/**
 * The proxied ports of one Service. ExternalName and headless Services (clusterIP None or unset)
 * give none; neither do ports whose protocol iptables cannot match.
 */
export function servicePorts(svc: KubeObject, slices: KubeObject[], nodeName: string): ServicePortInfo[] {
  const spec = (svc.spec ?? {}) as Record<string, any>;
  if (spec.type === 'ExternalName') return [];
  const clusterIP = spec.clusterIP;
  if (!isIPv4(clusterIP)) return [];
  const service = `${svc.metadata.namespace}/${svc.metadata.name}`;
  const status = (svc.status ?? {}) as Record<string, any>;
  const isLB = spec.type === 'LoadBalancer';
  // ipMode Proxy: the load balancer rewrites the destination itself, so its IP is not captured here.
  const isNodePort = isLB || spec.type === 'NodePort';
  const lbIPs: string[] = isLB ? ((status.loadBalancer?.ingress ?? []) as { ip?: string; ipMode?: string }[]).filter((i) => i.ipMode !== 'Proxy').map((i) => i.ip).filter(isIPv4) : [];
  const sourceRanges: string[] = ((spec.loadBalancerSourceRanges ?? []) as unknown[])
    .filter((r): r is string => typeof r === 'string')
    .map((r) => r.trim())
    .filter((r) => /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(r));
  const externalIPs: string[] = ((spec.externalIPs ?? []) as unknown[]).filter(isIPv4);
  const affinity = spec.sessionAffinity === 'ClientIP' ? (Number(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds) || DEFAULT_AFFINITY_SECONDS) : undefined;
  const out: ServicePortInfo[] = [];
  for (const p of (spec.ports ?? []) as Record<string, any>[]) {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') continue;
    if (!Number.isInteger(p.port)) continue;
    const portName: string = p.name ?? '';
    // Endpoints of this port: the slice port with the same name and protocol.
    const byKey = new Map<string, Endpoint>();
    for (const slice of slices) {
      const sp = ((slice as { ports?: SlicePort[] }).ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol);
      if (!sp || !Number.isInteger(sp.port)) continue;
      for (const e of ((slice as { endpoints?: SliceEndpoint[] }).endpoints ?? [])) {
        const ip = e.addresses?.[0];
        if (!isIPv4(ip)) continue;
        const c = e.conditions ?? {};
        const ready = c.ready !== false;
        const ep: Endpoint = {
          ip,
          port: sp.port!,
          nodeName: e.nodeName,
          ready,
          serving: c.serving == null ? ready : c.serving,
          terminating: c.terminating === true,
          key: `${ip}:${sp.port}`,
        };
        // Duplicates across slices (during a rebalance): keep the readier one.
        const prev = byKey.get(ep.key);
        if (!prev || (!prev.ready && ep.ready)) byKey.set(ep.key, ep);
      }
    }
    const all = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const allEndpoints = usable(all);
    const localEndpoints = usable(all.filter((e) => e.nodeName === nodeName));
    const internalPolicyLocal = spec.internalTrafficPolicy === 'Local';
    out.push({
      name: portName ? `${service}:${portName}` : service,
      service,
      protocol,
      clusterIP,
      port: p.port,
      nodePort: isNodePort && Number.isInteger(p.nodePort) && p.nodePort > 0 ? p.nodePort : undefined,
      externalIPs,
      loadBalancerIPs: lbIPs,
      loadBalancerSourceRanges: lbIPs.length ? sourceRanges : [],
      externalPolicyLocal: (isNodePort || externalIPs.length > 0) && (spec.externalTrafficPolicy === 'Local' || spec.externalTrafficPolicy === 'OnlyLocal'),
      internalPolicyLocal,
      affinitySeconds: affinity,
      allEndpoints,
      clusterEndpoints: internalPolicyLocal ? localEndpoints : allEndpoints,
      localEndpoints,
    });
  }
  return out;
}
