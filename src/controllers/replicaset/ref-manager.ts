// Upstream's ControllerRefManager (pkg/controller/controller_ref_manager.go): a controller claims
// the objects it selects. Objects it owns that no longer match are released (its ownerReference
// removed); orphans that match are adopted (a controller ownerReference added), both by strategic
// merge patch carrying the object's uid as a precondition. Objects owned by another controller
// are left alone.

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceClient } from '../../client/client.js';
import { ApiError, isNotFound } from '../../client/transport.js';
import type { Selector } from '../../machinery/labels.js';
import { controllerOf } from './pods.js';

export interface ClaimOptions {
  /** The controller: its uid, namespace and deletionTimestamp matter. */
  owner: KubeObject;
  ownerApiVersion: string;
  ownerKind: string;
  selector: Selector;
  /** The dependents' resource, for the adopt/release patches. */
  client: ResourceClient;
  /** RecheckDeletionTimestamp: throws when the owner is gone or being deleted; called once before the first adoption. */
  canAdopt: () => Promise<void>;
  /** The dependent kind in messages, e.g. "Pod". */
  kind: string;
}

/** Claims the objects: returns those owned by the controller after adoption and release. */
export async function claimObjects(objs: KubeObject[], o: ClaimOptions): Promise<KubeObject[]> {
  const claimed: KubeObject[] = [];
  const errors: unknown[] = [];
  let adoptChecked: Promise<void> | undefined;
  const ownerUID = o.owner.metadata.uid!;
  const match = (x: KubeObject) => o.selector.matches(x.metadata.labels);
  for (const obj of objs) {
    const ref = controllerOf(obj);
    try {
      if (ref) {
        if (ref.uid !== ownerUID) continue;
        if (match(obj)) {
          claimed.push(obj);
          continue;
        }
        if (o.owner.metadata.deletionTimestamp) continue;
        await release(obj, o);
        continue;
      }
      if (o.owner.metadata.deletionTimestamp || !match(obj)) continue;
      if (obj.metadata.deletionTimestamp) continue;
      if (o.owner.metadata.namespace && o.owner.metadata.namespace !== obj.metadata.namespace) continue;
      adoptChecked ??= o.canAdopt();
      try {
        await adoptChecked;
      } catch (e) {
        throw new Error(`can't adopt ${o.kind} ${obj.metadata.namespace}/${obj.metadata.name} (${obj.metadata.uid}): ${(e as Error).message}`);
      }
      const adopted = await o.client.patch(obj.metadata.namespace, obj.metadata.name!, 'strategic', {
        metadata: {
          ownerReferences: [{ apiVersion: o.ownerApiVersion, kind: o.ownerKind, name: o.owner.metadata.name, uid: ownerUID, controller: true, blockOwnerDeletion: true }],
          uid: obj.metadata.uid,
        },
      });
      claimed.push(adopted);
    } catch (e) {
      if (isNotFound(e)) continue;
      errors.push(e);
    }
  }
  if (errors.length) throw errors[0];
  return claimed;
}

async function release(obj: KubeObject, o: ClaimOptions): Promise<void> {
  try {
    await o.client.patch(obj.metadata.namespace, obj.metadata.name!, 'strategic', {
      metadata: { ownerReferences: [{ $patch: 'delete', uid: o.owner.metadata.uid }], uid: obj.metadata.uid },
    });
  } catch (e) {
    // Gone, or no longer ours (Invalid: no such ownerReference, or a new object under the name).
    if (isNotFound(e) || (e instanceof ApiError && e.code === 422)) return;
    throw e;
  }
}

/**
 * RecheckDeletionTimestamp: a fresh read of the owner, for adoption. A different uid means the
 * owner we listed is gone; a deletionTimestamp means it is being deleted.
 */
export function recheckDeletionTimestamp(get: () => Promise<KubeObject>, owner: KubeObject): () => Promise<void> {
  return async () => {
    const fresh = await get();
    const m = owner.metadata;
    if (fresh.metadata.uid !== m.uid) throw new Error(`original ${m.namespace}/${m.name} is gone: got uid ${fresh.metadata.uid}, wanted ${m.uid}`);
    if (fresh.metadata.deletionTimestamp) throw new Error(`${m.namespace}/${m.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
  };
}
