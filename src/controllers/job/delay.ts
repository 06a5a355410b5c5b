// Delayed enqueueing where the earliest requested time wins (upstream's delaying queue). The
// shared WorkQueue.addAfter keeps whichever delay was asked for first, so a long requeue (an
// activeDeadlineSeconds timer, the next cron time) would hide a later, sooner one.

import type { WorkQueue } from '../../client/workqueue.js';

export class EarliestDelay<K = string> {
  private readonly timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly queue: WorkQueue<K>,
    signal: AbortSignal,
  ) {
    signal.addEventListener('abort', () => {
      for (const { timer } of this.timers.values()) clearTimeout(timer);
      this.timers.clear();
    });
  }

  add(key: K, ms: number): void {
    if (ms <= 0) {
      this.queue.add(key);
      return;
    }
    const at = Date.now() + ms;
    const cur = this.timers.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.queue.add(key);
    }, ms);
    timer.unref?.();
    this.timers.set(key, { at, timer });
  }
}
