// The agent's side of joining (see apiserver/pki/node-join.ts): fetch the CA, check it against
// the hash in the token, then get the node's client and serving certificates. They are kept in
// <agent>/tls and reused on the next start while they are valid for the same server.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { CACERTS_PATH, caHash, NODE_CREDENTIALS_PATH, parseJoinToken } from '../../apiserver/pki/node-join.js';

export interface NodeCredentials {
  server: string;
  ca: string;
  clientCert: string;
  clientKey: string;
  servingCert: string;
  servingKey: string;
}

function httpsCall(url: string, opts: { method: string; ca?: string; token?: string; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method,
        // Before the CA is known the connection cannot be verified; the CA's hash is checked instead.
        ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
        headers: {
          ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body ? { 'Content-Type': 'application/json' } : {}),
        },
        timeout: 15_000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout calling ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

function stillValid(dir: string, server: string): NodeCredentials | undefined {
  const f = (n: string) => join(dir, n);
  const names = ['ca.crt', 'client-kubelet.crt', 'client-kubelet.key', 'serving-kubelet.crt', 'serving-kubelet.key', 'server'];
  if (!names.every((n) => existsSync(f(n)))) return undefined;
  if (readFileSync(f('server'), 'utf8').trim() !== server) return undefined;
  const cert = readFileSync(f('client-kubelet.crt'), 'utf8');
  if (new Date(new X509Certificate(cert).validTo).getTime() < Date.now() + 7 * 86400_000) return undefined;
  return {
    server,
    ca: readFileSync(f('ca.crt'), 'utf8'),
    clientCert: cert,
    clientKey: readFileSync(f('client-kubelet.key'), 'utf8'),
    servingCert: readFileSync(f('serving-kubelet.crt'), 'utf8'),
    servingKey: readFileSync(f('serving-kubelet.key'), 'utf8'),
  };
}

export function saveCredentials(dir: string, c: NodeCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'ca.crt'), c.ca);
  writeFileSync(join(dir, 'client-kubelet.crt'), c.clientCert);
  writeFileSync(join(dir, 'client-kubelet.key'), c.clientKey, { mode: 0o600 });
  writeFileSync(join(dir, 'serving-kubelet.crt'), c.servingCert);
  writeFileSync(join(dir, 'serving-kubelet.key'), c.servingKey, { mode: 0o600 });
  writeFileSync(join(dir, 'server'), c.server + '\n');
}

/** Joins `server` with `token` (or reuses saved credentials); throws with a clear message. */
export async function joinCluster(o: { server: string; token: string; nodeName: string; addresses: string[]; tlsDir: string }): Promise<NodeCredentials> {
  const saved = stillValid(o.tlsDir, o.server);
  if (saved) return saved;
  const { caHash: want } = parseJoinToken(o.token);
  const caRes = await httpsCall(new URL(CACERTS_PATH, o.server).toString(), { method: 'GET' });
  if (caRes.status !== 200) throw new Error(`fetching the cluster CA from ${o.server}: HTTP ${caRes.status}`);
  const ca = caRes.body;
  if (want && caHash(ca) !== want) throw new Error(`the CA served by ${o.server} does not match the hash in the join token`);
  const res = await httpsCall(new URL(NODE_CREDENTIALS_PATH, o.server).toString(), {
    method: 'POST',
    ca,
    token: o.token,
    body: JSON.stringify({ nodeName: o.nodeName, addresses: o.addresses }),
  });
  if (res.status !== 200) {
    let msg = res.body;
    try {
      msg = JSON.parse(res.body).message ?? msg;
    } catch {
      // keep the raw body
    }
    throw new Error(`joining ${o.server} failed (HTTP ${res.status}): ${msg}`);
  }
  const b = JSON.parse(res.body);
  const creds: NodeCredentials = { server: o.server, ca: b.ca, clientCert: b.clientCert, clientKey: b.clientKey, servingCert: b.servingCert, servingKey: b.servingKey };
  saveCredentials(o.tlsDir, creds);
  return creds;
}
