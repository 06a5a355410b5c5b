// The garbage collector (upstream's pkg/controller/garbagecollector): a graph of owners and
// dependents built from informers over every resource, and three duties:
// - dependents whose owners are all gone are deleted (background propagation);
// - an owner deleted with the `orphan` finalizer has its references removed from its dependents,
//   then the finalizer;
// - an owner deleted with the `foregroundDeletion` finalizer has its dependents deleted (in the
//   foreground too), and loses the finalizer once no dependent that blocks it remains.

import type { KubeObject, OwnerReference } from '../../api/meta/v1.js';
import type { ResourceClient } from '../../client/client.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { GVR } from '../../client/resources.js';
import { ApiError, isConflict, isNotFound } from '../../client/transport.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';
import { ResourceCatalog } from '../discovery.js';

const ORPHAN = 'orphan';
const FOREGROUND = 'foregroundDeletion';

/** What the graph keeps of each object: identity and references, not the object. */
interface GraphNode {
  uid: string;
  gvr: GVR;
  namespace?: string;
  name: string;
  owners: OwnerReference[];
  deleting: boolean;
  finalizers: string[];
  /** Cached object's resourceVersion, to skip no-op updates. */
  rv?: string;
}

export class GarbageCollector implements Controller {
  readonly name = 'garbage-collector';
  private readonly nodes = new Map<string, GraphNode>();
  /** owner uid → dependent uids, kept whether or not the owner has been seen. */
  private readonly dependentsByOwner = new Map<string, Set<string>>();
  private readonly queue = new WorkQueue<string>();

  constructor(private readonly catalog = new ResourceCatalog()) {}

  start(ctx: ControllerContext): void {
    for (const gvr of this.catalog.stored) {
      if (gvr.plural === 'events') continue; // upstream ignores events: too many, never owners
      const inf = ctx.informers.for(gvr);
      inf.addEventHandler({
        add: (o) => this.observe(gvr, o),
        update: (_old, o) => this.observe(gvr, o),
        delete: (o) => this.forget(o),
      });
    }
    startWorkers(ctx, this.queue, 'garbage collector', (k) => this.sync(ctx, k), ctx.settings.workers * 4);
  }

  private observe(gvr: GVR, o: KubeObject): void {
    const m = o.metadata;
    const uid = m.uid!;
    let n = this.nodes.get(uid);
    const owners = m.ownerReferences ?? [];
    if (!n) {
      n = { uid, gvr, namespace: m.namespace, name: m.name!, owners: [], deleting: false, finalizers: [] };
      this.nodes.set(uid, n);
    }
    for (const r of n.owners) if (!owners.some((x) => x.uid === r.uid)) this.unlink(r.uid, uid);
    for (const r of owners) {
      let s = this.dependentsByOwner.get(r.uid);
      if (!s) this.dependentsByOwner.set(r.uid, (s = new Set()));
      s.add(uid);
    }
    n.owners = owners;
    n.deleting = !!m.deletionTimestamp;
    n.finalizers = m.finalizers ?? [];
    n.rv = m.resourceVersion;
    if (owners.length || (n.deleting && (n.finalizers.includes(ORPHAN) || n.finalizers.includes(FOREGROUND)))) this.queue.add(uid);
  }

  private unlink(ownerUID: string, dependentUID: string): void {
    const s = this.dependentsByOwner.get(ownerUID);
    if (!s) return;
    s.delete(dependentUID);
    if (!s.size) this.dependentsByOwner.delete(ownerUID);
  }

  private dependents(n: GraphNode): string[] {
    return [...(this.dependentsByOwner.get(n.uid) ?? [])];
  }

  private forget(o: KubeObject): void {
    const uid = o.metadata.uid!;
    const n = this.nodes.get(uid);
    if (!n) return;
    this.nodes.delete(uid);
    for (const r of n.owners) {
      this.unlink(r.uid, uid);
      // A foreground owner may be waiting for this dependent to go.
      if (this.nodes.get(r.uid)?.deleting) this.queue.add(r.uid);
    }
    // Its dependents lost an owner: check them.
    for (const d of this.dependentsByOwner.get(uid) ?? []) this.queue.add(d);
  }

  private api(ctx: ControllerContext, gvr: GVR): ResourceClient {
    return ctx.client.resource(gvr);
  }

  private async sync(ctx: ControllerContext, uid: string): Promise<void> {
    const n = this.nodes.get(uid);
    if (!n) return;
    if (n.deleting && n.finalizers.includes(ORPHAN)) return this.orphanDependents(ctx, n);
    if (n.deleting && n.finalizers.includes(FOREGROUND)) return this.deleteDependentsFirst(ctx, n);
    if (n.owners.length) return this.checkOwners(ctx, n);
  }

