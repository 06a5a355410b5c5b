// The tail every queue-driven controller shares: stop the queue with the controller, wait until
// the informers have synced, then run workers that retry failed keys with backoff.

import { runWorkers, type WorkQueue } from '../client/workqueue.js';
import type { ControllerContext } from './context.js';

export function startWorkers<K>(ctx: ControllerContext, queue: WorkQueue<K>, name: string, sync: (key: K) => Promise<void>, workers = ctx.settings.workers): void {
  ctx.signal.addEventListener('abort', () => queue.shutdown(), { once: true });
  void (async () => {
    await ctx.informers.waitForSync();
    await runWorkers(queue, workers, sync, (key, err) => ctx.log.debug({ err, key }, `${name}: retry`));
  })();
}
