// The namespace controller: a namespace being deleted (deletionTimestamp set, `kubernetes` in
// spec.finalizers) has everything in it deleted; its status conditions say what remains; once it
// is empty the finalizer is removed through the `finalize` subresource and the namespace goes.

import type { KubeObject } from '../../api/meta/v1.js';
import { collectionPath, objectPath, R, type GVR } from '../../client/resources.js';
import { isNotFound, isConflict } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import type { ObjectList } from '../../client/client.js';
import type { Controller, ControllerContext } from '../context.js';
import { ResourceCatalog } from '../discovery.js';

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class NamespaceController implements Controller {
  readonly name = 'namespace';
  private readonly queue = new WorkQueue<string>({ baseDelayMs: 500, maxDelayMs: 30_000 });

  constructor(private readonly catalog = new ResourceCatalog()) {}

  start(ctx: ControllerContext): void {
    const inf = ctx.informers.for(R.namespaces);
    const enqueue = (o: KubeObject) => {
      if (o.metadata.deletionTimestamp) this.queue.add(o.metadata.name!);
    };
    inf.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n) });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void (async () => {
      await inf.waitForSync();
      await runWorkers(this.queue, ctx.settings.workers, (name) => this.sync(ctx, name), (name, err) =>
        ctx.log.debug({ err, namespace: name }, 'namespace controller: retry'),
      );
    })();
  }

  private async sync(ctx: ControllerContext, name: string): Promise<void> {
    const ns = ctx.informers.for(R.namespaces).indexer.getByName(undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    if (!(ns.spec?.finalizers ?? []).includes('kubernetes')) return;
    const remaining = new Map<string, number>();
    const finalizers = new Set<string>();
    for (const gvr of this.catalog.stored) {
      if (!gvr.namespaced) continue;
      const n = await this.emptyResource(ctx, gvr, name, finalizers);
      if (n) remaining.set(gvr.group ? `${gvr.plural}.${gvr.group}` : gvr.plural, n);
    }
    await this.setConditions(ctx, name, remaining, finalizers);
    if (remaining.size) {
      // Graceful pod deletion and finalizers take a while: look again soon.
      this.queue.addAfter(name, 1000);
      return;
    }
    try {
      const cur = await ctx.client.resource(R.namespaces).get(undefined, name);
      const spec = { ...(cur.spec ?? {}), finalizers: (cur.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes') };
      await ctx.client.request('PUT', objectPath(R.namespaces, undefined, name, 'finalize'), { body: { ...cur, spec } });
    } catch (e) {
      if (isNotFound(e)) return;
      if (isConflict(e)) return this.queue.add(name);
      throw e;
    }
  }

  /** Deletes what is left of one resource in the namespace; returns how many objects remain. */
  private async emptyResource(ctx: ControllerContext, gvr: GVR, namespace: string, finalizers: Set<string>): Promise<number> {
    const path = collectionPath(gvr, namespace);
    const list = await ctx.client.request<ObjectList>('GET', path, { query: { resourceVersion: '0' } });
    if (!list.items.length) return 0;
    if (list.items.some((o) => !o.metadata.deletionTimestamp)) {
      try {
        await ctx.client.request('DELETE', path, { body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' } });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    const after = await ctx.client.request<ObjectList>('GET', path, { query: { resourceVersion: '0' } });
    for (const o of after.items) for (const f of o.metadata.finalizers ?? []) finalizers.add(f);
    return after.items.length;
  }

  private async setConditions(ctx: ControllerContext, name: string, remaining: Map<string, number>, finalizers: Set<string>): Promise<void> {
    const t = now();
    const content = [...remaining].map(([r, n]) => `${r} has ${n} resource instances`).join(', ');
    const conds = [
      { type: 'NamespaceDeletionDiscoveryFailure', status: 'False', reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
      { type: 'NamespaceDeletionGroupVersionParsingFailure', status: 'False', reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
      { type: 'NamespaceDeletionContentFailure', status: 'False', reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
      remaining.size
        ? { type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${content}` }
        : { type: 'NamespaceContentRemaining', status: 'False', reason: 'ContentRemoved', message: 'All content successfully removed' },
      finalizers.size
        ? { type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${[...finalizers].sort().map((f) => `${f} in ${remaining.size} resource instances`).join(', ')}` }
        : { type: 'NamespaceFinalizersRemaining', status: 'False', reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
    ];
    const inf = ctx.informers.for(R.namespaces).indexer.getByName(undefined, name);
    const old: { type: string; status: string; message?: string; lastTransitionTime?: string }[] = inf?.status?.conditions ?? [];
    const same = conds.every((c) => old.some((o) => o.type === c.type && o.status === c.status && o.message === c.message));
    if (same) return;
    const conditions = conds.map((c) => {
      const prev = old.find((o) => o.type === c.type);
      return { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : t };
    });
    try {
      await ctx.client.resource(R.namespaces).patch(undefined, name, 'merge', { status: { conditions } }, { subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
