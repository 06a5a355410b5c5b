// Private registries and mirrors, in k3s's `registries.yaml` format:
//
//   mirrors:
//     docker.io:
//       endpoint: ["http://127.0.0.1:5000"]
//   configs:
//     "127.0.0.1:5000":
//       tls: { insecure_skip_verify: true, ca_file: ..., cert_file: ..., key_file: ... }
//       auth: { username: ..., password: ... }
//
// containerd 1.6 reads mirrors and TLS settings from a `config_path` directory with one
// `<host>/hosts.toml` per registry (https://github.com/containerd/containerd/blob/v1.6.20/docs/hosts.md);
// credentials stay in the CRI plugin's `registry.configs."<host>".auth`, which 1.6 still honours
// together with config_path.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface RegistryMirror {
  endpoint: string[];
}

export interface RegistryTLS {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  insecure_skip_verify?: boolean;
}

export interface RegistryAuth {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
}

export interface RegistriesConfig {
  mirrors: Record<string, RegistryMirror>;
  configs: Record<string, { tls?: RegistryTLS; auth?: RegistryAuth }>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where}: expected a string`);
  return v;
}

/** Parses and checks registries.yaml text; errors name the offending key. */
export function parseRegistries(text: string, source = 'registries.yaml'): RegistriesConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  if (!isRecord(doc)) throw new Error(`${source}: expected a mapping with "mirrors" and "configs"`);
  const out: RegistriesConfig = { mirrors: {}, configs: {} };
  const mirrors = doc.mirrors ?? {};
  if (!isRecord(mirrors)) throw new Error(`${source}: mirrors: expected a mapping of registry host to {endpoint: [...]}`);
  for (const [host, m] of Object.entries(mirrors)) {
    const where = `${source}: mirrors.${host}`;
    if (!isRecord(m)) throw new Error(`${where}: expected {endpoint: [...]}`);
    const ep = m.endpoint ?? [];
    if (!Array.isArray(ep)) throw new Error(`${where}.endpoint: expected a list of URLs`);
    const endpoint = ep.map((e, i) => {
      const s = str(e, `${where}.endpoint[${i}]`)!;
      endpointURL(s, `${where}.endpoint[${i}]`);
      return s;
    });
    out.mirrors[host] = { endpoint };
  }
  const configs = doc.configs ?? {};
  if (!isRecord(configs)) throw new Error(`${source}: configs: expected a mapping of registry host to {tls, auth}`);
  for (const [host, c] of Object.entries(configs)) {
    const where = `${source}: configs.${host}`;
    if (!isRecord(c)) throw new Error(`${where}: expected {tls: ..., auth: ...}`);
    const entry: { tls?: RegistryTLS; auth?: RegistryAuth } = {};
    if (c.tls !== undefined) {
      if (!isRecord(c.tls)) throw new Error(`${where}.tls: expected a mapping`);
      const skip = c.tls.insecure_skip_verify;
      if (skip !== undefined && typeof skip !== 'boolean') throw new Error(`${where}.tls.insecure_skip_verify: expected true or false`);
      entry.tls = {
        ca_file: str(c.tls.ca_file, `${where}.tls.ca_file`),
        cert_file: str(c.tls.cert_file, `${where}.tls.cert_file`),
        key_file: str(c.tls.key_file, `${where}.tls.key_file`),
        insecure_skip_verify: skip,
      };
    }
    if (c.auth !== undefined) {
      if (!isRecord(c.auth)) throw new Error(`${where}.auth: expected a mapping`);
      entry.auth = {
        username: str(c.auth.username, `${where}.auth.username`),
        password: str(c.auth.password, `${where}.auth.password`),
        auth: str(c.auth.auth, `${where}.auth.auth`),
        identitytoken: str(c.auth.identitytoken, `${where}.auth.identitytoken`),
      };
    }
    out.configs[host] = entry;
  }
  return out;
}

export function loadRegistriesFile(file: string): RegistriesConfig {
  return parseRegistries(readFileSync(file, 'utf8'), file);
}

function endpointURL(s: string, where: string): URL {
  // k3s accepts bare host[:port] and assumes https.
  const withScheme = /^[a-z]+:\/\//i.test(s) ? s : `https://${s}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`${where}: invalid URL ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${where}: ${JSON.stringify(s)} must be http:// or https://`);
  return u;
}

