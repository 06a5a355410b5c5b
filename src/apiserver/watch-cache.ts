// The watch cache: one per stored resource. It lists and watches the store once and serves
// every list and watch of that resource from memory. Each object version is encoded to JSON
// once and the bytes are shared by all lists and watchers (architecture: "a thousand watchers
// cost one encode").

import type { KubeObject } from '../api/meta/v1.js';
import type { Store, WatchEvent as StoreEvent } from '../storage/store.js';

export interface CachedObject {
  key: string;
  obj: KubeObject;
  /** JSON encoding of obj (with metadata.resourceVersion set). */
  json: string;
  rev: number;
  /** Watch event lines for this version, filled lazily by the first watcher that sends it. */
  lines?: Partial<Record<string, string>>;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: WatchEventType;
  key: string;
  rev: number;
  /** The object after the event (for DELETED, the last state with the delete's resourceVersion). */
  cur: CachedObject;
  /** The object before the event (absent for ADDED). */
  prev?: CachedObject;
}

export interface CacheWatcher {
  /** Receives events in revision order. Return false to stop. */
  onEvents(events: CacheEvent[]): void;
  /** Called when the underlying store watch fails; the cache restarts, watchers must end. */
  onError(err: Error): void;
}

/** How many past events each cache keeps for watches that resume from a recent resourceVersion. */
const EVENT_WINDOW = 10_000;

export function decodeKV(value: Buffer, modRevision: number): KubeObject {
  const obj = JSON.parse(value.toString('utf8')) as KubeObject;
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(modRevision);
  return obj;
}

export class WatchCache {
  private readonly objects = new Map<string, CachedObject>();
  private sortedKeys: string[] | null = null;
  private readonly events: CacheEvent[] = [];
  private readonly watchers = new Set<CacheWatcher>();
  private readonly revisionWaiters: { rev: number; resolve: () => void }[] = [];
  private _revision = 0;
  private ready: Promise<void> | null = null;
  /** Store events that arrive while the initial list is in flight. */
  private pending: StoreEvent[] | null = null;
  /** Lowest revision (exclusive) from which the event window is complete. */
  private windowStart = 0;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
  ) {}

  get revision(): number {
    return this._revision;
  }

  /** Lists the prefix; events delivered meanwhile by the dispatcher are applied afterwards. */
  start(): Promise<void> {
    this.ready ??= this.load();
    return this.ready;
  }

  private async load(): Promise<void> {
    this.pending = [];
    const res = await this.store.list({ prefix: this.prefix });
    this.objects.clear();
    for (const kv of res.items) {
      const obj = decodeKV(kv.value, kv.modRevision);
      this.objects.set(kv.key, { key: kv.key, obj, json: JSON.stringify(obj), rev: kv.modRevision });
    }
    this.sortedKeys = null;
    this._revision = Math.max(this._revision, res.revision);
    this.windowStart = this._revision;
    this.events.length = 0;
    const pending = this.pending;
    this.pending = null;
    if (pending.length) this.apply(pending);
    this.wakeWaiters();
  }

  /** The store watch broke: end all watchers (clients re-list) and reload. */
  reset(err: Error): void {
    for (const w of this.watchers) w.onError(err);
    this.watchers.clear();
    if (this.ready) {
      this.ready = null;
      this.start().catch(() => {
        this.ready = null;
      });
    }
  }

  stop(): void {
    for (const w of this.watchers) w.onError(new Error('watch cache stopped'));
    this.watchers.clear();
  }

  /** Called by the dispatcher with the store events under this cache's prefix. */
  apply(storeEvents: StoreEvent[]): void {
    if (this.pending) {
      this.pending.push(...storeEvents);
      return;
    }
    if (!this.ready) return;
    const out: CacheEvent[] = [];
    for (const e of storeEvents) {
      const rev = e.kv.modRevision;
      if (rev <= this._revision) continue;
      const prev = this.objects.get(e.kv.key);
      if (e.type === 'PUT') {
        const obj = decodeKV(e.kv.value, rev);
        const cur: CachedObject = { key: e.kv.key, obj, json: JSON.stringify(obj), rev };
        if (!prev) this.sortedKeys = null;
        this.objects.set(e.kv.key, cur);
        out.push({ type: prev ? 'MODIFIED' : 'ADDED', key: e.kv.key, rev, cur, prev });
      } else {
        const last = e.prevKv ?? e.kv;
        const obj = decodeKV(last.value, rev);
        const cur: CachedObject = { key: e.kv.key, obj, json: JSON.stringify(obj), rev };
        this.objects.delete(e.kv.key);
        this.sortedKeys = null;
        out.push({ type: 'DELETED', key: e.kv.key, rev, cur, prev });
      }
      this._revision = rev;
    }
    if (!out.length) return;
    for (const ev of out) this.events.push(ev);
    if (this.events.length > EVENT_WINDOW) {
      const drop = this.events.length - EVENT_WINDOW;
      this.windowStart = this.events[drop - 1].rev;
      this.events.splice(0, drop);
    }
    for (const w of this.watchers) {
      try {
        w.onEvents(out);
      } catch {
        this.watchers.delete(w);
      }
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (let i = this.revisionWaiters.length - 1; i >= 0; i--) {
      if (this.revisionWaiters[i].rev <= this._revision) {
        this.revisionWaiters[i].resolve();
        this.revisionWaiters.splice(i, 1);
      }
    }
  }

  /**
   * Waits until the cache has seen every write up to `rev` (the dispatcher advances every cache
   * with each batch of store events, so this is quick). A deadline bounds the wait.
   */
  async waitForRevision(rev: number, timeoutMs = 3000): Promise<void> {
    await this.start();
    if (this._revision >= rev) return;
    await new Promise<void>((resolve) => {
      const waiter = { rev, resolve };
      this.revisionWaiters.push(waiter);
      const t = setTimeout(() => {
        const i = this.revisionWaiters.indexOf(waiter);
        if (i >= 0) this.revisionWaiters.splice(i, 1);
        resolve();
      }, timeoutMs);
      t.unref();
    });
  }

  /** Notes that the store has reached `rev` with no change under this prefix (progress notify). */
  progress(rev: number): void {
    if (!this.pending && this.ready && rev > this._revision) {
      this._revision = rev;
      this.wakeWaiters();
    }
  }

  get(key: string): CachedObject | undefined {
    return this.objects.get(key);
  }

  get size(): number {
    return this.objects.size;
  }

  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): CachedObject[] {
    if (!this.sortedKeys) this.sortedKeys = [...this.objects.keys()].sort();
    const keys = this.sortedKeys;
    const out: CachedObject[] = [];
    let i = prefix === this.prefix ? 0 : lowerBound(keys, prefix);
    for (; i < keys.length; i++) {
      const k = keys[i];
      if (!k.startsWith(prefix)) break;
      out.push(this.objects.get(k)!);
    }
    return out;
  }

  /**
   * Registers a watcher for events after `afterRevision`. Replays buffered events first.
   * Returns false when the revision is older than the event window (caller falls back to the store).
   */
  watch(afterRevision: number, watcher: CacheWatcher, signal: AbortSignal): boolean {
    if (afterRevision < this.windowStart) return false;
    const backlog = this.events.filter((e) => e.rev > afterRevision);
    if (backlog.length) watcher.onEvents(backlog);
    this.watchers.add(watcher);
    signal.addEventListener('abort', () => this.watchers.delete(watcher), { once: true });
    return true;
  }
}

function lowerBound(keys: string[], target: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
