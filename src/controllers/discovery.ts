// The resources the GC and namespace controllers walk: every served resource that stores its
// own objects (aliases stored as another version are skipped), and a lookup from an owner
// reference's apiVersion/kind to its resource.

import { builtinResources } from '../api/builtin.js';
import type { ResourceDef } from '../api/resource.js';
import type { GVR } from '../client/resources.js';

const toGVR = (d: ResourceDef): GVR => ({ group: d.group, version: d.version, plural: d.plural, kind: d.kind, namespaced: d.namespaced });

export class ResourceCatalog {
  private readonly byKind = new Map<string, GVR>();
  readonly stored: GVR[];

  constructor(defs: ResourceDef[] = builtinResources()) {
    const stored: GVR[] = [];
    for (const d of defs) {
      const gvr = toGVR(d);
      const k = `${d.group}/${d.kind}`;
      this.byKind.set(`${d.group}/${d.version}/${d.kind}`, gvr);
      // Any version of the kind maps to the group's preferred one.
      if (!this.byKind.has(k) || d.preferred !== false) this.byKind.set(k, gvr);
      const verbs = d.verbs ?? ['list', 'watch', 'delete'];
      if (!d.storage && verbs.includes('list') && verbs.includes('watch') && verbs.includes('delete')) stored.push(gvr);
    }
    this.stored = stored;
  }

  /** The resource for an ownerReference's apiVersion and kind (any version of the group). */
  forKind(apiVersion: string, kind: string): GVR | undefined {
    const i = apiVersion.indexOf('/');
    const group = i < 0 ? '' : apiVersion.slice(0, i);
    const version = i < 0 ? apiVersion : apiVersion.slice(i + 1);
    return this.byKind.get(`${group}/${version}/${kind}`) ?? this.byKind.get(`${group}/${kind}`);
  }
}