  /** Is the referenced owner present, with the same uid? Asks the API when the graph has not seen it. */
  private async ownerState(ctx: ControllerContext, n: GraphNode, ref: OwnerReference): Promise<'present' | 'absent' | 'deleting-foreground'> {
    const known = this.nodes.get(ref.uid);
    if (known) return known.deleting && known.finalizers.includes(FOREGROUND) ? 'deleting-foreground' : 'present';
    const gvr = this.catalog.forKind(ref.apiVersion, ref.kind);
    if (!gvr) return 'present'; // unknown kinds are never collected (upstream: logged, left alone)
    // Cluster-scoped dependents cannot have namespaced owners; such a reference is dangling.
    if (gvr.namespaced && !n.namespace) return 'absent';
    try {
      const live = await this.api(ctx, gvr).get(gvr.namespaced ? n.namespace : undefined, ref.name);
      return live.metadata.uid === ref.uid ? 'present' : 'absent';
    } catch (e) {
      if (isNotFound(e)) return 'absent';
      throw e;
    }
  }

  private async checkOwners(ctx: ControllerContext, n: GraphNode): Promise<void> {
    if (n.deleting) return;
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    let solid = 0;
    for (const ref of n.owners) {
      const st = await this.ownerState(ctx, n, ref);
      if (st === 'absent') dangling.push(ref);
      else if (st === 'deleting-foreground') waiting.push(ref);
      else solid++;
    }
    if (solid > 0) {
      if (dangling.length) await this.removeOwnerRefs(ctx, n, new Set(dangling.map((r) => r.uid)));
      return;
    }
    if (waiting.length) {
      // Owners are being deleted in the foreground: this dependent goes first, in the foreground
      // itself when it blocks its own owner... as upstream, propagate Foreground.
      await this.deleteObject(ctx, n, this.dependentsByOwner.has(n.uid) ? 'Foreground' : 'Background');
      return;
    }
    // Every owner is gone.
    await this.deleteObject(ctx, n, 'Background');
  }

  private async deleteObject(ctx: ControllerContext, n: GraphNode, policy: 'Background' | 'Foreground'): Promise<void> {
    try {
      await this.api(ctx, n.gvr).delete(n.namespace, n.name, { propagationPolicy: policy, preconditions: { uid: n.uid } });
      ctx.log.debug({ resource: n.gvr.plural, ns: n.namespace, name: n.name, policy }, 'garbage collector: deleted dependent');
    } catch (e) {
      if (isNotFound(e) || (e instanceof ApiError && e.code === 409)) return; // gone, or replaced by a new uid
      throw e;
    }
  }

  private async removeOwnerRefs(ctx: ControllerContext, n: GraphNode, uids: Set<string>): Promise<void> {
    const api = this.api(ctx, n.gvr);
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: KubeObject;
      try {
        cur = await api.get(n.namespace, n.name);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (cur.metadata.uid !== n.uid) return;
      const refs = cur.metadata.ownerReferences ?? [];
      const kept = refs.filter((r) => !uids.has(r.uid));
      if (kept.length === refs.length) return;
      try {
        await api.patch(n.namespace, n.name, 'json', [
          { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata.resourceVersion },
          // Empty lists are omitted, as upstream's omitempty encoding does.
          kept.length ? { op: 'replace', path: '/metadata/ownerReferences', value: kept } : { op: 'remove', path: '/metadata/ownerReferences' },
        ]);
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!(isConflict(e) || (e instanceof ApiError && e.code === 422))) throw e;
      }
    }
    throw new Error(`could not update ownerReferences of ${n.gvr.plural}/${n.name}`);
  }

  private async removeFinalizer(ctx: ControllerContext, n: GraphNode, finalizer: string): Promise<void> {
    const api = this.api(ctx, n.gvr);
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: KubeObject;
      try {
        cur = await api.get(n.namespace, n.name);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      const fins = cur.metadata.finalizers ?? [];
      if (!fins.includes(finalizer)) return;
      try {
        await api.patch(n.namespace, n.name, 'json', [
          { op: 'test', path: '/metadata/resourceVersion', value: cur.metadata.resourceVersion },
          fins.length > 1 ? { op: 'replace', path: '/metadata/finalizers', value: fins.filter((f) => f !== finalizer) } : { op: 'remove', path: '/metadata/finalizers' },
        ]);
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!(isConflict(e) || (e instanceof ApiError && e.code === 422))) throw e;
      }
    }
    throw new Error(`could not remove finalizer ${finalizer} from ${n.gvr.plural}/${n.name}`);
  }

  private async orphanDependents(ctx: ControllerContext, n: GraphNode): Promise<void> {
    for (const d of this.dependents(n)) {
      const dn = this.nodes.get(d);
      if (dn) await this.removeOwnerRefs(ctx, dn, new Set([n.uid]));
    }
    await this.removeFinalizer(ctx, n, ORPHAN);
  }

  private async deleteDependentsFirst(ctx: ControllerContext, n: GraphNode): Promise<void> {
    let blocking = 0;
    for (const d of this.dependents(n)) {
      const dn = this.nodes.get(d);
      if (!dn) continue;
      const ref = dn.owners.find((r) => r.uid === n.uid);
      if (ref?.blockOwnerDeletion) blocking++;
      if (!dn.deleting) await this.deleteObject(ctx, dn, this.dependentsByOwner.has(dn.uid) ? 'Foreground' : 'Background');
    }
    if (blocking === 0) await this.removeFinalizer(ctx, n, FOREGROUND);
  }
}
