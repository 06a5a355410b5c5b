// One store watch for the whole server, fanned out to the per-resource watch caches by key
// prefix. Because every cache sees every batch, each one's revision advances with the store's
// (progress notification for free), so a consistent list waits at most one batch.

import type { Store, WatchEvent } from '../storage/store.js';
import { WatchCache } from './watch-cache.js';

export class CacheDispatcher {
  private readonly caches = new Map<string, WatchCache>();
  private abort = new AbortController();
  private started: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly root = '/registry/',
  ) {}

  /** The cache for a resource prefix such as `/registry/pods/`, created and loaded on first use. */
  cacheFor(prefix: string): WatchCache {
    let c = this.caches.get(prefix);
    if (!c) {
      c = new WatchCache(this.store, prefix);
      this.caches.set(prefix, c);
      void c.start().catch(() => undefined);
    }
    return c;
  }

  start(): Promise<void> {
    this.started ??= this.run(undefined);
    return this.started;
  }

  private async run(resetCause: Error | undefined): Promise<void> {
    // Take the revision first: caches (re)listed after this point buffer any event above it.
    const rev = await this.store.currentRevision();
    if (resetCause) for (const c of this.caches.values()) c.reset(resetCause);
    else for (const c of this.caches.values()) c.progress(rev);
    this.store.watch({
      prefix: this.root,
      afterRevision: rev,
      signal: this.abort.signal,
      onEvents: (events) => this.dispatch(events),
      onError: (err) => this.restart(err),
    });
  }

  private dispatch(events: WatchEvent[]): void {
    const byCache = new Map<WatchCache, WatchEvent[]>();
    for (const e of events) {
      const c = this.cacheOf(e.kv.key);
      if (!c) continue;
      let list = byCache.get(c);
      if (!list) byCache.set(c, (list = []));
      list.push(e);
    }
    for (const [c, evs] of byCache) c.apply(evs);
    const last = events[events.length - 1]?.kv.modRevision ?? 0;
    for (const c of this.caches.values()) c.progress(last);
  }

  private cacheOf(key: string): WatchCache | undefined {
    // Keys are /registry/<resource>/...: the cache prefix is the first two segments.
    const i = key.indexOf('/', this.root.length);
    if (i < 0) return undefined;
    return this.caches.get(key.slice(0, i + 1));
  }

  private restart(err: Error): void {
    if (this.stopped) return;
    this.abort = new AbortController();
    this.started = null;
    const retry = () => {
      if (this.stopped) return;
      this.started = this.run(err);
      this.started.catch(() => {
        this.started = null;
        setTimeout(retry, 500).unref();
      });
    };
    setTimeout(retry, 100).unref();
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    for (const c of this.caches.values()) c.stop();
  }
}
