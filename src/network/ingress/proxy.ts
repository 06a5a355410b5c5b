// The reverse proxy: one request (or upgrade) in, routed by host and path, forwarded to a ready
// endpoint with streaming both ways. Connection failures move on to the next endpoint (bounded)
// as long as no request body byte has gone out, like nginx's proxy_next_upstream.

import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Endpoint, Resolution } from './backends.js';
import type { IngressMetrics } from './metrics.js';
import type { BackendRef, RouteMatch } from './routing.js';

export interface ProxyDeps {
  route(host: string, path: string): RouteMatch | undefined;
  resolve(b: BackendRef): Resolution;
  order(b: BackendRef, endpoints: Endpoint[]): Endpoint[];
  metrics: IngressMetrics;
  /** The keep-alive agent for upstream connections. */
  agent: http.Agent;
  warn(key: string, message: string): void;
  /** Endpoints tried per request (nginx's proxy-next-upstream-tries). */
  maxAttempts: number;
  connectTimeoutMs: number;
  /** Longest silence from the upstream once connected (nginx's proxy-read-timeout). */
  readTimeoutMs: number;
  /** The HTTPS listener's port, for redirects to it. */
  httpsPort(): number;
}

// RFC 9110 §7.6.1: these describe one connection and are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const TITLES: Record<number, string> = {
  308: 'Permanent Redirect',
  400: 'Bad Request',
  404: 'Not Found',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
};

/** An nginx-style error page (ingress-nginx's default backend texts). */
export function errorPage(status: number): string {
  const t = `${status} ${TITLES[status] ?? http.STATUS_CODES[status] ?? ''}`;
  return `<html>\r\n<head><title>${t}</title></head>\r\n<body>\r\n<center><h1>${t}</h1></center>\r\n<hr><center>k8ts</center>\r\n</body>\r\n</html>\r\n`;
}

/** A complete raw HTTP/1.1 error response, for sockets outside the request/response API. */
export function rawErrorResponse(status: number, location?: string): string {
  const body = errorPage(status);
  const loc = location ? `Location: ${location}\r\n` : '';
  return `HTTP/1.1 ${status} ${TITLES[status] ?? http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/html\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${loc}Connection: close\r\n\r\n${body}`;
}

const HOSTNAME = /^[a-z0-9_](?:[a-z0-9_.-]{0,252})$/i;
const IPV6 = /^[0-9a-f:.]+$/i;

/**
 * The host of a Host header without the port, lowercased; '' when absent (HTTP/1.0); undefined
 * when malformed.
 */
export function parseHostHeader(h: string | undefined): string | undefined {
  if (h === undefined || h === '') return '';
  let host = h;
  let port: string | undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    host = h.slice(1, end);
    const rest = h.slice(end + 1);
    if (rest && !rest.startsWith(':')) return undefined;
    port = rest ? rest.slice(1) : undefined;
    if (!IPV6.test(host)) return undefined;
  } else {
    const i = h.lastIndexOf(':');
    if (i >= 0) {
      host = h.slice(0, i);
      port = h.slice(i + 1);
    }
    if (!HOSTNAME.test(host)) return undefined;
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return undefined;
  host = host.toLowerCase();
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function requestPath(url: string | undefined): string | undefined {
  if (!url || url[0] !== '/') return undefined;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function forwardHeaders(req: http.IncomingMessage, proto: 'http' | 'https', upgrade: boolean): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const connTokens = new Set(String(req.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connTokens.has(k)) continue;
    out[k] = v;
  }
  const client = req.socket.remoteAddress ?? '';
  // Clients cannot be trusted to tell their own address: replace, as ingress-nginx does by default.
  out['x-forwarded-for'] = client;
  out['x-real-ip'] = client;
  out['x-forwarded-proto'] = proto;
  out['x-forwarded-host'] = req.headers.host ?? '';
  out['x-forwarded-port'] = String(req.socket.localPort ?? '');
  if (upgrade) {
    out.connection = 'upgrade';
    out.upgrade = req.headers.upgrade;
  }
  return out;
}

function responseHeaders(up: http.IncomingMessage): http.OutgoingHttpHeaders {
  const connTokens = new Set(String(up.headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean));
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(up.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || connTokens.has(k)) continue;
    out[k] = v;
  }
  return out;
}

function isTimeout(e: NodeJS.ErrnoException): boolean {
  return e.code === 'ETIMEDOUT' || e.code === 'K8TS_READ_TIMEOUT';
}

type Routed = { match: RouteMatch; endpoints: Endpoint[] } | { status: number; match?: RouteMatch; location?: string };

