// The API server's streaming subresources, served by proxying to the pod's kubelet:
//   pods/log                       GET → kubelet /containerLogs, body streamed through
//   pods/exec, pods/attach         SPDY: upgrade proxied raw; WebSocket v5/v4: translated to SPDY
//   pods/portforward               SPDY: proxied raw; WebSocket `SPDY/3.1+portforward.k8s.io`:
//                                  SPDY tunnelled in binary messages, bytes copied both ways
//   nodes/{name}/proxy/{path}      any method (and upgrades) → kubelet /{path}
//   pods/proxy, services/proxy     any method (and upgrades) → the pod IP (resource-proxy.ts)
// Validation and messages follow upstream's pod registry (LogLocation, ExecLocation, ...).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { dialUpgrade, proxyUpgrade, statusText, upgradeRequestHeaders, writeRawResponse } from '../../machinery/httpstream/upgrade-proxy.js';
import { backendTLS, kubeletError, kubeletRequest, kubeletURL, readSome, type KubeletClientConfig } from './kubelet-client.js';
import { podProxyTarget, proxyHTTP, serviceProxyTarget, splitSchemeNamePort, type ProxyTarget } from './resource-proxy.js';
import { acceptWebSocket, offeredProtocols, translateRemoteCommand, TRANSLATED_PROTOCOLS, type StreamFlags } from './remote-command.js';

export type StreamingRoute =
  | { kind: 'pod'; verb: 'log' | 'exec' | 'attach' | 'portforward'; namespace: string; name: string }
  | { kind: 'node-proxy'; name: string; path: string }
  | { kind: 'pod-proxy'; namespace: string; id: string; path: string }
  | { kind: 'service-proxy'; namespace: string; id: string; path: string };

export interface StreamingDeps {
  /** The pod, or a NotFound StatusError. */
  getPod(namespace: string, name: string): Promise<KubeObject>;
  getNode(name: string): Promise<KubeObject>;
  getService(namespace: string, name: string): Promise<KubeObject>;
  /** The service's Endpoints, undefined when there are none. */
  getEndpoints(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** The API server's kubelet client credentials; without them streaming answers 503. */
  kubelet?: KubeletClientConfig;
}

const TUNNEL_PREFIX = 'SPDY/3.1+';
const PORT_FORWARD_PROTOCOL = 'portforward.k8s.io';

/** Recognises streaming paths of the core group (the segments after /api/v1). */
export function matchStreamingRoute(parts: string[]): StreamingRoute | undefined {
  const segs = parts.map((s) => decodeURIComponent(s));
  if (segs[0] === 'namespaces' && segs[2] === 'pods' && segs.length === 5 && ['log', 'exec', 'attach', 'portforward'].includes(segs[4])) {
    return { kind: 'pod', verb: segs[4] as 'log', namespace: segs[1], name: segs[3] };
  }
  if (segs[0] === 'namespaces' && (segs[2] === 'pods' || segs[2] === 'services') && segs.length >= 5 && segs[4] === 'proxy') {
    const path = '/' + parts.slice(5).join('/');
    return segs[2] === 'pods' ? { kind: 'pod-proxy', namespace: segs[1], id: segs[3], path } : { kind: 'service-proxy', namespace: segs[1], id: segs[3], path };
  }
  if (segs[0] === 'nodes' && segs.length >= 3 && segs[2] === 'proxy') {
    // The rest of the path is passed on as it came (still escaped).
    return { kind: 'node-proxy', name: segs[1], path: '/' + parts.slice(3).join('/') };
  }
  return undefined;
}

export class StreamingRoutes {
  constructor(private readonly deps: StreamingDeps) {}

  // ---- plain HTTP ----------------------------------------------------------------------------

  async handle(req: IncomingMessage, res: ServerResponse, route: StreamingRoute, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (route.kind === 'node-proxy') return this.nodeProxy(req, res, route, query);
    if (route.kind === 'pod-proxy' || route.kind === 'service-proxy') return proxyHTTP(req, res, await this.proxyTarget(route), route.path, query);
    if (route.verb !== 'log') {
      // Without an upgrade there is nothing to stream (upstream answers the same).
      if (method !== 'GET' && method !== 'POST') throw StatusError.methodNotSupported({ group: '', resource: `pods/${route.verb}` }, method.toLowerCase());
      throw StatusError.badRequest('Upgrade request required');
    }
    if (method !== 'GET') throw StatusError.methodNotSupported({ group: '', resource: 'pods/log' }, method.toLowerCase());
    return this.podLog(req, res, route.namespace, route.name, query);
  }

