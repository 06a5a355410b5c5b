// The service account controller: every active namespace has a `default` ServiceAccount; it is
// recreated when deleted.

import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';

export class ServiceAccountController implements Controller {
  readonly name = 'serviceaccount';
  private readonly queue = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    const namespaces = ctx.informers.for(R.namespaces);
    const sas = ctx.informers.for(R.serviceaccounts);
    namespaces.addEventHandler({ add: (n) => this.queue.add(n.metadata.name!), update: (_o, n) => this.queue.add(n.metadata.name!) });
    sas.addEventHandler({ delete: (s: KubeObject) => s.metadata.name === 'default' && this.queue.add(s.metadata.namespace!) });
    startWorkers(ctx, this.queue, 'serviceaccount', (k) => this.sync(ctx, k));
  }

  private async sync(ctx: ControllerContext, ns: string): Promise<void> {
    const n = ctx.informers.for(R.namespaces).indexer.getByName(undefined, ns);
    if (!n || n.metadata.deletionTimestamp || n.status?.phase === 'Terminating') return;
    if (ctx.informers.for(R.serviceaccounts).indexer.getByName(ns, 'default')) return;
    try {
      await ctx.client.resource(R.serviceaccounts).create(ns, { metadata: { name: 'default', namespace: ns } });
    } catch (e) {
      // Already there, or the namespace is going away.
      if (isAlreadyExists(e) || isNotFound(e)) return;
      if ((e as { code?: number }).code === 403) return;
      throw e;
    }
  }
}
