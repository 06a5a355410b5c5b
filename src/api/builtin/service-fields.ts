// Service spec fields that depend on the type: which types hold a ClusterIP or NodePorts, the
// values a stored Service holds, and how an update carries them over (upstream
// patchAllocatedValues, dropTypeDependentFields and normalizeClusterIPs). The allocation itself is
// the API server's (apiserver/registry/service-allocator.ts).

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const needsClusterIP = (svc: Obj) => (svc.spec?.type ?? 'ClusterIP') !== 'ExternalName';
export const needsNodePorts = (svc: Obj) => svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
/** Whether ports without a nodePort get one (LoadBalancers may opt out). */
export const allocatesNodePorts = (svc: Obj) => svc.spec?.type === 'NodePort' || (svc.spec?.type === 'LoadBalancer' && svc.spec?.allocateLoadBalancerNodePorts !== false);
export const needsHealthCheckNodePort = (svc: Obj) => svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local';

/** The ClusterIPs a stored Service holds (not "None"). */
export function serviceClusterIPs(svc: Obj): string[] {
  if (!needsClusterIP(svc)) return [];
  const ips: string[] = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

/** The NodePorts (including the health check port) a stored Service holds. */
export function serviceNodePorts(svc: Obj): number[] {
  const out = new Set<number>();
  for (const p of (svc.spec?.ports ?? []) as Obj[]) if (typeof p.nodePort === 'number' && p.nodePort > 0) out.add(p.nodePort);
  if (typeof svc.spec?.healthCheckNodePort === 'number' && svc.spec.healthCheckNodePort > 0) out.add(svc.spec.healthCheckNodePort);
  return [...out];
}

/**
 * Before an update: fill in values the client left out but the Service already holds, and drop
 * values the new type no longer needs when the client did not change them (upstream
 * patchAllocatedValues and dropTypeDependentFields). Pure; runs before validation.
 */
export function patchServiceUpdate(next: Obj, old: Obj): void {
  const spec = (next.spec ??= {});
  const o = old.spec ?? {};
  if (needsClusterIP(old) && needsClusterIP(next)) {
    if (!spec.clusterIP && o.clusterIP) spec.clusterIP = o.clusterIP;
    if (!spec.clusterIPs?.length && o.clusterIPs?.length) spec.clusterIPs = [...o.clusterIPs];
    if (!spec.ipFamilies?.length && o.ipFamilies?.length) spec.ipFamilies = [...o.ipFamilies];
    if (!spec.ipFamilyPolicy && o.ipFamilyPolicy) spec.ipFamilyPolicy = o.ipFamilyPolicy;
  }
  if (needsNodePorts(old) && needsNodePorts(next)) {
    const inNew = new Set(((spec.ports ?? []) as Obj[]).map((p) => p.nodePort).filter(Boolean));
    const byName = new Map<string, number>();
    for (const p of (o.ports ?? []) as Obj[]) if (p.nodePort) byName.set(p.name ?? '', p.nodePort);
    for (const p of (spec.ports ?? []) as Obj[]) {
      if (p.nodePort) continue;
      const prev = byName.get(p.name ?? '');
      if (prev && !inNew.has(prev)) {
        p.nodePort = prev;
        inNew.add(prev);
      }
    }
  }
  if (needsHealthCheckNodePort(old) && needsHealthCheckNodePort(next) && !spec.healthCheckNodePort && o.healthCheckNodePort) {
    spec.healthCheckNodePort = o.healthCheckNodePort;
  }
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (needsClusterIP(old) && !needsClusterIP(next)) {
    if (same(spec.clusterIP, o.clusterIP) && same(spec.clusterIPs, o.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (same(spec.ipFamilies, o.ipFamilies)) delete spec.ipFamilies;
    if (same(spec.ipFamilyPolicy, o.ipFamilyPolicy)) delete spec.ipFamilyPolicy;
  }
  if (needsNodePorts(old) && !needsNodePorts(next)) {
    const oldPorts = new Map(((o.ports ?? []) as Obj[]).map((p) => [`${p.port}/${p.protocol ?? 'TCP'}`, p.nodePort]));
    const unchanged = ((spec.ports ?? []) as Obj[]).every((p) => !p.nodePort || oldPorts.get(`${p.port}/${p.protocol ?? 'TCP'}`) === p.nodePort);
    if (unchanged) for (const p of (spec.ports ?? []) as Obj[]) delete p.nodePort;
  }
  if (needsHealthCheckNodePort(old) && !needsHealthCheckNodePort(next) && same(spec.healthCheckNodePort, o.healthCheckNodePort)) {
    delete spec.healthCheckNodePort;
  }
  if (spec.type !== 'LoadBalancer' && old.spec?.type === 'LoadBalancer' && same(spec.allocateLoadBalancerNodePorts, o.allocateLoadBalancerNodePorts)) {
    delete spec.allocateLoadBalancerNodePorts;
  }
}

/** clusterIP and clusterIPs[0] describe the same thing: fill whichever the client left out. */
export function normalizeClusterIPs(svc: Obj): void {
  const spec = svc.spec;
  if (!spec) return;
  if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
  else if (!spec.clusterIP && spec.clusterIPs?.length) spec.clusterIP = spec.clusterIPs[0];
}
