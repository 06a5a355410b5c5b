// Discovery: /api, /apis, per group and group-version (legacy), and the aggregated form
// (apidiscovery.k8s.io v2 and v2beta1) that kubectl 1.27+ asks for first.

import { createHash } from 'node:crypto';
import type { ResourceRegistry } from '../api/registry.js';
import { ALL_VERBS, type ExtraSubresource, type ResourceDef } from '../api/resource.js';

const SUB_VERBS = ['get', 'patch', 'update'];

export function verbsOf(def: ResourceDef): string[] {
  return def.verbs ?? ALL_VERBS;
}

function storageVersionHash(def: ResourceDef): string {
  const s = def.storage ? `${def.storage.group}/${def.storage.version}/${def.storage.resource}` : `${def.group}/${def.version}/${def.plural}`;
  return createHash('sha256').update(s).digest('base64').slice(0, 11);
}

export class Discovery {
  private cacheGen = -1;
  private cache = new Map<string, string>();

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly serverAddress: () => string,
  ) {}

  private memo(key: string, build: () => unknown): string {
    if (this.cacheGen !== this.registry.generation) {
      this.cache.clear();
      this.cacheGen = this.registry.generation;
    }
    let v = this.cache.get(key);
    if (v === undefined) {
      v = JSON.stringify(build());
      this.cache.set(key, v);
    }
    return v;
  }

  apiVersions(): string {
    return this.memo('api', () => ({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress() }],
    }));
  }

  private groupObject(name: string, versions: string[]) {
    const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
    return { name, versions: vs, preferredVersion: vs[0] };
  }

  apiGroupList(): string {
    return this.memo('apis', () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.registry
        .groups()
        .filter((g) => g.name !== '')
        .map((g) => this.groupObject(g.name, g.versions)),
    }));
  }

  /** GET /apis/<group>, or undefined when the group is not served. */
  apiGroup(group: string): string | undefined {
    const g = this.registry.groups().find((x) => x.name === group && group !== '');
    if (!g) return undefined;
    return this.memo(`group/${group}`, () => ({ kind: 'APIGroup', apiVersion: 'v1', ...this.groupObject(g.name, g.versions) }));
  }

  /** GET /api/v1 or /apis/<group>/<version>. */
  apiResourceList(group: string, version: string): string | undefined {
    if (!this.registry.hasGroupVersion(group, version)) return undefined;
    return this.memo(`gv/${group}/${version}`, () => {
      const resources: Record<string, unknown>[] = [];
      for (const d of sortedResources(this.registry.resourcesOf(group, version))) {
        const r: Record<string, unknown> = {
          name: d.plural,
          singularName: d.singular,
          namespaced: d.namespaced,
          kind: d.kind,
          verbs: verbsOf(d),
        };
        if (d.shortNames?.length) r.shortNames = d.shortNames;
        if (d.categories?.length) r.categories = d.categories;
        if (!d.verbs || d.verbs.includes('get')) r.storageVersionHash = storageVersionHash(d);
        resources.push(r);
        for (const s of subresourcesOf(d)) {
          const r: Record<string, unknown> = { name: `${d.plural}/${s.name}`, singularName: '', namespaced: d.namespaced };
          if (s.group !== d.group || s.version !== d.version) Object.assign(r, { group: s.group, version: s.version });
          resources.push(Object.assign(r, { kind: s.kind, verbs: s.verbs }));
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
    });
  }

  /** Aggregated discovery for /api (legacy core group) or /apis (all named groups). */
  aggregated(which: 'api' | 'apis', version: 'v2' | 'v2beta1'): string {
    return this.memo(`agg/${which}/${version}`, () => {
      const groups = this.registry.groups().filter((g) => (which === 'api' ? g.name === '' : g.name !== ''));
      const items = groups.map((g) => ({
        metadata: which === 'api' ? { creationTimestamp: null } : { name: g.name, creationTimestamp: null },
        versions: g.versions.map((v) => ({
          version: v,
          resources: sortedResources(this.registry.resourcesOf(g.name, v)).map((d) => {
            const r: Record<string, unknown> = {
              resource: d.plural,
              responseKind: { group: d.group, version: d.version, kind: d.kind },
              scope: d.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: d.singular,
              verbs: verbsOf(d),
            };
            if (d.shortNames?.length) r.shortNames = d.shortNames;
            if (d.categories?.length) r.categories = d.categories;
            const subs = subresourcesOf(d).map((s) => ({ subresource: s.name, responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: s.verbs }));
            if (subs.length) r.subresources = subs;
            return r;
          }),
          freshness: 'Current',
        })),
      }));
      return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items };
    });
  }
}

/** Every subresource of a resource, by name (upstream lists them sorted). */
function subresourcesOf(d: ResourceDef): ExtraSubresource[] {
  const out: ExtraSubresource[] = [...(d.subresources?.extra ?? [])];
  if (d.subresources?.scale) out.push({ name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: SUB_VERBS });
  if (d.subresources?.status) out.push({ name: 'status', group: d.group, version: d.version, kind: d.kind, verbs: SUB_VERBS });
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function sortedResources(defs: ResourceDef[]): ResourceDef[] {
  return [...defs].sort((a, b) => (a.plural < b.plural ? -1 : a.plural > b.plural ? 1 : 0));
}
