// Service link variables (docker-link style), as the kubelet sets them for every Service of the
// pod's namespace when enableServiceLinks is on, and for `kubernetes` always:
// https://kubernetes.io/docs/concepts/services-networking/service/#environment-variables

import type { KubeObject } from '../../api/meta/v1.js';
import type { KeyValue } from '../runtime/runtime.js';

const envName = (s: string) => s.replace(/-/g, '_').toUpperCase();

const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

function hasClusterIP(svc: KubeObject): boolean {
  const ip = svc.spec?.clusterIP;
  return !!ip && ip !== 'None';
}

/** FOO_SERVICE_HOST, FOO_SERVICE_PORT[_NAME], FOO_PORT, FOO_PORT_80_TCP[_PROTO|_PORT|_ADDR]. */
export function serviceEnvVars(services: KubeObject[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (const svc of services) {
    const ports: { name?: string; port: number; protocol?: string }[] = svc.spec?.ports ?? [];
    if (!hasClusterIP(svc) || !ports.length) continue;
    const ip: string = svc.spec.clusterIP;
    const prefix = envName(svc.metadata.name ?? '');
    out.push({ key: `${prefix}_SERVICE_HOST`, value: ip });
    out.push({ key: `${prefix}_SERVICE_PORT`, value: String(ports[0].port) });
    for (const p of ports) if (p.name) out.push({ key: `${prefix}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
    ports.forEach((p, i) => {
      const proto = (p.protocol || 'TCP').toLowerCase();
      const url = `${proto}://${hostPort(ip, p.port)}`;
      if (i === 0) out.push({ key: `${prefix}_PORT`, value: url });
      const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push({ key: pp, value: url }, { key: `${pp}_PROTO`, value: proto }, { key: `${pp}_PORT`, value: String(p.port) }, { key: `${pp}_ADDR`, value: ip });
    });
  }
  return out;
}

/** The `kubernetes` Service as the agent knows it from its flags (default/kubernetes, port https). */
export function masterService(ip: string, port = 443): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default' },
    spec: { clusterIP: ip, ports: [{ name: 'https', port, protocol: 'TCP' }] },
  };
}

/**
 * The Services whose variables a pod gets: those of its namespace when service links are on, and
 * default/kubernetes always (the pod's own namespace wins on a name clash, as upstream).
 */
export function servicesForPod(namespace: string, enableServiceLinks: boolean, services: KubeObject[], master?: KubeObject): KubeObject[] {
  const byName = new Map<string, KubeObject>();
  if (enableServiceLinks) for (const s of services) if ((s.metadata.namespace ?? namespace) === namespace && s.metadata.name) byName.set(s.metadata.name, s);
  if (master && !byName.has('kubernetes')) byName.set('kubernetes', master);
  return [...byName.keys()].sort().map((k) => byName.get(k)!);
}
