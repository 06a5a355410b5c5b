// A raw HTTPS client for tests that speak to the API without kubectl (bad input, exact status
// codes, streaming), authenticated with the admin kubeconfig's client certificate.

import { readFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { parse } from 'yaml';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class RawClient {
  private readonly agent: Agent;
  readonly server: string;

  constructor(kubeconfigPath: string, opts: { anonymous?: boolean; token?: string; keepAlive?: boolean; maxSockets?: number } = {}) {
    const kc = parse(readFileSync(kubeconfigPath, 'utf8'));
    const cluster = kc.clusters[0].cluster;
    const user = kc.users[0].user;
    this.server = cluster.server;
    const ca = Buffer.from(cluster['certificate-authority-data'], 'base64');
    const creds = opts.anonymous || opts.token
      ? {}
      : { cert: Buffer.from(user['client-certificate-data'], 'base64'), key: Buffer.from(user['client-key-data'], 'base64') };
    this.agent = new Agent({ ca, ...creds, keepAlive: opts.keepAlive ?? false, maxSockets: opts.maxSockets ?? Infinity });
    this.token = opts.token;
  }

  private readonly token?: string;

  request(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
    const url = new URL(path, this.server);
    return new Promise((resolve, reject) => {
      const h: Record<string, string> = { ...headers };
      if (body !== undefined && !h['content-type']) h['content-type'] = 'application/json';
      // Node sends DELETE bodies without chunked encoding, so the length must be explicit.
      if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
      if (this.token) h.authorization = `Bearer ${this.token}`;
      const req = request(url, { method, agent: this.agent, headers: h }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  /** Opens a watch and collects parsed events until `until` returns true or the timeout passes. */
  watch(path: string, until: (events: any[]) => boolean, timeoutMs = 10_000): Promise<{ status: number; events: any[] }> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const url = new URL(path, this.server);
    return new Promise((resolve, reject) => {
      const events: unknown[] = [];
      let buf = '';
      let done = false;
      const req = request(url, { method: 'GET', agent: this.agent, headers: this.token ? { authorization: `Bearer ${this.token}` } : {} }, (res) => {
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, events });
        };
        const timer = setTimeout(finish, timeoutMs);
        res.on('data', (c) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) events.push(JSON.parse(line));
          }
          if (until(events)) finish();
        });
        res.on('end', finish);
        res.on('error', () => finish());
      });
      req.on('error', (e) => {
        if (!done) reject(e);
      });
      req.end();
    });
  }

  /** Streams a watch's raw lines to `onLine` (no JSON parsing: for benchmarks); returns a closer. */
  watchLines(path: string, onLine: (line: string) => void): () => void {
    const url = new URL(path, this.server);
    let buf = '';
    const req = request(url, { method: 'GET', agent: this.agent }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }

  close(): void {
    this.agent.destroy();
  }
}
