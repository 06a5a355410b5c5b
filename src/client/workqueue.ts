// The controllers' work queue (upstream's workqueue): a key is queued at most once, never handed
// to two workers at the same time, and re-queued if it changed while being processed. Rate
// limiting is per item (exponential backoff) for retries after errors.

export interface RateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  private head = 0;
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly failures = new Map<K, number>();
  private readonly delayed = new Map<K, { timer: NodeJS.Timeout; due: number }>();
  private waiters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelay: number;
  private readonly maxDelay: number;

  constructor(opts: RateLimiterOptions = {}) {
    this.baseDelay = opts.baseDelayMs ?? 5;
    this.maxDelay = opts.maxDelayMs ?? 60_000;
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-queued by done()
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else this.queue.push(key);
  }

  /** Adds after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const due = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { timer, due });
  }

  addRateLimited(key: K): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.addAfter(key, Math.min(this.baseDelay * 2 ** n, this.maxDelay));
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  /** The next key, or undefined once the queue shuts down. */
  get(): Promise<K | undefined> {
    if (this.length > 0) {
      const key = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/** Runs `workers` loops that pop keys and call `sync`; errors re-queue with backoff. */
export async function runWorkers<K>(
  queue: WorkQueue<K>,
  workers: number,
  sync: (key: K) => Promise<void>,
  onError?: (key: K, err: unknown) => void,
  maxRetries = Infinity,
): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await sync(key);
        queue.forget(key);
      } catch (err) {
        onError?.(key, err);
        if (queue.numRequeues(key) < maxRetries) queue.addRateLimited(key);
        else queue.forget(key);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
