// The admin kubeconfig written to <data-dir>/kubeconfig.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PKI } from './pki.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

export function kubeconfigYaml(o: { server: string; caCert: string; clientCert?: string; clientKey?: string; token?: string; user?: string }): string {
  const user: Record<string, string> = {};
  if (o.clientCert && o.clientKey) {
    user['client-certificate-data'] = b64(o.clientCert);
    user['client-key-data'] = b64(o.clientKey);
  }
  if (o.token) user.token = o.token;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default', cluster: { server: o.server, 'certificate-authority-data': b64(o.caCert) } }],
    users: [{ name: o.user ?? 'default', user }],
    contexts: [{ name: 'default', context: { cluster: 'default', user: o.user ?? 'default' } }],
    'current-context': 'default',
    preferences: {},
  });
}

/** Writes the admin kubeconfig (0600) and returns its path. */
export async function writeKubeconfig(o: { dataDir: string; pki: PKI; server: string }): Promise<string> {
  const path = join(o.dataDir, 'kubeconfig');
  writeFileSync(path, kubeconfigYaml({ server: o.server, caCert: o.pki.caCert, clientCert: o.pki.adminCert, clientKey: o.pki.adminKey }), { mode: 0o600 });
  return path;
}
