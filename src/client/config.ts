// How a client reaches the API server: address, CA, and credentials (client certificate or
// bearer token), read from a kubeconfig or given directly by the process that embeds it.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ClientConfig {
  /** https://host:port */
  server: string;
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  /** Plain HTTP over this Unix socket instead of HTTPS to `server` (in-process components). */
  socketPath?: string;
  /** Sent as User-Agent; shows in managedFields as the default field manager. */
  userAgent?: string;
  /**
   * A watch that asked for bookmarks and hears nothing (no event, no bookmark) for this long is
   * dropped and resumed: a half-open connection (a server gone without a FIN or RST) would
   * otherwise stall it until its timeoutSeconds. Default 150 s (k8ts sends bookmarks every 30 s,
   * kube-apiserver about every minute).
   */
  watchIdleTimeoutMs?: number;
}

const fromB64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64') : undefined);

/** Reads the current context of a kubeconfig file (inline data or file paths). */
export function loadKubeconfig(path: string, userAgent?: string): ClientConfig {
  const kc = parse(readFileSync(path, 'utf8'));
  const ctxName = kc['current-context'];
  const ctx = (kc.contexts ?? []).find((c: { name: string }) => c.name === ctxName)?.context ?? kc.contexts?.[0]?.context;
  const cluster = (kc.clusters ?? []).find((c: { name: string }) => c.name === ctx?.cluster)?.cluster ?? kc.clusters[0].cluster;
  const user = (kc.users ?? []).find((u: { name: string }) => u.name === ctx?.user)?.user ?? kc.users?.[0]?.user ?? {};
  const read = (data: string | undefined, file: string | undefined) => fromB64(data) ?? (file ? readFileSync(file) : undefined);
  return {
    server: cluster.server,
    ca: read(cluster['certificate-authority-data'], cluster['certificate-authority']) ?? '',
    cert: read(user['client-certificate-data'], user['client-certificate']),
    key: read(user['client-key-data'], user['client-key']),
    token: user.token,
    userAgent,
  };
}
