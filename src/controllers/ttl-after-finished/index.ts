// The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): deletes a
// finished Job (Complete or Failed) spec.ttlSecondsAfterFinished seconds after it finished, with
// background propagation. Before deleting it re-reads the Job from the API and deletes only that
// version (a resourceVersion precondition), so a TTL changed meanwhile is honoured.

import type { KubeObject } from '../../api/meta/v1.js';
import { keyOf, splitKey, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isConflict, isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext, Logger } from '../context.js';
import { EarliestDelay } from '../job/delay.js';

type Obj = KubeObject;

/** When the Job finished: the lastTransitionTime of its True Complete/Failed condition. */
function finishTime(job: Obj): number | undefined {
  for (const c of (job.status?.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[]) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : undefined;
  }
  return undefined;
}

function needsCleanup(job: Obj): boolean {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  return ttl !== undefined && ttl !== null && (job.status?.conditions ?? []).some((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

export class TTLAfterFinishedController implements Controller {
  readonly name = 'ttl-after-finished';
  private ctx!: ControllerContext;
  private log!: Logger;
  private jobs!: SharedInformer;
  private readonly queue = new WorkQueue<string>();
  private delay!: EarliestDelay<string>;

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log;
    this.delay = new EarliestDelay(this.queue, ctx.signal);
    this.jobs = ctx.informers.for(R.jobs);
    const enqueue = (j: Obj) => {
      if (!j.metadata.deletionTimestamp && needsCleanup(j)) this.queue.add(keyOf(j));
    };
    this.jobs.addEventHandler({ add: enqueue, update: (_o, j) => enqueue(j) });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown());
    void (async () => {
      await ctx.informers.waitForSync();
      await runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (key, err) => this.log.warn({ key, err: String(err) }, 'ttl-after-finished sync failed'));
    })();
  }

  /** Milliseconds until the Job expires (≤ 0: expired), or undefined when it needs no cleanup. */
  private timeLeft(job: Obj): number | undefined {
    if (job.metadata.deletionTimestamp || !needsCleanup(job)) return undefined;
    const finished = finishTime(job);
    if (finished === undefined) return undefined;
    const now = this.ctx.settings.now().getTime();
    if (finished > now) this.log.info({ job: keyOf(job) }, 'Warning: Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.');
    return finished + job.spec.ttlSecondsAfterFinished * 1000 - now;
  }

  async sync(key: string): Promise<void> {
    const cached = this.jobs.indexer.get(key);
    if (!cached) return;
    const left = this.timeLeft(cached);
    if (left === undefined) return;
    if (left > 0) {
      this.delay.add(key, left);
      return;
    }
    // The cache may be stale: check the TTL again on the live object.
    const { namespace, name } = splitKey(key);
    const jobs = this.ctx.client.resource(R.jobs);
    let fresh: Obj;
    try {
      fresh = await jobs.get(namespace, name);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const freshLeft = this.timeLeft(fresh);
    if (freshLeft === undefined) return;
    if (freshLeft > 0) {
      this.delay.add(key, freshLeft);
      return;
    }
    try {
      await jobs.delete(namespace, name, { propagationPolicy: 'Background', preconditions: { resourceVersion: fresh.metadata.resourceVersion } });
      this.log.debug({ job: key }, 'Cleaning up Job');
    } catch (e) {
      if (isNotFound(e)) return;
      if (isConflict(e)) {
        this.queue.add(key);
        return;
      }
      throw e;
    }
  }
}
