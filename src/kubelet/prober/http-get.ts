// One HTTP GET the way the kubelet's probes and lifecycle hooks make it (pkg/probe/http):
// no keep-alive, TLS without verification, default User-Agent `kube-probe/<major.minor>` and
// `Accept: */*`, a `Host` header taken as the request's host, redirects followed up to 10 times
// but only to the same host name (a redirect elsewhere ends with the 3xx response itself), the
// body read up to 10 KiB, and failures worded as Go's net/http words them.

import http from 'node:http';
import https from 'node:https';
import { dialError } from './go-errors.js';

/** The Kubernetes minor release whose behaviour (and User-Agent) k8ts follows. */
export const KUBE_VERSION = '1.32';
const MAX_BODY = 10 * 1024;
const MAX_REDIRECTS = 10;

export interface HTTPGetResult {
  status: number;
  body: string;
  /** True when a redirect to another host was not followed (the result is that 3xx). */
  redirectNotFollowed: boolean;
}

/** A failed request; `message` is Go's `Get "<url>": <cause>`. */
export class HTTPGetError extends Error {
  constructor(
    message: string,
    readonly timeout = false,
    readonly httpResponseToHTTPS = false,
  ) {
    super(message);
    this.name = 'HTTPGetError';
  }
}

export interface HTTPGetOptions {
  url: string;
  /** Header name/value pairs as given (repeats allowed). */
  headers?: { name: string; value: string }[];
  /** Whole-request deadline (connect, headers and body), as Go's http.Client.Timeout. */
  timeoutMs?: number;
  /** `probe` for probes, `lifecycle` for hooks: the User-Agent is kube-<purpose>/<version>. */
  purpose?: 'probe' | 'lifecycle';
  signal?: AbortSignal;
}

function buildHeaders(pairs: { name: string; value: string }[], purpose: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const canonical = new Map<string, string>();
  for (const { name, value } of pairs) {
    const key = canonical.get(name.toLowerCase()) ?? name;
    canonical.set(name.toLowerCase(), key);
    (out[key] ??= []).push(value);
  }
  if (!canonical.has('user-agent')) out['User-Agent'] = [`kube-${purpose}/${KUBE_VERSION}`];
  const accept = canonical.get('accept');
  if (!accept) out['Accept'] = ['*/*'];
  else if (out[accept].every((v) => v === '')) delete out[accept];
  return out;
}

interface OneResponse {
  status: number;
  location?: string;
  body: string;
}

function requestOnce(url: URL, headers: Record<string, string[]>, signal: AbortSignal): Promise<OneResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const hostHeader = Object.entries(headers).find(([k]) => k.toLowerCase() === 'host')?.[1][0];
    const hdrs: Record<string, string | string[]> = { ...headers, Connection: 'close' };
    for (const k of Object.keys(hdrs)) if (k.toLowerCase() === 'host') delete hdrs[k];
    if (hostHeader) hdrs['Host'] = hostHeader;
    const req = mod.request(url, { method: 'GET', headers: hdrs, agent: false, rejectUnauthorized: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        res.destroy();
        resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8') });
      };
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        size += c.length;
        if (size >= MAX_BODY) finish();
      });
      res.on('end', finish);
      res.on('error', (e) => (done ? undefined : reject(e)));
    });
    req.on('error', reject);
    req.end();
  });
}

function causeOf(err: NodeJS.ErrnoException, url: URL): { text: string; httpToHttps: boolean } {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  if (err.code === 'EPROTO' || /wrong version number|packet length too long/.test(err.message)) {
    return { text: 'http: server gave HTTP response to HTTPS client', httpToHttps: true };
  }
  if (err.code === 'ECONNRESET' && /socket hang up/.test(err.message)) return { text: 'EOF', httpToHttps: false };
  if (err.code === 'HPE_INVALID_CONSTANT' || err.code?.startsWith('HPE_')) return { text: `net/http: HTTP/1.x transport connection broken: malformed HTTP response`, httpToHttps: false };
  if (err.code && /^E[A-Z]+/.test(err.code)) return { text: dialError(addr, err, host), httpToHttps: false };
  return { text: err.message, httpToHttps: false };
}

/** GETs `url`; resolves with the final response, or rejects with an `HTTPGetError`. */
export async function httpGet(opts: HTTPGetOptions): Promise<HTTPGetResult> {
  const headers = buildHeaders(opts.headers ?? [], opts.purpose ?? 'probe');
  const ac = new AbortController();
  let timedOut = false;
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), ac.abort()), opts.timeoutMs) : undefined;
  const onAbort = () => ac.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let current = new URL(opts.url);
  const firstHost = current.hostname;
  try {
    for (let hops = 0; ; hops++) {
      let res: OneResponse;
      try {
        res = await requestOnce(current, headers, ac.signal);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (timedOut) throw new HTTPGetError(`Get "${current.href}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, true);
        if (ac.signal.aborted) throw new HTTPGetError(`Get "${current.href}": context canceled`);
        const cause = causeOf(err, current);
        throw new HTTPGetError(`Get "${current.href}": ${cause.text}`, false, cause.httpToHttps);
      }
      const redirect = [301, 302, 303, 307, 308].includes(res.status) && res.location;
      if (!redirect) return { status: res.status, body: res.body, redirectNotFollowed: false };
      let next: URL;
      try {
        next = new URL(res.location!, current);
      } catch {
        throw new HTTPGetError(`Get "${res.location}": invalid redirect location`);
      }
      if (next.hostname !== firstHost) return { status: res.status, body: res.body, redirectNotFollowed: true };
      if (hops + 1 >= MAX_REDIRECTS) throw new HTTPGetError(`Get "${next.href}": stopped after ${MAX_REDIRECTS} redirects`);
      current = next;
    }
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
