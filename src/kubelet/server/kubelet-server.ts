// The kubelet's HTTPS API (upstream pkg/kubelet/server): health, the node's pods, stats,
// metrics, container logs, and exec/attach/port-forward. Streaming requests are not redirected:
// the kubelet asks the runtime for its streaming URL (CRI Exec/Attach/PortForward) and proxies
// the upgraded connection there raw, whatever protocol the client speaks (SPDY or WebSocket).
//
// Clients must present a certificate signed by the cluster CA. Only the API server's kubelet
// client (CN kube-apiserver-kubelet-client) or members of system:masters are allowed; upstream
// authorizes through SubjectAccessReviews, which k8ts does not have.

import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { KubeObject } from '../../api/meta/v1.js';
import { proxyUpgrade, upgradeRequestHeaders, writeRawResponse } from '../../machinery/httpstream/upgrade-proxy.js';
import { LogOptionsError, parseLogOptions, readContainerLogs } from '../logs/read-logs.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { resourceMetrics } from '../stats/resource-metrics.js';
import type { Summary } from '../stats/types.js';
import type { Logger } from '../../machinery/logger.js';

/** What the kubelet server needs from the node agent. */
export interface KubeletServerDeps {
  runtime: ContainerRuntime;
  /** A pod this node runs, with its current sandbox (absent while none is up). */
  findPod(namespace: string, name: string): { pod: KubeObject; sandboxId?: string } | undefined;
  /**
   * The runtime container of a pod's container (`previous`: the last terminated instance) and its
   * absolute CRI log path, or an error text for the client (upstream's texts, e.g.
   * `container "x" in pod "y" is waiting to start: ContainerCreating`, `previous terminated
   * container "x" in pod "y" not found`). `container` is omitted when the pod has one container.
   */
  findContainer(namespace: string, podName: string, container?: string, previous?: boolean): Promise<{ containerId: string; logPath: string } | string>;
  /** The pods bound to this node, as the API has them (GET /pods). */
  listPods(): KubeObject[];
  /** The Summary API document (GET /stats/summary; /metrics/resource is rendered from it). See stats/summary.ts (StatsProvider). */
  statsSummary(): Promise<unknown>;
  /** Prometheus text (GET /metrics). */
  metrics(): Promise<string>;
}

export interface KubeletServerOptions {
  port: number;
  bindAddress?: string;
  /** Serving certificate and key; `ca` verifies client certificates. */
  tls: { cert: string; key: string; ca: string };
  deps: KubeletServerDeps;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** Users allowed to use the kubelet API. */
export const KUBELET_API_CLIENT_CN = 'kube-apiserver-kubelet-client';
const ALLOWED_GROUP = 'system:masters';

type Verb = 'exec' | 'attach' | 'portForward';

export class KubeletServer {
  private server?: Server;
  private readonly sockets = new Set<Duplex>();

  constructor(private readonly opts: KubeletServerOptions) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  async start(): Promise<void> {
    const server = createServer(
      { cert: this.opts.tls.cert, key: this.opts.tls.key, ca: this.opts.tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
      (req, res) => void this.serve(req, res),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.serveUpgrade(req, socket, head));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_e, s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.bindAddress ?? '0.0.0.0', () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** undefined when allowed; otherwise the status code and message. */
  private authorize(req: IncomingMessage): { code: number; message: string } | undefined {
    const sock = req.socket as TLSSocket;
    const cert = sock.authorized ? sock.getPeerCertificate() : undefined;
    const cnRaw = cert?.subject?.CN;
    if (!cnRaw) return { code: 401, message: 'Unauthorized' };
    const cn = Array.isArray(cnRaw) ? cnRaw[0] : cnRaw;
    const o = cert.subject.O;
    const groups = Array.isArray(o) ? o : o ? [o] : [];
    if (cn === KUBELET_API_CLIENT_CN || groups.includes(ALLOWED_GROUP)) return undefined;
    const url = new URL(req.url ?? '/', 'https://kubelet');
    return { code: 403, message: `Forbidden (user=${cn}, verb=${(req.method ?? 'get').toLowerCase()}, resource=nodes, subresource=${subresourceOf(url.pathname)})` };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const denied = this.authorize(req);
      if (denied) return sendStatus(res, denied.code, denied.message);
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const path = url.pathname;
      const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
      const method = req.method ?? 'GET';
      if (path === '/healthz' || path === '/healthz/ping' || path === '/healthz/syncloop') return sendText(res, 200, 'ok');
      if (segs[0] === 'exec' || segs[0] === 'attach' || segs[0] === 'portForward') {
        return sendStatus(res, 400, 'Upgrade request required');
      }
      if (method !== 'GET' && method !== 'HEAD') return sendStatus(res, 405, `method ${method} not allowed`);
      if (path === '/pods') {
        return sendJSON(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: this.opts.deps.listPods() });
      }
      if (path === '/stats/summary') return sendJSON(res, 200, await this.opts.deps.statsSummary());
      if (path === '/metrics/resource') {
        // metrics-server's source: rendered from the Summary the agent gives.
        const summary = (await this.opts.deps.statsSummary()) as Summary;
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(summary?.node && Array.isArray(summary.pods) ? resourceMetrics(summary) : '');
        return;
      }
      if (path === '/metrics' || path === '/metrics/cadvisor') {
        res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(await this.opts.deps.metrics());
        return;
      }
      if (segs[0] === 'containerLogs' && segs.length === 4) return await this.containerLogs(req, res, segs[1], segs[2], segs[3], url.searchParams);
      sendText(res, 404, '404 page not found\n');
    } catch (err) {
      this.opts.log?.error({ err }, 'kubelet API request failed');
      if (!res.headersSent) sendStatus(res, 500, (err as Error).message);
      else res.destroy();
    }
  }