  private kubeletConfig(): KubeletClientConfig {
    if (!this.deps.kubelet) throw StatusError.serviceUnavailable('the API server has no kubelet client certificate');
    return this.deps.kubelet;
  }

  private async podLog(req: IncomingMessage, res: ServerResponse, ns: string, name: string, q: URLSearchParams): Promise<void> {
    validateLogQuery(name, q);
    const pod = await this.deps.getPod(ns, name);
    const container = resolveContainer(pod, q.get('container') ?? '', name);
    const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!nodeName) {
      // Upstream streams nothing for a pod that has no node yet.
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
      res.end();
      return;
    }
    const cfg = this.kubeletConfig();
    const url = kubeletURL(await this.deps.getNode(nodeName));
    url.pathname = `/containerLogs/${encodeURIComponent(ns)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}`;
    for (const k of ['follow', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'tailLines', 'limitBytes']) {
      const v = q.get(k);
      if (v !== null && v !== '') url.searchParams.set(k, v);
    }
    const ac = new AbortController();
    const abort = () => ac.abort();
    res.on('close', abort);
    let upstream;
    try {
      upstream = await kubeletRequest(cfg, url, { signal: ac.signal });
    } catch (e) {
      throw StatusError.internal(`error dialing backend: ${(e as Error).message}`);
    }
    const { res: kres } = upstream;
    if ((kres.statusCode ?? 500) >= 300) throw kubeletError(kres.statusCode ?? 500, await readSome(kres), { group: '', resource: 'pods/log' }, name);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    kres.on('error', () => res.destroy());
    kres.pipe(res);
    await new Promise<void>((resolve) => res.on('close', resolve));
  }