const isLoopback = (hostname: string): boolean => hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';

const tomlString = (s: string): string => JSON.stringify(s);

function hostSection(url: URL, capabilities: string[], cfg: { tls?: RegistryTLS } | undefined): string {
  const base = url.pathname && url.pathname !== '/' ? `${url.origin}${url.pathname.replace(/\/$/, '')}` : url.origin;
  const lines = [`[host.${tomlString(base)}]`, `  capabilities = [${capabilities.map(tomlString).join(', ')}]`];
  const tls = cfg?.tls;
  if (tls?.insecure_skip_verify) lines.push('  skip_verify = true');
  if (tls?.ca_file) lines.push(`  ca = ${tomlString(tls.ca_file)}`);
  if (tls?.cert_file && tls.key_file) lines.push(`  client = [[${tomlString(tls.cert_file)}, ${tomlString(tls.key_file)}]]`);
  // A path in the endpoint is the registry's API root, not /v2 under it.
  if (url.pathname && url.pathname !== '/') lines.push('  override_path = true');
  return lines.join('\n');
}

/** hosts.toml files by directory name (registry host, or `_default` for k3s's "*" mirror). */
export function hostsFiles(reg: RegistriesConfig): Map<string, string> {
  const files = new Map<string, string>();
  for (const [registry, mirror] of Object.entries(reg.mirrors)) {
    const dir = registry === '*' ? '_default' : registry;
    const parts: string[] = [];
    if (registry !== '*') {
      const server = registry === 'docker.io' ? 'https://registry-1.docker.io' : `https://${registry}`;
      parts.push(`server = ${tomlString(server)}`);
    }
    for (const ep of mirror.endpoint) {
      const u = endpointURL(ep, `mirrors.${registry}`);
      parts.push(hostSection(u, ['pull', 'resolve'], reg.configs[u.host]));
    }
    files.set(dir, parts.join('\n\n') + '\n');
  }
  // TLS settings of registries used directly (no mirror entry of their own).
  for (const [host, cfg] of Object.entries(reg.configs)) {
    if (files.has(host) || !cfg.tls || host === '*') continue;
    const u = endpointURL(host, `configs.${host}`);
    // containerd speaks plain HTTP to loopback registries when no hosts.toml names them; a
    // hosts.toml must not change that (containerd reports the first failing host, so a missing
    // image would show as a failed TLS handshake instead of "not found"). `server` is itself
    // tried last, hence http:// there too. A loopback HTTPS registry is a mirror endpoint.
    if (isLoopback(u.hostname)) {
      files.set(host, `server = ${tomlString(`http://${u.host}`)}\n`);
      continue;
    }
    files.set(host, `server = ${tomlString(u.origin)}\n\n${hostSection(u, ['pull', 'resolve', 'push'], cfg)}\n`);
  }
  return files;
}

/** Writes `<dir>/<host>/hosts.toml` for every registry, replacing what was there. */
export function writeHostsDir(dir: string, reg: RegistriesConfig | undefined): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (!reg) return;
  for (const [host, body] of hostsFiles(reg)) {
    mkdirSync(join(dir, host), { recursive: true });
    writeFileSync(join(dir, host, 'hosts.toml'), body, { mode: 0o600 });
  }
}

/** The CRI plugin's registry section: config_path plus per-host credentials. */
export function criRegistryToml(configPath: string, reg: RegistriesConfig | undefined): string {
  const lines = ['[plugins."io.containerd.grpc.v1.cri".registry]', `  config_path = ${tomlString(configPath)}`];
  for (const [host, cfg] of Object.entries(reg?.configs ?? {})) {
    const a = cfg.auth;
    if (!a || !(a.username || a.password || a.auth || a.identitytoken)) continue;
    lines.push('', `[plugins."io.containerd.grpc.v1.cri".registry.configs.${tomlString(host)}.auth]`);
    if (a.username) lines.push(`  username = ${tomlString(a.username)}`);
    if (a.password) lines.push(`  password = ${tomlString(a.password)}`);
    if (a.auth) lines.push(`  auth = ${tomlString(a.auth)}`);
    if (a.identitytoken) lines.push(`  identitytoken = ${tomlString(a.identitytoken)}`);
  }
  return lines.join('\n') + '\n';
}
