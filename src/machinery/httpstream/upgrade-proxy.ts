// HTTP/1.1 connection upgrades (SPDY/3.1, WebSocket) opened to a backend and proxied raw, as
// upstream's UpgradeAwareHandler does for the API server → kubelet → runtime streaming chain:
// re-issue the upgrade request with the client's upgrade headers, relay the backend's answer,
// then copy bytes both ways. Nothing here knows Kubernetes; both the API server and the node
// agent use it.

import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';

export interface BackendTLS {
  ca?: string;
  cert?: string;
  key?: string;
  /** Replaces the host name check (e.g. to check an IP SAN another way); return an Error to refuse. */
  checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined;
  servername?: string;
  /** false to accept any certificate (pods' own services, as upstream's pod proxy does). */
  rejectUnauthorized?: boolean;
}

export interface DialUpgradeOptions {
  url: URL;
  method?: string;
  headers: Record<string, string | string[]>;
  tls?: BackendTLS;
  timeoutMs?: number;
}

export type DialResult =
  | { upgraded: true; response: IncomingMessage; socket: Duplex; head: Buffer }
  | { upgraded: false; status: number; headers: IncomingHttpHeaders; body: Buffer };

/** Sends an upgrade request; resolves with the upgraded socket or the backend's plain answer. */
export function dialUpgrade(o: DialUpgradeOptions): Promise<DialResult> {
  return new Promise((resolve, reject) => {
    const https = o.url.protocol === 'https:';
    const common = {
      host: o.url.hostname.replace(/^\[|\]$/g, ''),
      port: o.url.port || (https ? 443 : 80),
      path: o.url.pathname + o.url.search,
      method: o.method ?? 'GET',
      headers: o.headers,
      agent: false as const,
      timeout: o.timeoutMs ?? 30_000,
    };
    const req = https
      ? httpsRequest({
          ...common,
          ca: o.tls?.ca,
          cert: o.tls?.cert,
          key: o.tls?.key,
          // Unset options must be absent, not undefined: tls.connect asserts on an undefined checkServerIdentity.
          ...(o.tls?.servername ? { servername: o.tls.servername } : {}),
          ...(o.tls?.checkServerIdentity ? { checkServerIdentity: o.tls.checkServerIdentity } : {}),
          ...(o.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
          minVersion: 'TLSv1.2',
        })
      : httpRequest(common);
    req.on('upgrade', (response, socket, head) => {
      socket.setTimeout(0);
      resolve({ upgraded: true, response, socket, head });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        // A plain answer to an upgrade is an error page; keep at most 1 MiB of it.
        if (size < 1 << 20) chunks.push(d);
        size += d.length;
      });
      res.on('end', () => resolve({ upgraded: false, status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout dialing ${o.url.host}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Request headers worth passing on to an upgrade backend (not Host, not credentials). */
export function upgradeRequestHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (name === 'host' || name === 'authorization' || name === 'proxy-authorization' || name === 'content-length' || name === 'transfer-encoding') continue;
    if (name === 'x-stream-protocol-version' && typeof v === 'string') {
      // Several versions may arrive joined by commas; send them as separate headers.
      out[name] = v.split(',').map((s) => s.trim()).filter(Boolean);
      continue;
    }
    out[name] = v;
  }
  return out;
}

/** Writes an HTTP/1.1 response head (and body) to a raw socket. */
export function writeRawResponse(socket: Duplex, status: number, statusText: string, headers: Record<string, string | string[] | number | undefined>, body?: Buffer | string): void {
  const lines = [`HTTP/1.1 ${status} ${statusText}`];
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding') continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  }
  if (b) lines.push(`Content-Length: ${b.length}`);
  if (status !== 101) lines.push('Connection: close');
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  if (b) socket.write(b);
}

/** Copies bytes both ways until either side closes; then closes the other. */
export function pipeSockets(a: Duplex, b: Duplex): void {
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close);
  b.on('error', close);
  a.on('close', close);
  b.on('close', close);
  a.pipe(b);
  b.pipe(a);
}

export interface ProxyUpgradeOptions extends DialUpgradeOptions {
  /** The client's socket (from the server's 'upgrade' event) and the bytes read past its head. */
  client: Duplex;
  clientHead: Buffer;
}

/**
 * Proxies an upgrade: the backend's 101 (headers as sent) goes back to the client and the two
 * sockets are joined; any other answer is relayed and the client's socket closed. Rejects when
 * the backend cannot be reached, leaving the client socket for the caller to answer.
 */
export async function proxyUpgrade(o: ProxyUpgradeOptions): Promise<void> {
  const r = await dialUpgrade(o);
  if (!r.upgraded) {
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [k, v] of Object.entries(r.headers)) if (k !== 'connection' && k !== 'keep-alive') headers[k] = v;
    writeRawResponse(o.client, r.status, statusText(r.status), headers, r.body);
    o.client.end();
    return;
  }
  const raw = r.response.rawHeaders;
  const lines = [`HTTP/1.1 101 ${r.response.statusMessage || 'Switching Protocols'}`];
  for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  o.client.write(lines.join('\r\n') + '\r\n\r\n');
  if (r.head.length) o.client.write(r.head);
  if (o.clientHead.length) r.socket.write(o.clientHead);
  pipeSockets(o.client, r.socket);
}

export function statusText(code: number): string {
  const t: Record<number, string> = {
    101: 'Switching Protocols',
    200: 'OK',
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
  };
  return t[code] ?? 'Unknown';
}