  private async nodeProxy(req: IncomingMessage, res: ServerResponse, route: { name: string; path: string }, q: URLSearchParams): Promise<void> {
    const cfg = this.kubeletConfig();
    const url = kubeletURL(await this.deps.getNode(route.name));
    url.pathname = route.path;
    url.search = q.toString();
    const headers = upgradeRequestHeaders(req.headers);
    delete headers.connection;
    delete headers['accept-encoding'];
    let upstream;
    try {
      upstream = await kubeletRequest(cfg, url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req });
    } catch (e) {
      throw new StatusError(503, 'ServiceUnavailable', `error trying to reach service: ${(e as Error).message}`);
    }
    const { res: kres } = upstream;
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(kres.headers)) {
      if (v === undefined || ['connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(k)) continue;
      out[k] = v;
    }
    res.writeHead(kres.statusCode ?? 502, out);
    kres.pipe(res);
    await new Promise<void>((resolve) => res.on('close', resolve));
  }

  private async proxyTarget(route: { kind: 'pod-proxy' | 'service-proxy'; namespace: string; id: string }): Promise<ProxyTarget> {
    const parsed = splitSchemeNamePort(route.id);
    if (!parsed || !parsed.name) throw StatusError.badRequest(`invalid ${route.kind === 'pod-proxy' ? 'pod' : 'service'} request ${JSON.stringify(route.id)}`);
    if (route.kind === 'pod-proxy') return podProxyTarget(await this.deps.getPod(route.namespace, parsed.name), parsed.scheme, parsed.port);
    const svc = await this.deps.getService(route.namespace, parsed.name);
    return serviceProxyTarget(svc, await this.deps.getEndpoints(route.namespace, parsed.name), parsed.scheme, parsed.port);
  }

  // ---- upgrades ------------------------------------------------------------------------------

  /** Serves an upgrade request on a raw socket; errors are answered as Status JSON. */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: StreamingRoute, query: URLSearchParams): Promise<void> {
    try {
      if (route.kind === 'node-proxy') {
        const cfg = this.kubeletConfig();
        const url = kubeletURL(await this.deps.getNode(route.name));
        url.pathname = route.path;
        url.search = query.toString();
        return await proxyUpgrade({ url, method: req.method, headers: upgradeRequestHeaders(req.headers), tls: backendTLS(cfg), client: socket, clientHead: head });
      }
      if (route.kind === 'pod-proxy' || route.kind === 'service-proxy') {
        const target = await this.proxyTarget(route);
        const url = new URL(`${target.scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`);
        url.pathname = route.path;
        url.search = query.toString();
        return await proxyUpgrade({ url, method: req.method, headers: upgradeRequestHeaders(req.headers), tls: { rejectUnauthorized: false }, client: socket, clientHead: head });
      }
      if (route.verb === 'log') throw StatusError.badRequest('pods/log does not support upgrades');
      const pod = await this.deps.getPod(route.namespace, route.name);
      const cfg = this.kubeletConfig();
      const nodeName = (pod.spec as { nodeName?: string } | undefined)?.nodeName;
      const websocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
      if (route.verb === 'portforward') {
        if (!nodeName) throw StatusError.badRequest(`pod ${route.name} does not have a host assigned`);
        const url = kubeletURL(await this.deps.getNode(nodeName));
        url.pathname = `/portForward/${encodeURIComponent(route.namespace)}/${encodeURIComponent(route.name)}`;
        for (const p of query.getAll('ports')) url.searchParams.append('port', p);
        // kubectl ≥ 1.31 tunnels SPDY in WebSocket; other WebSocket clients (channel protocols)
        // and SPDY clients are proxied as they are, and the runtime answers them.
        if (websocket && offeredProtocols(req).some((p) => p.startsWith(TUNNEL_PREFIX))) return await this.tunnelPortForward(req, socket, head, url, cfg);
        return await proxyUpgrade({ url, method: req.method, headers: upgradeRequestHeaders(req.headers), tls: backendTLS(cfg), client: socket, clientHead: head });
      }
      const flags = streamFlags(query);
      const phase = (pod.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') throw StatusError.badRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
      const container = resolveContainer(pod, query.get('container') ?? '', route.name);
      if (!nodeName) throw StatusError.badRequest(`pod ${route.name} does not have a host assigned`);
      if (!flags.stdin && !flags.stdout && !flags.stderr) throw StatusError.badRequest('you must specify at least 1 of stdin, stdout, stderr');
      const command = query.getAll('command');
      if (route.verb === 'exec' && !command.length) throw StatusError.badRequest('you must specify at least one command for the container');
      const url = kubeletURL(await this.deps.getNode(nodeName));
      const verbPath = route.verb === 'exec' ? 'exec' : 'attach';
      url.pathname = `/${verbPath}/${encodeURIComponent(route.namespace)}/${encodeURIComponent(route.name)}/${encodeURIComponent(container)}`;
      for (const c of command) url.searchParams.append('command', c);
      if (flags.stdin) url.searchParams.set('input', '1');
      if (flags.stdout) url.searchParams.set('output', '1');
      if (flags.stderr) url.searchParams.set('error', '1');
      if (flags.tty) url.searchParams.set('tty', '1');
      // v5/v4 WebSocket clients are translated to SPDY; older channel protocols (v1-v3, base64)
      // go through raw, as before upstream translated, and the runtime's server speaks them.
      const translated = websocket ? offeredProtocols(req).find((p) => TRANSLATED_PROTOCOLS.includes(p)) : undefined;
      if (translated) return await translateRemoteCommand({ req, socket, head, protocol: translated, backend: url, tls: backendTLS(cfg), flags });
      return await proxyUpgrade({ url, method: req.method, headers: upgradeRequestHeaders(req.headers), tls: backendTLS(cfg), client: socket, clientHead: head });
    } catch (e) {
      const err = e instanceof StatusError ? e : StatusError.internal(`error dialing backend: ${(e as Error).message}`);
      if (!socket.destroyed && socket.writable) {
        writeRawResponse(socket, err.code, statusText(err.code), { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' }, JSON.stringify(err.toStatus()));
        socket.end();
      }
    }
  }

  /** kubectl ≥ 1.31 port-forward: SPDY inside WebSocket binary messages, copied to a SPDY upgrade to the kubelet. */
  private async tunnelPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, cfg: KubeletClientConfig): Promise<void> {
    const spdyProtocols = offeredProtocols(req)
      .filter((p) => p.startsWith(TUNNEL_PREFIX) && p.endsWith('.k8s.io'))
      .map((p) => p.slice(TUNNEL_PREFIX.length));
    if (!spdyProtocols.length) throw StatusError.badRequest('unable to upgrade: no tunneling spdy protocols provided');
    const dialed = await dialUpgrade({
      url,
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': spdyProtocols },
      tls: backendTLS(cfg),
    });
    if (!dialed.upgraded) {
      writeRawResponse(socket, dialed.status, statusText(dialed.status), { 'Content-Type': String(dialed.headers['content-type'] ?? 'text/plain') }, dialed.body);
      socket.end();
      return;
    }
    const chosen = String(dialed.response.headers['x-stream-protocol-version'] ?? PORT_FORWARD_PROTOCOL).trim();
    const ws = await acceptWebSocket(req, socket, head, `${TUNNEL_PREFIX}${chosen}`);
    const backend = dialed.socket;
    if (dialed.head.length) ws.send(dialed.head);
    backend.on('data', (d: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(d);
    });
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) backend.write(d);
    });
    const close = () => {
      backend.destroy();
      if (ws.readyState === ws.OPEN) ws.close(1000);
    };
    backend.on('close', close);
    backend.on('error', close);
    ws.on('close', close);
    ws.on('error', close);
  }
}

