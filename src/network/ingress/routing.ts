// The routing table: which backend serves a (host, path). Pure functions over Ingress objects, so
// the matching rules of https://kubernetes.io/docs/concepts/services-networking/ingress/ are
// tested without sockets.

import { oldestFirst } from '../../api/meta/age.js';
import type { KubeObject } from '../../api/meta/v1.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface BackendRef {
  namespace: string;
  /** The Ingress (namespace/name) the route came from, for metrics and logs. */
  ingress: string;
  service: string;
  port: { number?: number; name?: string };
}

interface PathRoute {
  path: string;
  /** The path split into its non-empty '/' elements (Prefix matching is element-wise). */
  elements: string[];
  exact: boolean;
  backend: BackendRef;
  redirectToHTTPS: boolean;
}

interface HostRoutes {
  paths: PathRoute[];
}

export interface RouteTable {
  exact: Map<string, HostRoutes>;
  /** Keyed by the suffix after "*." ("foo.com" for "*.foo.com"). */
  wildcard: Map<string, HostRoutes>;
  /** Rules without a host: they match every host no host rule claims. */
  anyHost: HostRoutes;
  defaultBackend?: BackendRef;
}

export interface RouteMatch {
  backend: BackendRef;
  /** The rule path that matched ("" for the default backend). */
  path: string;
  /** Plain HTTP to a host the Ingress has TLS for: answered with a redirect. */
  redirectToHTTPS: boolean;
}

/** ingress-nginx's annotation; its default is to redirect hosts that have TLS. */
export const SSL_REDIRECT_ANNOTATION = 'nginx.ingress.kubernetes.io/ssl-redirect';

/** The hosts an Ingress has TLS for, when it redirects plain HTTP for them. */
function redirectHosts(ing: KubeObject): string[] {
  if (ing.metadata.annotations?.[SSL_REDIRECT_ANNOTATION] === 'false') return [];
  const spec = (ing as Obj).spec ?? {};
  const ruleHosts = ((spec.rules ?? []) as Obj[]).map((r) => r.host).filter(Boolean) as string[];
  return ((spec.tls ?? []) as Obj[]).flatMap((t) => (t.hosts?.length ? (t.hosts as string[]) : ruleHosts));
}

function toBackend(ing: KubeObject, b: Obj | undefined): BackendRef | undefined {
  if (!b?.service?.name) return undefined; // resource backends are not served by this controller
  const ns = ing.metadata.namespace ?? 'default';
  return { namespace: ns, ingress: `${ns}/${ing.metadata.name}`, service: b.service.name, port: { number: b.service.port?.number, name: b.service.port?.name } };
}

function splitPath(p: string): string[] {
  return p.split('/').filter(Boolean);
}


/** Lowercases and drops a trailing dot, as DNS names compare. */
export function normalizeHost(h: string): string {
  const l = h.toLowerCase();
  return l.endsWith('.') ? l.slice(0, -1) : l;
}

export function buildRouteTable(ingresses: KubeObject[]): RouteTable {
  const table: RouteTable = { exact: new Map(), wildcard: new Map(), anyHost: { paths: [] } };
  for (const ing of [...ingresses].sort(oldestFirst)) {
    const spec = (ing as Obj).spec ?? {};
    if (!table.defaultBackend) table.defaultBackend = toBackend(ing, spec.defaultBackend);
    const tlsHosts = redirectHosts(ing);
    for (const rule of (spec.rules ?? []) as Obj[]) {
      let routes: HostRoutes;
      const host = rule.host ? normalizeHost(String(rule.host)) : '';
      const redirectToHTTPS = !!host && tlsHosts.some((h) => normalizeHost(h) === host || (!host.startsWith('*.') && hostCovers(h, host)));
      if (!host) routes = table.anyHost;
      else {
        const wild = host.startsWith('*.');
        const map = wild ? table.wildcard : table.exact;
        const key = wild ? host.slice(2) : host;
        routes = map.get(key) ?? { paths: [] };
        map.set(key, routes);
      }
      for (const p of (rule.http?.paths ?? []) as Obj[]) {
        const backend = toBackend(ing, p.backend);
        if (!backend) continue;
        const exact = p.pathType === 'Exact';
        const path = p.path || '/';
        // The first (oldest) claim on a path of a type wins.
        if (routes.paths.some((r) => r.path === path && r.exact === exact)) continue;
        routes.paths.push({ path, elements: splitPath(path), exact, backend, redirectToHTTPS });
      }
    }
  }
  // Longest path first; for equal paths, Exact before Prefix.
  const order = (a: PathRoute, b: PathRoute) => b.path.length - a.path.length || Number(b.exact) - Number(a.exact);
  for (const r of [table.anyHost, ...table.exact.values(), ...table.wildcard.values()]) r.paths.sort(order);
  return table;
}

function prefixMatches(route: PathRoute, reqElements: string[]): boolean {
  if (route.elements.length > reqElements.length) return false;
  for (let i = 0; i < route.elements.length; i++) if (route.elements[i] !== reqElements[i]) return false;
  return true;
}

function matchPaths(routes: HostRoutes, path: string): PathRoute | undefined {
  let elements: string[] | undefined;
  for (const r of routes.paths) {
    if (r.exact) {
      if (r.path === path) return r;
      continue;
    }
    elements ??= splitPath(path);
    if (prefixMatches(r, elements)) return r;
  }
  return undefined;
}

/**
 * The host's rules: an exact host first, then a wildcard covering exactly one leading label,
 * then the host-less rules. The host chosen is final (like a virtual server): a path that none of
 * its rules match goes to the default backend.
 */
function routesFor(table: RouteTable, host: string): HostRoutes {
  const exact = table.exact.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  if (dot > 0) {
    const wild = table.wildcard.get(host.slice(dot + 1));
    if (wild) return wild;
  }
  return table.anyHost;
}

/** host: normalized, without port; path: the request path without the query. */
export function matchRoute(table: RouteTable, host: string, path: string): RouteMatch | undefined {
  const r = matchPaths(routesFor(table, host), path);
  if (r) return { backend: r.backend, path: r.path, redirectToHTTPS: r.redirectToHTTPS };
  return table.defaultBackend ? { backend: table.defaultBackend, path: '', redirectToHTTPS: false } : undefined;
}

/** Whether a TLS host entry ("foo.com" or "*.foo.com") covers a server name. */
export function hostCovers(pattern: string, name: string): boolean {
  const p = normalizeHost(pattern);
  if (!p.startsWith('*.')) return p === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === p.slice(2);
}
