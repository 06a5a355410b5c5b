// Authentication: client certificates signed by the cluster CA (CN = user, O = groups) and
// static bearer tokens (--token-auth-file, CSV: token,user,uid,"group1,group2"). Anything
// else is unauthenticated, which the server answers with 401.

import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { UserInfo } from '../context.js';

export interface Authenticator {
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

/** Parses a static token file; throws with the line number on a malformed line. */
export function parseTokenFile(text: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line || line.startsWith('#')) continue;
    const fields = parseCSVLine(line);
    if (fields.length < 3 || !fields[0] || !fields[1]) throw new Error(`token file line ${i + 1}: expected token,user,uid[,"groups"]`);
    const groups = fields[3] ? fields[3].split(',').map((g) => g.trim()).filter(Boolean) : [];
    tokens.set(fields[0], { username: fields[1], uid: fields[2], groups: [...groups, 'system:authenticated'] });
  }
  return tokens;
}

function parseCSVLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

export function createAuthenticator(opts: { tokenAuthFile?: string }): Authenticator {
  const tokens = opts.tokenAuthFile ? parseTokenFile(readFileSync(opts.tokenAuthFile, 'utf8')) : new Map<string, UserInfo>();
  // A connection's client certificate does not change: read it once per socket.
  const bySocket = new WeakMap<TLSSocket, UserInfo | null>();
  return {
    authenticate(req) {
      const auth = req.headers.authorization;
      if (auth) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
        if (m) {
          const u = tokens.get(m[1]);
          if (u) return u;
        }
      }
      const sock = req.socket as TLSSocket;
      const cached = bySocket.get(sock);
      if (cached !== undefined) return cached ?? undefined;
      let user: UserInfo | null = null;
      if (sock.authorized) {
        const cert = sock.getPeerCertificate();
        const cn = cert?.subject?.CN;
        if (cn) {
          const o = cert.subject.O;
          const groups = Array.isArray(o) ? o : o ? [o] : [];
          user = { username: Array.isArray(cn) ? cn[0] : cn, groups: [...groups, 'system:authenticated'] };
        }
      }
      bySocket.set(sock, user);
      return user ?? undefined;
    },
  };
}