  private async containerLogs(req: IncomingMessage, res: ServerResponse, ns: string, podName: string, container: string, q: URLSearchParams): Promise<void> {
    let options;
    try {
      options = parseLogOptions(q);
    } catch (e) {
      if (e instanceof LogOptionsError) return sendText(res, 400, e.message);
      throw e;
    }
    if (!this.opts.deps.findPod(ns, podName)) return sendText(res, 404, `pod "${podName}" does not exist`);
    const previous = q.get('previous') === 'true' || q.get('previous') === '1';
    const found = await this.opts.deps.findContainer(ns, podName, container, previous);
    if (typeof found === 'string') return sendText(res, 400, found);
    try {
      await access(found.logPath, constants.R_OK);
    } catch (e) {
      return sendText(res, 400, `failed to read container log ${found.logPath}: ${(e as Error).message}`);
    }
    const ac = new AbortController();
    // The response closes when it is done or the client went away (the request's own 'close'
    // says only that its body was read).
    res.on('close', () => ac.abort());
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
    // A follower sees the headers before the first line arrives.
    if (options.follow) res.flushHeaders();
    const runtime = this.opts.deps.runtime;
    await readContainerLogs({
      path: found.logPath,
      options,
      out: res,
      signal: ac.signal,
      isRunning: async () => (await runtime.containerStatus(found.containerId)).status.state === 'CONTAINER_RUNNING',
    });
    res.end();
  }

  // ---- streaming ------------------------------------------------------------------------------

  private async serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const fail = (code: number, message: string) => {
      if (socket.destroyed) return;
      writeRawResponse(socket, code, statusTextOf(code), { 'Content-Type': 'application/json' }, JSON.stringify(statusBody(code, message)));
      socket.end();
    };
    try {
      const denied = this.authorize(req);
      if (denied) return fail(denied.code, denied.message);
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const verb = segs[0] as Verb;
      const target = await this.streamingURL(verb, segs, url.searchParams);
      if (typeof target !== 'string') return fail(target.code, target.message);
      await proxyUpgrade({ url: new URL(target), method: req.method, headers: upgradeRequestHeaders(req.headers), client: socket, clientHead: head });
    } catch (err) {
      this.opts.log?.warn({ err }, 'kubelet streaming request failed');
      fail(500, (err as Error).message);
    }
  }

  /** Asks the runtime where to stream; or an error for the client. */
  private async streamingURL(verb: Verb, segs: string[], q: URLSearchParams): Promise<string | { code: number; message: string }> {
    const deps = this.opts.deps;
    if (verb === 'portForward') {
      // /portForward/{ns}/{pod}[/{uid}]
      if (segs.length < 3 || segs.length > 4) return { code: 404, message: '404 page not found' };
      const found = deps.findPod(segs[1], segs[2]);
      if (!found) return { code: 404, message: `pod "${segs[2]}" not found` };
      if (segs.length === 4 && found.pod.metadata?.uid !== segs[3]) return { code: 404, message: `pod "${segs[2]}" not found` };
      if (!found.sandboxId) return { code: 400, message: `pod "${segs[2]}" has no running sandbox` };
      const ports = q.getAll('port').flatMap((p) => p.split(',')).filter(Boolean).map(Number);
      return deps.runtime.portForward(found.sandboxId, ports.filter((p) => Number.isInteger(p) && p > 0 && p < 65536));
    }
    if (verb !== 'exec' && verb !== 'attach') return { code: 404, message: '404 page not found' };
    // /{exec|attach}/{ns}/{pod}[/{uid}]/{container}
    if (segs.length !== 4 && segs.length !== 5) return { code: 404, message: '404 page not found' };
    const [ns, podName] = [segs[1], segs[2]];
    const container = segs[segs.length - 1];
    const found = deps.findPod(ns, podName);
    if (!found || (segs.length === 5 && found.pod.metadata?.uid !== segs[3])) return { code: 404, message: `pod "${podName}" not found` };
    const c = await deps.findContainer(ns, podName, container, false);
    if (typeof c === 'string') return { code: 400, message: c };
    const flag = (...names: string[]) => names.some((n) => q.get(n) === '1' || q.get(n) === 'true');
    const tty = flag('tty');
    const req = {
      container_id: c.containerId,
      tty,
      stdin: flag('input', 'stdin'),
      stdout: flag('output', 'stdout'),
      // A terminal merges stderr into stdout; the CRI refuses both.
      stderr: !tty && flag('error', 'stderr'),
    };
    if (!req.stdin && !req.stdout && !req.stderr) return { code: 400, message: 'you must specify at least 1 of stdin, stdout, stderr' };
    if (verb === 'attach') return deps.runtime.attach(req);
    const cmd = q.getAll('command');
    if (!cmd.length) return { code: 400, message: 'you must specify at least one command for the container' };
    return deps.runtime.exec({ ...req, cmd });
  }
}

/** The nodes/<subresource> upstream's kubelet authorizer checks for a path. */
function subresourceOf(path: string): string {
  const first = path.split('/').filter(Boolean)[0] ?? '';
  if (first === 'containerLogs') return 'log';
  if (first === 'stats' || first === 'metrics' || first === 'pods') return first;
  return 'proxy';
}

function statusBody(code: number, message: string) {
  const reasons: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 500: 'InternalError' };
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reasons[code] ?? '', code };
}

function statusTextOf(code: number): string {
  return ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 500: 'Internal Server Error' } as Record<number, string>)[code] ?? 'Error';
}

function sendStatus(res: ServerResponse, code: number, message: string): void {
  sendJSON(res, code, statusBody(code, message));
}

function sendJSON(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}
