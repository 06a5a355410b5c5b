// Pod garbage collection: pods bound to a node that no longer exists are deleted for good
// (no kubelet will ever finish them), and terminated pods beyond the threshold are removed,
// oldest first (upstream: --terminated-pod-gc-threshold, 12,500).

import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { ApiError, isNotFound } from '../../client/transport.js';
import type { Controller, ControllerContext } from '../context.js';

export class PodGCController implements Controller {
  readonly name = 'pod-garbage-collector';

  constructor(
    private readonly periodMs = 20_000,
    private readonly terminatedThreshold = 12_500,
  ) {}

  start(ctx: ControllerContext): void {
    ctx.informers.for(R.pods);
    ctx.informers.for(R.nodes);
    void (async () => {
      await ctx.informers.waitForSync();
      while (!ctx.signal.aborted) {
        await new Promise((r) => setTimeout(r, this.periodMs));
        if (ctx.signal.aborted) break;
        try {
          await this.gc(ctx);
        } catch (err) {
          ctx.log.debug({ err }, 'pod gc');
        }
      }
    })();
  }

  private async forceDelete(ctx: ControllerContext, pod: KubeObject): Promise<void> {
    try {
      await ctx.client.resource(R.pods).delete(pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (!(isNotFound(e) || (e instanceof ApiError && e.code === 409))) throw e;
    }
  }

  async gc(ctx: ControllerContext): Promise<void> {
    const nodes = ctx.informers.for(R.nodes).indexer;
    const pods = ctx.informers.for(R.pods).indexer.list();
    for (const p of pods) {
      const node = p.spec?.nodeName;
      if (node && !nodes.getByName(undefined, node)) {
        // Confirm with the API: the informer may lag behind a just-registered node.
        try {
          await ctx.client.resource(R.nodes).get(undefined, node);
          continue;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        await this.forceDelete(ctx, p);
      }
    }
    const terminated = pods.filter((p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed');
    if (terminated.length > this.terminatedThreshold) {
      terminated.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
      for (const p of terminated.slice(0, terminated.length - this.terminatedThreshold)) await this.forceDelete(ctx, p);
    }
  }
}
