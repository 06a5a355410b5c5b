// How the API server reaches a node's kubelet: the address and port from the Node object,
// TLS with the API server's kubelet client certificate, the kubelet's serving certificate
// verified against the cluster CA (and, by Node's default check, against the address dialled).

import { request, type RequestOptions } from 'node:https';
import type { IncomingMessage, ClientRequest } from 'node:http';
import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import type { BackendTLS } from '../../machinery/httpstream/upgrade-proxy.js';

export interface KubeletClientConfig {
  /** Client certificate and key (CN kube-apiserver-kubelet-client). */
  cert: string;
  key: string;
  /** CA that signed the kubelets' serving certificates. */
  ca: string;
}

/** Upstream's default kubelet port when a Node does not report one. */
export const DEFAULT_KUBELET_PORT = 10250;
/** Address types tried in order (upstream's --kubelet-preferred-address-types, InternalIP first). */
const ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS'];

/** The kubelet's base URL (`https://host:port`) for a Node object. */
export function kubeletURL(node: KubeObject): URL {
  const name = node.metadata?.name ?? '';
  const addresses = ((node.status as { addresses?: { type: string; address: string }[] } | undefined)?.addresses ?? []).filter((a) => a?.address);
  let host: string | undefined;
  for (const t of ADDRESS_TYPES) {
    host = addresses.find((a) => a.type === t)?.address;
    if (host) break;
  }
  if (!host) throw StatusError.badRequest(`node ${name} has no known addresses`);
  const port = Number((node.status as { daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } | undefined)?.daemonEndpoints?.kubeletEndpoint?.Port) || DEFAULT_KUBELET_PORT;
  return new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
}

export function backendTLS(c: KubeletClientConfig): BackendTLS {
  return { ca: c.ca, cert: c.cert, key: c.key };
}

/** A plain request to the kubelet; resolves with the response (the caller reads or pipes it). */
export function kubeletRequest(
  c: KubeletClientConfig,
  url: URL,
  o: { method?: string; headers?: Record<string, string | string[]>; body?: NodeJS.ReadableStream; signal?: AbortSignal },
): Promise<{ res: IncomingMessage; req: ClientRequest }> {
  return new Promise((resolve, reject) => {
    const opts: RequestOptions = {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: url.pathname + url.search,
      method: o.method ?? 'GET',
      headers: o.headers,
      ca: c.ca,
      cert: c.cert,
      key: c.key,
      agent: false,
      minVersion: 'TLSv1.2',
      signal: o.signal,
    };
    const req = request(opts, (res) => resolve({ res, req }));
    req.on('error', reject);
    if (o.body) o.body.pipe(req);
    else req.end();
  });
}

/** Reads at most `max` bytes of a response body. */
export async function readSome(res: IncomingMessage, max = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    if (n < max) chunks.push(c as Buffer);
    n += (c as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, max);
}

/** Turns a kubelet's non-2xx answer into the API error a client sees (upstream's GenericHttpResponseChecker). */
export function kubeletError(code: number, body: string, gr: { group: string; resource: string }, name: string): StatusError {
  const text = extractMessage(body);
  if (code === 400) return StatusError.badRequest(text);
  if (code === 404) return StatusError.notFound(gr, name);
  if (code === 401 || code === 403) return StatusError.forbidden(gr, name, text);
  return StatusError.internal(text);
}

/** A Status JSON's message, or the text as it is. */
export function extractMessage(body: string): string {
  const t = body.trim();
  if (t.startsWith('{')) {
    try {
      const j = JSON.parse(t);
      if (j && typeof j.message === 'string') return j.message;
    } catch {
      // not JSON after all
    }
  }
  return t;
}
