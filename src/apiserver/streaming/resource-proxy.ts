// pods/proxy and services/proxy: HTTP from the API server to a pod's IP (upstream's
// pod and service ResourceLocation). The name segment may carry a scheme and port:
// `[scheme:]name[:port]`; a service port is matched by name or number and a ready endpoint
// address is chosen at random. Upstream also rewrites links in proxied HTML; k8ts does not.

import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { upgradeRequestHeaders } from '../../machinery/httpstream/upgrade-proxy.js';

export interface ProxyTarget {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

/** Splits `[scheme:]name[:port]` as upstream's net.SplitSchemeNamePort does. */
export function splitSchemeNamePort(id: string): { scheme: string; name: string; port: string } | undefined {
  const parts = id.split(':');
  if (parts.length === 1) return { scheme: '', name: parts[0], port: '' };
  if (parts.length === 2) return { scheme: '', name: parts[0], port: parts[1] };
  if (parts.length === 3 && (parts[0] === 'http' || parts[0] === 'https')) return { scheme: parts[0], name: parts[1], port: parts[2] };
  return undefined;
}

/**
 * Where a pods/proxy request goes: the pod IP and the given port; with none, the first port
 * the pod's containers declare (as upstream), else the scheme's default.
 */
export function podProxyTarget(pod: KubeObject, scheme: string, port: string): ProxyTarget {
  const name = pod.metadata?.name ?? '';
  const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
  if (!ip) throw StatusError.serviceUnavailable(`pod ${name} has no IP address yet`);
  const https = scheme === 'https';
  const declared = ((pod.spec as { containers?: { ports?: { name?: string; containerPort: number }[] }[] } | undefined)?.containers ?? []).flatMap((c) => c.ports ?? []);
  let p = declared[0]?.containerPort ?? (https ? 443 : 80);
  if (port) {
    p = Number(port);
    if (!/^\d+$/.test(port) || p < 1 || p > 65535) {
      // A named port of one of the pod's containers.
      const named = declared.find((x) => x.name === port);
      if (!named) throw StatusError.badRequest(`pod ${name} has no port named ${port}`);
      p = named.containerPort;
    }
  }
  return { scheme: https ? 'https' : 'http', host: ip, port: p };
}

/** Where a services/proxy request goes: a ready endpoint of the matching service port. */
export function serviceProxyTarget(service: KubeObject, endpoints: KubeObject | undefined, scheme: string, port: string): ProxyTarget {
  const name = service.metadata?.name ?? '';
  const ports = ((service.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports ?? []);
  const svcPort = port ? ports.find((p) => p.name === port || String(p.port) === port) : ports.length === 1 ? ports[0] : ports.find((p) => !p.name);
  if (!svcPort) throw StatusError.serviceUnavailable(`no endpoints available for service "${name}"`);
  const portName = svcPort.name ?? '';
  const subsets = ((endpoints as { subsets?: { addresses?: { ip: string }[]; ports?: { name?: string; port: number }[] }[] } | undefined)?.subsets ?? []);
  const candidates: ProxyTarget[] = [];
  for (const ss of subsets) {
    const ep = (ss.ports ?? []).find((p) => (p.name ?? '') === portName);
    if (!ep) continue;
    for (const a of ss.addresses ?? []) candidates.push({ scheme: scheme === 'https' ? 'https' : 'http', host: a.ip, port: ep.port });
  }
  if (!candidates.length) throw StatusError.serviceUnavailable(`no endpoints available for service "${name}"`);
  return candidates[Math.floor(Math.random() * candidates.length)];
}

/** Sends the request on to the target and streams the answer back. */
export async function proxyHTTP(req: IncomingMessage, res: ServerResponse, target: ProxyTarget, path: string, query: URLSearchParams): Promise<void> {
  const headers = upgradeRequestHeaders(req.headers);
  delete headers.connection;
  const search = query.toString();
  const opts = {
    host: target.host,
    port: target.port,
    method: req.method,
    path: (path || '/') + (search ? `?${search}` : ''),
    headers,
    agent: false as const,
    timeout: 30_000,
  };
  const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
    // Upstream does not verify pods' certificates either (they are not the cluster's).
    const r = target.scheme === 'https' ? httpsRequest({ ...opts, rejectUnauthorized: false }, resolve) : httpRequest(opts, resolve);
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    if (req.method === 'GET' || req.method === 'HEAD') r.end();
    else req.pipe(r);
  }).catch((e: Error) => {
    throw new StatusError(503, 'ServiceUnavailable', `error trying to reach service: ${e.message}`);
  });
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(upstream.headers)) {
    if (v === undefined || ['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) continue;
    out[k] = v;
  }
  res.writeHead(upstream.statusCode ?? 502, out);
  upstream.pipe(res);
  await new Promise<void>((resolve) => res.on('close', resolve));
}
