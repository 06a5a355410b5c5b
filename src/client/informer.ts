// Shared informers: one reflector per resource feeds a thread-safe-by-construction cache
// (Node is single-threaded) with indexes, and fans changes out to handlers. Cached objects are
// shared: treat them as read-only and clone before changing.

import { setMaxListeners } from 'node:events';
import type { KubeObject } from '../api/meta/v1.js';
import type { Client } from './client.js';
import { Reflector, type ReflectorSink } from './reflector.js';
import type { GVR } from './resources.js';

export type IndexFunc = (obj: KubeObject) => string[];

export interface EventHandlers {
  add?(obj: KubeObject): void;
  update?(oldObj: KubeObject, newObj: KubeObject): void;
  delete?(obj: KubeObject): void;
}

/** namespace/name, or name for cluster-scoped objects (upstream's MetaNamespaceKeyFunc). */
export function keyOf(obj: KubeObject): string {
  const m = obj.metadata;
  return m.namespace ? `${m.namespace}/${m.name}` : m.name!;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export const byNamespace: IndexFunc = (o) => (o.metadata.namespace ? [o.metadata.namespace] : []);
export const byControllerUID: IndexFunc = (o) => {
  const ref = o.metadata.ownerReferences?.find((r) => r.controller);
  return ref ? [ref.uid] : [];
};
export const byOwnerUID: IndexFunc = (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid);
export const byNodeName: IndexFunc = (o) => (o.spec?.nodeName ? [o.spec.nodeName] : []);

/** The local cache with secondary indexes (upstream's cache.Indexer). */
export class Indexer {
  private readonly items = new Map<string, KubeObject>();
  private readonly indexes = new Map<string, { fn: IndexFunc; map: Map<string, Set<string>> }>();

  addIndex(name: string, fn: IndexFunc): void {
    if (this.indexes.has(name)) return;
    const map = new Map<string, Set<string>>();
    this.indexes.set(name, { fn, map });
    for (const [k, o] of this.items) for (const v of fn(o)) addTo(map, v, k);
  }

  get(key: string): KubeObject | undefined {
    return this.items.get(key);
  }

  getByName(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): KubeObject[] {
    return [...this.items.values()];
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  get size(): number {
    return this.items.size;
  }

  byIndex(index: string, value: string): KubeObject[] {
    const ix = this.indexes.get(index);
    if (!ix) throw new Error(`no index ${index}`);
    const keys = ix.map.get(value);
    if (!keys) return [];
    const out: KubeObject[] = [];
    for (const k of keys) out.push(this.items.get(k)!);
    return out;
  }

  set(obj: KubeObject): KubeObject | undefined {
    const key = keyOf(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const { fn, map } of this.indexes.values()) for (const v of fn(obj)) addTo(map, v, key);
    return old;
  }

  remove(key: string): KubeObject | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private unindex(key: string, obj: KubeObject): void {
    for (const { fn, map } of this.indexes.values()) {
      for (const v of fn(obj)) {
        const s = map.get(v);
        if (s) {
          s.delete(key);
          if (!s.size) map.delete(v);
        }
      }
    }
  }
}

function addTo(map: Map<string, Set<string>>, v: string, key: string): void {
  let s = map.get(v);
  if (!s) map.set(v, (s = new Set()));
  s.add(key);
}

export class SharedInformer implements ReflectorSink {
  readonly indexer = new Indexer();
  private readonly handlers: EventHandlers[] = [];
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private readonly reflector: Reflector;

  constructor(
    client: Client,
    readonly gvr: GVR,
    opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; onError?: (e: unknown) => void } = {},
  ) {
    this.reflector = new Reflector(client.resource(gvr), this, opts);
  }

  addEventHandler(h: EventHandlers): void {
    this.handlers.push(h);
    // Late handlers get the current state as adds, as upstream does.
    if (this.synced) for (const o of this.indexer.list()) h.add?.(o);
  }

  addIndex(name: string, fn: IndexFunc): this {
    this.indexer.addIndex(name, fn);
    return this;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  get lastSyncResourceVersion(): string {
    return this.reflector.lastResourceVersion;
  }

  run(signal: AbortSignal): Promise<void> {
    return this.reflector.run(signal);
  }

  replace(items: KubeObject[], _rv: string): void {
    const seen = new Set<string>();
    for (const o of items) {
      seen.add(keyOf(o));
      this.update(o);
    }
    for (const k of [...this.indexer.keys()]) {
      if (!seen.has(k)) {
        const old = this.indexer.remove(k)!;
        for (const h of this.handlers) h.delete?.(old);
      }
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  add(obj: KubeObject): void {
    this.update(obj);
  }

  update(obj: KubeObject): void {
    const old = this.indexer.set(obj);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  delete(obj: KubeObject): void {
    const old = this.indexer.remove(keyOf(obj));
    for (const h of this.handlers) h.delete?.(old ?? obj);
  }
}

/** One informer per resource, shared by every controller in the process. */
export class InformerFactory {
  private readonly informers = new Map<string, SharedInformer>();
  private started?: AbortSignal;

  constructor(
    readonly client: Client,
    private readonly onError?: (gvr: GVR, e: unknown) => void,
  ) {}

  for(gvr: GVR): SharedInformer {
    const k = `${gvr.group}/${gvr.version}/${gvr.plural}`;
    let inf = this.informers.get(k);
    if (!inf) {
      inf = new SharedInformer(this.client, gvr, { onError: (e) => this.onError?.(gvr, e) });
      this.informers.set(k, inf);
      if (this.started) void inf.run(this.started);
    }
    return inf;
  }

  /** Starts every informer made so far and any made later. */
  start(signal: AbortSignal): void {
    // Every informer's watch listens on this one signal.
    setMaxListeners(0, signal);
    this.started = signal;
    for (const inf of this.informers.values()) void inf.run(signal);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
  }
}