// ACME HTTP-01 challenges must stay reachable over plain HTTP.
const ACME_CHALLENGE = '/.well-known/acme-challenge/';

export class IngressProxy {
  /** Client sockets of open tunnels: the HTTP server no longer tracks them after an upgrade. */
  private readonly tunnels = new Set<Duplex>();

  constructor(private readonly d: ProxyDeps) {}

  /** Ends every open tunnel (at shutdown). */
  closeTunnels(): void {
    for (const s of this.tunnels) s.destroy();
    this.tunnels.clear();
  }

  /** Route and resolve, or the status to answer with. */
  private routeRequest(req: http.IncomingMessage, proto: 'http' | 'https'): Routed {
    const host = parseHostHeader(req.headers.host);
    const path = requestPath(req.url);
    if (host === undefined || path === undefined) return { status: 400 };
    const match = this.d.route(host, path);
    if (!match) return { status: 404 };
    if (proto === 'http' && match.redirectToHTTPS && !path.startsWith(ACME_CHALLENGE)) {
      const port = this.d.httpsPort();
      const name = host.includes(':') ? `[${host}]` : host;
      return { status: 308, match, location: `https://${name}${port === 443 ? '' : `:${port}`}${req.url}` };
    }
    const r = this.d.resolve(match.backend);
    if (!r.ok) {
      this.d.warn(`backend:${match.backend.ingress}:${r.message}`, `ingress "${match.backend.ingress}": ${r.message}`);
      return { status: 503, match };
    }
    return { match, endpoints: this.d.order(match.backend, r.endpoints).slice(0, this.d.maxAttempts) };
  }

  private count(match: RouteMatch | undefined, status: number): void {
    const b = match?.backend;
    this.d.metrics.countRequest({ namespace: b?.namespace ?? '', ingress: b ? b.ingress.slice(b.namespace.length + 1) : '', service: b?.service ?? '', status });
  }

