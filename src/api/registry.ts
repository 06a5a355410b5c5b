// The set of served resources: built-in ones, and (later) CRDs added at run time.
// Group order and preferred versions follow upstream's discovery so that kubectl resolves
// short names the same way (e.g. "events" → core/v1, "hpa" → autoscaling/v2).

import type { ResourceDef } from './resource.js';

/** Upstream's order of API groups in /apis; unknown groups (CRDs) follow, by name. */
const GROUP_ORDER = [
  '',
  'apiregistration.k8s.io',
  'apps',
  'events.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'node.k8s.io',
  'discovery.k8s.io',
  'flowcontrol.apiserver.k8s.io',
];

export interface GroupInfo {
  name: string;
  /** Versions, preferred first. */
  versions: string[];
}

function versionRank(v: string): number[] {
  // v2 > v1 > v1beta2 > v1beta1 > v1alpha1 (Kubernetes version priority).
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
  if (!m) return [0, 0, 0];
  const stability = m[2] === undefined ? 3 : m[2] === 'beta' ? 2 : 1;
  return [stability, Number(m[1]), Number(m[3] ?? 0)];
}

function compareVersions(a: string, b: string): number {
  const ra = versionRank(a);
  const rb = versionRank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return rb[i] - ra[i];
  return 0;
}

export class ResourceRegistry {
  private readonly byKey = new Map<string, ResourceDef>();
  private version = 0;

  constructor(defs: ResourceDef[] = []) {
    for (const d of defs) this.add(d);
  }

  /** Bumped on every change; discovery caches key on it. */
  get generation(): number {
    return this.version;
  }

  add(def: ResourceDef): void {
    this.byKey.set(`${def.group}/${def.version}/${def.plural}`, def);
    this.version++;
  }

  remove(group: string, version: string, plural: string): void {
    if (this.byKey.delete(`${group}/${version}/${plural}`)) this.version++;
  }

  lookup(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.byKey.get(`${group}/${version}/${plural}`);
  }

  all(): ResourceDef[] {
    return [...this.byKey.values()];
  }

  hasGroupVersion(group: string, version: string): boolean {
    for (const d of this.byKey.values()) if (d.group === group && d.version === version) return true;
    return false;
  }

  resourcesOf(group: string, version: string): ResourceDef[] {
    return this.all().filter((d) => d.group === group && d.version === version);
  }

  groups(): GroupInfo[] {
    const versions = new Map<string, Set<string>>();
    for (const d of this.byKey.values()) {
      let s = versions.get(d.group);
      if (!s) versions.set(d.group, (s = new Set()));
      s.add(d.version);
    }
    const names = [...versions.keys()].sort((a, b) => {
      const ia = GROUP_ORDER.indexOf(a);
      const ib = GROUP_ORDER.indexOf(b);
      if (ia >= 0 && ib >= 0) return ia - ib;
      if (ia >= 0) return -1;
      if (ib >= 0) return 1;
      return a < b ? -1 : a > b ? 1 : 0;
    });
    return names.map((name) => ({ name, versions: [...versions.get(name)!].sort(compareVersions) }));
  }
}
