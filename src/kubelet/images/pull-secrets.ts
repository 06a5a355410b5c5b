// Image pull secrets → CRI AuthConfig, as upstream's credential keyring matches them: the keys of
// a `.dockerconfigjson` (`{"auths": {...}}`) or legacy `.dockercfg` secret are registry hosts,
// optionally with a path prefix, a scheme, or a `*.` wildcard; the most specific match is tried
// first. https://kubernetes.io/docs/concepts/containers/images/#config-json

import type { KubeObject } from '../../api/meta/v1.js';
import type { AuthConfig } from '../runtime/runtime.js';
import { parseImageReference } from './reference.js';

interface DockerConfigEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface KeyringEntry {
  host: string;
  path: string;
  auth: AuthConfig;
}

const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

function parseKey(key: string): { host: string; path: string } {
  let s = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = s.indexOf('/');
  let host = slash >= 0 ? s.slice(0, slash) : s;
  let path = slash >= 0 ? s.slice(slash + 1) : '';
  s = '';
  host = host.toLowerCase();
  if (DOCKER_HUB_ALIASES.has(host)) host = 'docker.io';
  // "https://index.docker.io/v1/" names the registry, not a repository path.
  path = path.replace(/^v[12]\/?$/, '').replace(/\/+$/, '');
  return { host, path };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  // Wildcards match one DNS label per `*`, and the port must agree.
  const [pHost, pPort = ''] = pattern.split(/:(?=\d+$)/);
  const [hHost, hPort = ''] = host.split(/:(?=\d+$)/);
  if (pPort !== hPort || !pHost.includes('*')) return false;
  const pl = pHost.split('.');
  const hl = hHost.split('.');
  if (pl.length !== hl.length) return false;
  return pl.every((p, i) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*')}$`).test(hl[i]));
}

function toAuthConfig(e: DockerConfigEntry, serverAddress: string): AuthConfig | undefined {
  let { username, password } = e;
  if (e.auth && !username && !password) {
    const decoded = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1);
    }
  }
  if (!username && !password && !e.identitytoken && !e.registrytoken) return undefined;
  return {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(e.identitytoken ? { identity_token: e.identitytoken } : {}),
    ...(e.registrytoken ? { registry_token: e.registrytoken } : {}),
    server_address: serverAddress,
  };
}

function secretEntries(secret: KubeObject, onError: (msg: string) => void): Record<string, DockerConfigEntry> {
  const s = secret as KubeObject & { type?: string; data?: Record<string, string> };
  const name = `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}`;
  try {
    if (s.data?.['.dockerconfigjson']) {
      const doc = JSON.parse(Buffer.from(s.data['.dockerconfigjson'], 'base64').toString('utf8'));
      return (doc?.auths ?? {}) as Record<string, DockerConfigEntry>;
    }
    if (s.data?.['.dockercfg']) {
      return JSON.parse(Buffer.from(s.data['.dockercfg'], 'base64').toString('utf8')) ?? {};
    }
  } catch (e) {
    onError(`pull secret ${name} is not valid JSON: ${(e as Error).message}`);
  }
  return {};
}

/**
 * The credentials to try for `image`, most specific first; empty when no secret matches (then
 * the pull goes without credentials, or with the registry's configured ones).
 */
export function credentialsForImage(image: string, secrets: KubeObject[], onError: (msg: string) => void = () => {}): AuthConfig[] {
  let ref;
  try {
    ref = parseImageReference(image);
  } catch {
    return [];
  }
  const entries: KeyringEntry[] = [];
  for (const secret of secrets) {
    for (const [key, entry] of Object.entries(secretEntries(secret, onError))) {
      if (!entry || typeof entry !== 'object') continue;
      const { host, path } = parseKey(key);
      const auth = toAuthConfig(entry, ref.domain);
      if (auth) entries.push({ host, path, auth });
    }
  }
  return entries
    .filter((e) => hostMatches(e.host, ref.domain) && (!e.path || ref.path === e.path || ref.path.startsWith(`${e.path}/`)))
    .sort((a, b) => b.host.length + b.path.length - (a.host.length + a.path.length))
    .map((e) => e.auth);
}