/** The stream flags of an exec/attach query (PodExecOptions / PodAttachOptions). */
export function streamFlags(q: URLSearchParams): StreamFlags {
  const b = (name: string) => {
    const v = q.get(name);
    return v === '' || v === 'true' || v === '1';
  };
  return { stdin: b('stdin'), stdout: b('stdout'), stderr: b('stderr'), tty: b('tty') };
}

/** Validates PodLogOptions as upstream does (a BadRequest here, upstream's Invalid text). */
function validateLogQuery(name: string, q: URLSearchParams): void {
  const errs: string[] = [];
  const int = (k: string) => {
    const v = q.get(k);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw StatusError.badRequest(`invalid value for ${k}: ${JSON.stringify(v)}`);
    return Number(v);
  };
  const tail = int('tailLines');
  if (tail !== undefined && tail < 0) errs.push(`tailLines: Invalid value: ${tail}: must be greater than or equal to 0`);
  const limit = int('limitBytes');
  if (limit !== undefined && limit < 1) errs.push(`limitBytes: Invalid value: ${limit}: must be greater than 0`);
  const since = int('sinceSeconds');
  if (since !== undefined && since < 1) errs.push(`sinceSeconds: Invalid value: ${since}: must be greater than 0`);
  if (since !== undefined && q.get('sinceTime')) errs.push('sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified');
  const st = q.get('sinceTime');
  if (st && Number.isNaN(Date.parse(st))) throw StatusError.badRequest(`invalid value for sinceTime: ${JSON.stringify(st)}`);
  if (errs.length) {
    throw new StatusError(422, 'Invalid', `PodLogOptions "${name}" is invalid: ${errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`}`, { name, kind: 'PodLogOptions', group: '' });
  }
}

/** The container a request means, with upstream's messages when it cannot tell. */
export function resolveContainer(pod: KubeObject, container: string, name: string): string {
  const spec = (pod.spec ?? {}) as { containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
  const containers = spec.containers ?? [];
  const inits = spec.initContainers ?? [];
  if (!container) {
    if (containers.length === 1) return containers[0].name;
    if (containers.length === 0) throw StatusError.badRequest(`a container name must be specified for pod ${name}`);
    let msg = `a container name must be specified for pod ${name}, choose one of: [${containers.map((c) => c.name).join(' ')}]`;
    if (inits.length) msg += ` or one of the init containers: [${inits.map((c) => c.name).join(' ')}]`;
    throw StatusError.badRequest(msg);
  }
  const all = [...containers, ...inits, ...(spec.ephemeralContainers ?? [])];
  if (!all.some((c) => c.name === container)) throw StatusError.badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}