  handleRequest(req: http.IncomingMessage, res: http.ServerResponse, proto: 'http' | 'https'): void {
    const routed = this.routeRequest(req, proto);
    if ('status' in routed) {
      this.count(routed.match, routed.status);
      if (routed.location) res.setHeader('location', routed.location);
      sendError(res, routed.status);
      req.resume();
      return;
    }
    const { match, endpoints } = routed;
    const headers = forwardHeaders(req, proto, false);
    let bodyStarted = false;
    let current: http.ClientRequest | undefined;
    let done = false;

    res.on('close', () => {
      // The client went away: stop the upstream exchange too.
      if (!res.writableFinished) current?.destroy();
    });

    let retriedStale = false;
    const attempt = (i: number): void => {
      const ep = endpoints[i]!;
      let up: http.ClientRequest;
      try {
        up = http.request({ host: ep.host, port: ep.port, method: req.method, path: req.url, headers, agent: this.d.agent });
      } catch (e) {
        // Node refuses some request lines it would not have parsed itself (e.g. odd path bytes).
        done = true;
        this.count(match, 400);
        sendError(res, 400);
        return void req.resume();
      }
      current = up;
      let connectTimer: NodeJS.Timeout | undefined;
      let detachBody = (): void => {};
      const startBody = (): void => {
        if (req.readableEnded) {
          up.end();
          return;
        }
        const onData = (chunk: Buffer): void => {
          bodyStarted = true;
          if (!up.write(chunk)) req.pause();
        };
        const onEnd = (): void => void up.end();
        const onDrain = (): void => void req.resume();
        req.on('data', onData);
        req.on('end', onEnd);
        up.on('drain', onDrain);
        req.resume(); // a failed attempt left it paused
        detachBody = () => {
          // Paused, so that no chunk is emitted before the next attempt listens.
          req.pause();
          req.off('data', onData);
          req.off('end', onEnd);
          up.off('drain', onDrain);
        };
      };
      let connected = false;
      up.on('socket', (s) => {
        if (!s.connecting) {
          connected = true;
          return startBody();
        }
        connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), this.d.connectTimeoutMs);
        s.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
          startBody();
        });
      });
      up.setTimeout(this.d.readTimeoutMs, () => up.destroy(Object.assign(new Error('upstream timed out'), { code: 'K8TS_READ_TIMEOUT' })));
      up.on('response', (upRes) => {
        clearTimeout(connectTimer);
        if (done) return upRes.resume();
        try {
          res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, responseHeaders(upRes));
        } catch {
          // A status or header Node will not send: the upstream answer is unusable.
          upRes.destroy();
          done = true;
          this.count(match, 502);
          return sendError(res, 502);
        }
        // Streamed responses (server-sent events, long polls) show their headers at once; sized
        // ones let the headers go out with the first body bytes.
        if (upRes.headers['content-length'] === undefined) res.flushHeaders();
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
        upRes.on('aborted', () => res.destroy());
        res.once('finish', () => this.count(match, upRes.statusCode ?? 502));
      });
      up.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        detachBody();
        if (done || res.destroyed) return;
        if (res.headersSent) {
          // Mid-response failure: nothing honest can be sent, so cut the connection.
          done = true;
          res.destroy();
          return;
        }
        // Safe to repeat: the request never reached the endpoint, or a pooled connection the
        // endpoint had already closed was reset before any body byte went out.
        const stale = up.reusedSocket && e.code === 'ECONNRESET' && !bodyStarted;
        if (stale && !retriedStale) {
          // A pooled connection closed by the endpoint while idle: once more on a fresh one.
          retriedStale = true;
          return attempt(i);
        }
        if ((!connected || stale) && !bodyStarted && i + 1 < endpoints.length) {
          this.d.metrics.countRetry();
          return attempt(i + 1);
        }
        done = true;
        const status = isTimeout(e) ? 504 : 502;
        this.d.metrics.countUpstreamError();
        this.d.warn(`upstream:${match.backend.ingress}:${ep.host}:${ep.port}:${e.code}`, `ingress "${match.backend.ingress}": upstream ${ep.host}:${ep.port} failed: ${e.message}`);
        this.count(match, status);
        sendError(res, status);
        req.resume();
      });
    };
    attempt(0);
  }

  /** Upgrade requests (WebSocket and others): a tunnel once the upstream answers 101. */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, proto: 'http' | 'https'): void {
    socket.on('error', () => socket.destroy());
    this.tunnels.add(socket);
    socket.once('close', () => this.tunnels.delete(socket));
    const routed = this.routeRequest(req, proto);
    if ('status' in routed) {
      this.count(routed.match, routed.status);
      socket.end(rawErrorResponse(routed.status, routed.location));
      return;
    }
    const { match, endpoints } = routed;
    const headers = forwardHeaders(req, proto, true);
    const attempt = (i: number): void => {
      const ep = endpoints[i]!;
      // Tunnels keep their connection: never from (or back into) the shared pool.
      let up: http.ClientRequest;
      try {
        up = http.request({ host: ep.host, port: ep.port, method: req.method, path: req.url, headers, agent: false });
      } catch {
        this.count(match, 400);
        return void socket.end(rawErrorResponse(400));
      }
      let connected = false;
      const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), this.d.connectTimeoutMs);
      up.on('socket', (s) =>
        s.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        }),
      );
      socket.once('close', () => up.destroy());
      up.on('upgrade', (upRes, upSocket, upHead) => {
        clearTimeout(connectTimer);
        this.count(match, 101);
        let head101 = `HTTP/1.1 101 ${upRes.statusMessage || 'Switching Protocols'}\r\n`;
        for (let j = 0; j < upRes.rawHeaders.length; j += 2) head101 += `${upRes.rawHeaders[j]}: ${upRes.rawHeaders[j + 1]}\r\n`;
        socket.write(head101 + '\r\n');
        if (upHead.length) socket.write(upHead);
        if (head.length) upSocket.write(head);
        upSocket.on('error', () => socket.destroy());
        socket.on('error', () => upSocket.destroy());
        upSocket.on('close', () => socket.destroy());
        socket.on('close', () => upSocket.destroy());
        upSocket.pipe(socket);
        socket.pipe(upSocket);
      });
      up.on('response', (upRes) => {
        // The upstream declined the upgrade: relay its answer and close.
        clearTimeout(connectTimer);
        this.count(match, upRes.statusCode ?? 502);
        let h = `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage ?? ''}\r\n`;
        const hs = responseHeaders(upRes);
        for (const [k, v] of Object.entries(hs)) for (const one of Array.isArray(v) ? v : [v]) h += `${k}: ${one}\r\n`;
        socket.write(h + 'Connection: close\r\n\r\n');
        upRes.pipe(socket);
      });
      up.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        if (socket.destroyed) return;
        if (!connected && i + 1 < endpoints.length) {
          this.d.metrics.countRetry();
          return attempt(i + 1);
        }
        const status = isTimeout(e) ? 504 : 502;
        this.d.metrics.countUpstreamError();
        this.count(match, status);
        socket.end(rawErrorResponse(status));
      });
      up.end();
    };
    attempt(0);
  }
}

function sendError(res: http.ServerResponse, status: number): void {
  if (res.headersSent) return void res.destroy();
  const body = errorPage(status);
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
