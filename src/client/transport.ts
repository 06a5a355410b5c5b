// The wire under the client: JSON requests and newline-delimited watch streams over HTTPS with
// keep-alive. Every failure becomes an ApiError carrying the server's Status.

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { ClientConfig } from './config.js';

export interface Status {
  kind?: 'Status';
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; causes?: { type?: string; message?: string; field?: string }[]; retryAfterSeconds?: number };
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly status: Status,
  ) {
    super(status.message || `HTTP ${code}`);
  }
  get reason(): string {
    return this.status.reason ?? '';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict';
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown) => e instanceof ApiError && e.code === 410;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Transport {
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Streams watch events until the server ends the stream, the signal aborts, or an error. */
  watch(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toStatus(code: number, text: string): Status {
  try {
    const s = JSON.parse(text);
    if (s && typeof s === 'object' && s.kind === 'Status') return s;
  } catch {
    // not JSON: fall through
  }
  return { status: 'Failure', code, message: text.slice(0, 500) || `HTTP ${code}` };
}

export class HttpTransport implements Transport {
  private readonly agent: Agent | HttpAgent;
  private readonly watchAgent: Agent | HttpAgent;
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly socketPath?: string;
  private readonly doRequest: typeof httpsRequest;
  private readonly watchIdleTimeoutMs: number;

  constructor(cfg: ClientConfig) {
    this.socketPath = cfg.socketPath;
    this.watchIdleTimeoutMs = cfg.watchIdleTimeoutMs ?? 150_000;
    if (cfg.socketPath) {
      this.base = new URL('http://localhost');
      this.agent = new HttpAgent({ keepAlive: true, maxSockets: 32 });
      this.watchAgent = new HttpAgent({ keepAlive: false, maxSockets: Infinity });
      this.doRequest = httpRequest as unknown as typeof httpsRequest;
    } else {
      this.base = new URL(cfg.server);
      const tls = { ca: cfg.ca, cert: cfg.cert, key: cfg.key };
      this.agent = new Agent({ ...tls, keepAlive: true, maxSockets: 32 });
      // Watches hold their socket for minutes; keep them off the request pool.
      this.watchAgent = new Agent({ ...tls, keepAlive: false, maxSockets: Infinity });
      this.doRequest = httpsRequest;
    }
    this.headers = { accept: 'application/json', 'user-agent': cfg.userAgent ?? 'k8ts' };
    if (cfg.token) this.headers.authorization = `Bearer ${cfg.token}`;
  }

  request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(withQuery(path, opts.query), this.base);
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...this.headers };
    if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise<T>((resolve, reject) => {
      const req = this.doRequest(url, { method, agent: this.agent as Agent, headers, signal: opts.signal, socketPath: this.socketPath }, (res) => {
        readAll(res).then((text) => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            try {
              resolve((text ? JSON.parse(text) : undefined) as T);
            } catch (e) {
              reject(e);
            }
          } else reject(new ApiError(code, toStatus(code, text)));
        }, reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  watch(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const url = new URL(withQuery(path, { ...query, watch: true }), this.base);
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      let failure: unknown;
      const finish = () => {
        signal.removeEventListener('abort', onAbort);
        if (failure !== undefined && !signal.aborted) reject(failure);
        else resolve();
      };
      const req = this.doRequest(url, { method: 'GET', agent: this.watchAgent as Agent, headers: this.headers, socketPath: this.socketPath }, (res) => {
        const code = res.statusCode ?? 0;
        if (code !== 200) {
          readAll(res).then((text) => {
            failure = new ApiError(code, toStatus(code, text));
            finish();
          }, (e) => ((failure = e), finish()));
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          if (failure !== undefined) return;
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (e) {
              // The handler refused the stream (e.g. an ERROR event): end it with that error.
              failure = e;
              req.destroy();
              return;
            }
          }
        });
        res.on('error', (e) => (failure ??= e));
        res.on('close', finish);
      });
      const onAbort = () => req.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      // With bookmarks the server speaks at least every minute or so; silence means a dead peer.
      if (query?.allowWatchBookmarks) {
        req.setTimeout(this.watchIdleTimeoutMs, () => {
          failure ??= new Error(`watch ${url.pathname}: nothing received for ${this.watchIdleTimeoutMs / 1000} s, reconnecting`);
          req.destroy();
        });
      }
      req.on('error', (e) => {
        failure ??= e;
        finish();
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}
