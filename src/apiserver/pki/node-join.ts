// Joining nodes (like k3s): the server keeps a secret join token in <data-dir>/token, written as
// `K10<sha256 of the CA certificate>::server:<secret>` so an agent can pin the CA before it trusts
// anything. An agent fetches the CA from /cacerts, checks its hash, then POSTs to
// /k8ts/v1/node-credentials with the token and gets a client certificate for
// `system:node:<name>` (group system:nodes) and a serving certificate for its kubelet port.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { issueCert, type PKI } from './pki.js';

export const NODE_CREDENTIALS_PATH = '/k8ts/v1/node-credentials';
export const CACERTS_PATH = '/cacerts';

export function caHash(caCert: string): string {
  return createHash('sha256').update(caCert).digest('hex');
}

/** Reads or creates the join token. */
export function ensureJoinToken(dataDir: string, caCert: string): string {
  const path = join(dataDir, 'token');
  if (existsSync(path)) {
    const t = readFileSync(path, 'utf8').trim();
    if (t.startsWith(`K10${caHash(caCert)}::`)) return t;
  }
  const token = `K10${caHash(caCert)}::server:${randomBytes(16).toString('hex')}`;
  writeFileSync(path, token + '\n', { mode: 0o600 });
  return token;
}

export function parseJoinToken(token: string): { caHash?: string; secret: string } {
  const m = /^K10([0-9a-f]{64})::[^:]+:(.+)$/.exec(token.trim());
  if (m) return { caHash: m[1], secret: m[2] };
  return { secret: token.trim() };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

const NODE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function joinRoutes(pki: PKI, token: string): Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> {
  const { secret } = parseJoinToken(token);
  const routes = new Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>();
  routes.set(CACERTS_PATH, async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
    res.end(pki.caCert);
  });
  routes.set(NODE_CREDENTIALS_PATH, async (req, res) => {
    if (req.method !== 'POST') return json(res, 405, status(405, 'MethodNotAllowed', 'use POST'));
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const given = auth ? Buffer.from(parseJoinToken(auth[1]).secret) : Buffer.alloc(0);
    const want = Buffer.from(secret);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return json(res, 401, status(401, 'Unauthorized', 'invalid join token'));
    let body = '';
    for await (const chunk of req) {
      body += chunk;
      if (body.length > 65536) return json(res, 413, status(413, 'RequestEntityTooLarge', 'request body too large'));
    }
    let reqBody: { nodeName?: unknown; addresses?: unknown };
    try {
      reqBody = JSON.parse(body);
    } catch {
      return json(res, 400, status(400, 'BadRequest', 'body must be JSON: {"nodeName": "...", "addresses": ["..."]}'));
    }
    const name = reqBody.nodeName;
    if (typeof name !== 'string' || name.length > 253 || !NODE_NAME.test(name)) {
      return json(res, 422, status(422, 'Invalid', `invalid node name ${JSON.stringify(name)}: must be a lowercase RFC 1123 subdomain`));
    }
    const addresses = Array.isArray(reqBody.addresses) ? reqBody.addresses.filter((a): a is string => typeof a === 'string' && isIP(a) !== 0) : [];
    const client = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: `system:node:${name}`, groups: ['system:nodes'], usage: 'client' });
    const serving = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: name, sans: [name, 'localhost', '127.0.0.1', ...addresses], usage: 'server' });
    json(res, 200, { ca: pki.caCert, clientCert: client.cert, clientKey: client.key, servingCert: serving.cert, servingKey: serving.key });
  });
  return routes;
}
