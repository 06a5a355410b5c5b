// ControllerRevision history (upstream pkg/controller/history): naming, hashing, ordering and
// equality of revisions, and the API operations a controller performs on its history (create
// with hash-collision avoidance, renumber, delete, adopt, release). Reads come from the shared
// controllerrevisions informer.

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { byNamespace, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import type { Selector } from '../../machinery/labels.js';
import { controllerOf, newControllerRef, type OwnerKind } from './controller-utils.js';
import { Fnv32, safeEncodeString, stableStringify } from './hash.js';

/** The label on a ControllerRevision holding the hash of its data. */
export const CONTROLLER_REVISION_HASH_LABEL = 'controller.kubernetes.io/hash';

/** prefix-hash, the prefix cut to 223 bytes so the name stays within 253. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`;
}

/** FNV-1 32 of the serialised data, then of the decimal collision count if given; safe-encoded. */
export function hashControllerRevision(data: unknown, probe?: number): string {
  const h = new Fnv32(false);
  if (data !== undefined && data !== null) h.write(stableStringify(data));
  if (probe !== undefined) h.write(String(probe));
  return safeEncodeString(String(h.sum32()));
}

/** A new (not yet created) revision owned by parent, labelled with templateLabels and the hash. */
export function newControllerRevision(
  parent: KubeObject,
  kind: OwnerKind,
  templateLabels: Record<string, string> | undefined,
  data: unknown,
  revision: number,
  collisionCount: number,
): KubeObject {
  const hash = hashControllerRevision(data, collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(parent.metadata.name!, hash),
      namespace: parent.metadata.namespace,
      labels: { ...(templateLabels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ownerReferences: [newControllerRef(parent, kind)],
    },
    data,
    revision,
  };
}

const ts = (o: KubeObject) => (o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : 0);

/** Sorts by revision number, ties by creation time, then name (stable). */
export function sortControllerRevisions(revs: KubeObject[]): KubeObject[] {
  return revs.sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0) || ts(a) - ts(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0));
}

/** One more than the highest revision of a sorted history; 1 for none. */
export function nextRevision(sorted: KubeObject[]): number {
  return sorted.length ? (sorted[sorted.length - 1]!.revision ?? 0) + 1 : 1;
}

/** Same data (hash labels, when both parse as numbers and differ, short-circuit as upstream). */
export function equalRevision(a: KubeObject | undefined, b: KubeObject | undefined): boolean {
  if (!a || !b) return a === b;
  const ha = a.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL];
  const hb = b.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL];
  if (ha !== undefined && hb !== undefined && /^\d+$/.test(ha) && /^\d+$/.test(hb) && ha !== hb) return false;
  return stableStringify(a.data ?? null) === stableStringify(b.data ?? null);
}

export function findEqualRevisions(revs: KubeObject[], needle: KubeObject): KubeObject[] {
  return revs.filter((r) => equalRevision(r, needle));
}

export class History {
  private readonly revisions;

  constructor(
    client: Client,
    private readonly informer: SharedInformer,
  ) {
    this.revisions = client.resource(R.controllerrevisions);
    informer.addIndex('namespace', byNamespace);
  }

  /** Revisions in parent's namespace matching selector, owned by parent or by no controller. */
  list(parent: KubeObject, selector: Selector): KubeObject[] {
    return this.informer.indexer.byIndex('namespace', parent.metadata.namespace!).filter((r) => {
      if (!selector.matches(r.metadata.labels)) return false;
      const ref = controllerOf(r);
      return !ref || ref.uid === parent.metadata.uid;
    });
  }

  /**
   * Creates revision under parent, naming it by its hash and collision.count. A name taken by
   * equal data returns the existing revision; taken by other data bumps collision.count and retries.
   */
  async create(parent: KubeObject, revision: KubeObject, collision: { count: number }): Promise<KubeObject> {
    for (;;) {
      const hash = hashControllerRevision(revision.data, collision.count);
      const name = controllerRevisionName(parent.metadata.name!, hash);
      const body = structuredClone(revision);
      body.metadata.name = name;
      body.metadata.namespace = parent.metadata.namespace;
      try {
        return await this.revisions.create(parent.metadata.namespace, body);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        const existing = await this.revisions.get(parent.metadata.namespace, name);
        if (stableStringify(existing.data ?? null) === stableStringify(body.data ?? null)) return existing;
        collision.count++;
      }
    }
  }

  /** Sets the revision number (used when rolling back to an earlier template). */
  async updateRevision(rev: KubeObject, revision: number): Promise<KubeObject> {
    if (rev.revision === revision) return rev;
    return this.revisions.patch(rev.metadata.namespace, rev.metadata.name!, 'merge', { revision });
  }

  async delete(rev: KubeObject): Promise<void> {
    try {
      await this.revisions.delete(rev.metadata.namespace, rev.metadata.name!);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Adds parent as controller of an orphaned revision. */
  async adopt(parent: KubeObject, kind: OwnerKind, rev: KubeObject): Promise<KubeObject> {
    const owner = controllerOf(rev);
    if (owner) throw new Error(`attempt to adopt revision owned by ${owner.kind}/${owner.name}`);
    const refs = [...(rev.metadata.ownerReferences ?? []), newControllerRef(parent, kind)];
    return this.revisions.patch(rev.metadata.namespace, rev.metadata.name!, 'merge', { metadata: { uid: rev.metadata.uid, ownerReferences: refs } });
  }

  /** Removes parent from the revision's owners; a revision already gone is fine. */
  async release(parent: KubeObject, rev: KubeObject): Promise<void> {
    const refs = (rev.metadata.ownerReferences ?? []).filter((r) => r.uid !== parent.metadata.uid);
    try {
      await this.revisions.patch(rev.metadata.namespace, rev.metadata.name!, 'merge', { metadata: { uid: rev.metadata.uid, ownerReferences: refs } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
