// List and watch for every resource, served from the watch cache where upstream semantics allow
// it, and from the store for exact or paginated reads at an older revision.
// Semantics: https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceDef } from '../../api/resource.js';
import { StatusError } from '../../machinery/errors.js';
import { parseFieldSelector, type FieldSelector } from '../../machinery/fields.js';
import { parseSelector as parseLabelSelector, type Selector } from '../../machinery/labels.js';
import { CompactedError, type Store, type WatchEvent as StoreEvent } from '../../storage/store.js';
import type { CacheEvent, CachedObject, WatchCache } from '../watch-cache.js';
import { decodeKV } from '../watch-cache.js';
import { listPrefix, resourcePrefix } from './keys.js';

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WatchQuery {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

export interface Item {
  obj: KubeObject;
  json: string;
  /** Encoded watch lines by event type, shared by every watcher that sends this version. */
  lines?: Partial<Record<string, string>>;
}

export interface ListResult {
  items: Item[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export type OutEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface OutEvent {
  type: OutEventType;
  item: Item;
}

export interface WatchSink {
  send(events: OutEvent[]): void;
  /** The watch ends (error already sent as an ERROR event when relevant). */
  close(): void;
}

interface ContinueToken {
  rv: number;
  start: string;
}

const INCONSISTENT_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const raw = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (raw.v !== 'meta.k8s.io/v1' || typeof raw.rv !== 'number' || typeof raw.start !== 'string') throw new Error('bad');
    return { rv: raw.rv, start: raw.start };
  } catch {
    throw StatusError.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

function parseRV(rv: string, what = 'resourceVersion'): number {
  if (!/^\d+$/.test(rv)) throw invalidRV(rv, what);
  return Number(rv);
}

function invalidRV(rv: string, what: string): StatusError {
  return new StatusError(400, 'BadRequest', `Invalid value: "${rv}": invalid ${what}`);
}

/** Selector predicate for a resource. */
export class Filter {
  readonly labels: Selector | undefined;
  readonly fields: FieldSelector | undefined;

  constructor(
    private readonly def: ResourceDef,
    labelSelector: string | undefined,
    fieldSelector: string | undefined,
  ) {
    this.labels = labelSelector ? parseLabelSelector(labelSelector) : undefined;
    this.fields = fieldSelector ? parseFieldSelector(fieldSelector) : undefined;
    if (this.fields) {
      for (const r of this.fields.requirements) {
        if (r.field !== 'metadata.name' && r.field !== 'metadata.namespace' && !def.fieldSelectors?.[r.field]) {
          throw StatusError.badRequest(`field label not supported: ${r.field}`);
        }
      }
    }
  }

  get empty(): boolean {
    return !this.labels && !this.fields;
  }

  matches(obj: KubeObject): boolean {
    if (this.labels && !this.labels.matches(obj.metadata.labels ?? {})) return false;
    if (this.fields) {
      const getter = (f: string): string | undefined => {
        if (f === 'metadata.name') return obj.metadata.name;
        if (f === 'metadata.namespace') return obj.metadata.namespace ?? '';
        return this.def.fieldSelectors?.[f]?.(obj);
      };
      if (!this.fields.matches(getter)) return false;
    }
    return true;
  }
}

export class ListWatch {
  constructor(
    private readonly def: ResourceDef,
    private readonly store: Store,
    private readonly cache: WatchCache,
  ) {}

  private toItem(c: CachedObject): Item {
    // The cached object itself is the item, so encodings made for one watcher serve all.
    if (!this.def.storage) return c;
    const obj = this.def.storage.fromStorage(c.obj);
    return { obj, json: JSON.stringify(obj) };
  }

  private fromKV(value: Buffer, rev: number): Item {
    let obj = decodeKV(value, rev);
    if (this.def.storage) obj = this.def.storage.fromStorage(obj);
    return { obj, json: JSON.stringify(obj) };
  }

  /** Waits until the cache is at least as fresh as `rv` (or the store's latest when undefined). */
  private async freshCache(rv: number | undefined): Promise<void> {
    const target = rv ?? (await this.store.currentRevision());
    await this.cache.waitForRevision(target);
    if (rv !== undefined && this.cache.revision < rv) {
      throw new StatusError(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.cache.revision}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
    }
  }

  async list(ns: string | undefined, q: ListQuery): Promise<ListResult> {
    const filter = new Filter(this.def, q.labelSelector, q.fieldSelector);
    const prefix = listPrefix(this.def, ns);
    const limit = q.limit && q.limit > 0 ? q.limit : 0;
    const rvMatch = q.resourceVersionMatch;
    if (rvMatch && rvMatch !== 'Exact' && rvMatch !== 'NotOlderThan') {
      throw StatusError.invalid('meta.k8s.io', 'ListOptions', '', [
        { type: 'FieldValueNotSupported', field: 'resourceVersionMatch', badValue: rvMatch, hasBadValue: true, detail: 'supported values: "Exact", "NotOlderThan", ""' },
      ]);
    }
    if (rvMatch && !q.resourceVersion) {
      throw StatusError.invalid('meta.k8s.io', 'ListOptions', '', [
        { type: 'FieldValueForbidden', field: 'resourceVersionMatch', hasBadValue: false, detail: 'resourceVersionMatch is forbidden unless resourceVersion is provided' },
      ]);
    }
    if (q.continue) {
      if (q.resourceVersion && q.resourceVersion !== '0') {
        throw StatusError.badRequest('specifying resource version is not allowed when using continue');
      }
      const tok = decodeContinue(q.continue);
      if (this.cache.revision === tok.rv) return this.pageFromCache(prefix, filter, limit, tok.rv, prefix + tok.start);
      return this.pageFromStore(prefix, filter, limit, tok.rv, prefix + tok.start);
    }
    const rvStr = q.resourceVersion ?? '';
    if (rvStr !== '' && rvStr !== '0') {
      const rv = parseRV(rvStr);
      // An exact read, or the legacy "limit with resourceVersion" form, is a snapshot read.
      if (rvMatch === 'Exact' || (limit && rvMatch !== 'NotOlderThan')) {
        return this.pageFromStore(prefix, filter, limit, rv, undefined);
      }
      await this.freshCache(rv);
    } else if (rvStr === '') {
      await this.freshCache(undefined);
    } else {
      await this.cache.start();
    }
    return this.pageFromCache(prefix, filter, limit, this.cache.revision, undefined);
  }

  private pageFromCache(prefix: string, filter: Filter, limit: number, rv: number, startAfter: string | undefined): ListResult {
    const all = this.cache.list(prefix);
    let i = 0;
    if (startAfter !== undefined) {
      while (i < all.length && all[i].key <= startAfter) i++;
    }
    const items: Item[] = [];
    for (; i < all.length; i++) {
      const c = all[i];
      if (!filter.empty && !filter.matches(c.obj)) continue;
      items.push(this.toItem(c));
      if (limit && items.length === limit) {
        i++;
        break;
      }
    }
    const res: ListResult = { items, resourceVersion: String(rv) };
    if (limit && i < all.length) {
      // Something may follow: hand out a continue token at this snapshot.
      const more = filter.empty ? true : all.slice(i).some((c) => filter.matches(c.obj));
      if (more) {
        res.continue = encodeContinue({ rv, start: keyTail(all[i - 1].key, prefix) });
        if (filter.empty) res.remainingItemCount = all.length - i;
      }
    }
    return res;
  }

  private async pageFromStore(prefix: string, filter: Filter, limit: number, rv: number, startAfter: string | undefined): Promise<ListResult> {
    const items: Item[] = [];
    let after = startAfter;
    let readRev = rv;
    let lastKey: string | undefined;
    let more = false;
    try {
      for (;;) {
        const batch = Math.max(limit ? limit - items.length : 0, limit ? 50 : 0);
        const res = await this.store.list({ prefix, revision: rv, limit: batch || undefined, startAfter: after });
        readRev = res.revision;
        for (let i = 0; i < res.items.length; i++) {
          const kv = res.items[i];
          lastKey = kv.key;
          const item = this.fromKV(kv.value, kv.modRevision);
          if (!filter.empty && !filter.matches(item.obj)) continue;
          items.push(item);
          if (limit && items.length === limit) {
            more = i < res.items.length - 1 || res.more;
            break;
          }
        }
        if (limit && items.length === limit) break;
        if (!res.more || !res.items.length) break;
        after = res.items[res.items.length - 1].key;
      }
    } catch (e) {
      if (e instanceof CompactedError) {
        if (startAfter !== undefined) throw StatusError.resourceExpired(INCONSISTENT_CONTINUE);
        throw StatusError.resourceExpired(`The resourceVersion for the provided list is too old.`);
      }
      throw e;
    }
    const out: ListResult = { items, resourceVersion: String(readRev) };
    if (more && lastKey) out.continue = encodeContinue({ rv: readRev, start: keyTail(lastKey, prefix) });
    return out;
  }

  /**
   * Starts a watch; events go to `sink` until `signal` aborts. Errors that upstream reports
   * inside the stream (410 Expired) are sent as ERROR events.
   */
  async watch(ns: string | undefined, q: WatchQuery, sink: WatchSink, signal: AbortSignal): Promise<void> {
    const filter = new Filter(this.def, q.labelSelector, q.fieldSelector);
    const prefix = listPrefix(this.def, ns);
    const rvStr = q.resourceVersion ?? '';
    const initial = q.sendInitialEvents ?? (rvStr === '' || rvStr === '0');
    if (q.sendInitialEvents !== undefined && q.sendInitialEvents && q.resourceVersionMatch !== 'NotOlderThan') {
      throw StatusError.invalid('meta.k8s.io', 'ListOptions', '', [
        { type: 'FieldValueForbidden', field: 'resourceVersionMatch', hasBadValue: false, detail: "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" },
      ]);
    }
    let from: number;
    if (rvStr === '') await this.freshCache(undefined);
    else if (rvStr === '0') await this.cache.start();
    else {
      const rv = parseRV(rvStr);
      if (initial) await this.freshCache(rv);
      else await this.cache.start();
      from = rv;
    }
    const startRev = this.cache.revision;
    if (initial) {
      const evs: OutEvent[] = [];
      for (const c of this.cache.list(prefix)) {
        if (!filter.empty && !filter.matches(c.obj)) continue;
        evs.push({ type: 'ADDED', item: this.toItem(c) });
      }
      if (q.sendInitialEvents && q.allowWatchBookmarks) {
        evs.push({ type: 'BOOKMARK', item: this.bookmark(startRev, true) });
      }
      if (evs.length) sink.send(evs);
      from = startRev;
    }
    const translate = (events: CacheEvent[]) => {
      const out: OutEvent[] = [];
      for (const e of events) {
        if (!e.key.startsWith(prefix)) continue;
        const t = this.translate(e.type, e.cur.obj, e.prev?.obj, filter);
        if (t) out.push({ type: t, item: this.toItem(e.cur) });
      }
      if (out.length) sink.send(out);
    };
    const ok = this.cache.watch(from!, { onEvents: translate, onError: () => sink.close() }, signal);
    if (!ok) this.watchFromStore(prefix, from!, filter, sink, signal);
  }

  /** Watch from a revision older than the cache's event window: straight from the store. */
  private watchFromStore(prefix: string, from: number, filter: Filter, sink: WatchSink, signal: AbortSignal): void {
    this.store.watch({
      prefix,
      afterRevision: from,
      signal,
      onEvents: (events: StoreEvent[]) => {
        const out: OutEvent[] = [];
        for (const e of events) {
          const rev = e.kv.modRevision;
          const cur = e.type === 'DELETE' ? this.fromKV((e.prevKv ?? e.kv).value, rev) : this.fromKV(e.kv.value, rev);
          const prev = e.prevKv ? this.fromKV(e.prevKv.value, e.prevKv.modRevision).obj : undefined;
          const type = e.type === 'DELETE' ? 'DELETED' : e.created || !prev ? 'ADDED' : 'MODIFIED';
          const t = this.translate(type, cur.obj, prev, filter);
          if (t) out.push({ type: t, item: cur });
        }
        if (out.length) sink.send(out);
      },
      onError: (err) => {
        if (err instanceof CompactedError) {
          sink.send([{ type: 'ERROR', item: statusItem(StatusError.resourceExpired(`too old resource version: ${from} (${err.compacted + 1})`)) }]);
        }
        sink.close();
      },
    });
  }

  /** Upstream's selector-aware event types: objects moving in or out of the selection. */
  private translate(type: 'ADDED' | 'MODIFIED' | 'DELETED', cur: KubeObject, prev: KubeObject | undefined, filter: Filter): OutEventType | undefined {
    if (filter.empty) return type;
    const curOk = filter.matches(cur);
    if (type === 'ADDED') return curOk ? 'ADDED' : undefined;
    const prevOk = prev ? filter.matches(prev) : false;
    if (type === 'DELETED') return curOk || prevOk ? 'DELETED' : undefined;
    if (curOk && prevOk) return 'MODIFIED';
    if (curOk) return 'ADDED';
    if (prevOk) return 'DELETED';
    return undefined;
  }

  /** A BOOKMARK event object: the kind with only metadata.resourceVersion. */
  bookmark(rev: number, initialEventsEnd = false): Item {
    const obj: KubeObject = {
      kind: this.def.kind,
      apiVersion: this.def.group ? `${this.def.group}/${this.def.version}` : this.def.version,
      metadata: { resourceVersion: String(rev) },
    };
    if (initialEventsEnd) obj.metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    return { obj, json: JSON.stringify(obj) };
  }

  get currentRevision(): number {
    return this.cache.revision;
  }

  get resourcePrefix(): string {
    return resourcePrefix(this.def);
  }
}

function keyTail(key: string, prefix: string): string {
  return key.slice(prefix.length);
}

export function statusItem(err: StatusError): Item {
  const obj = err.toStatus() as unknown as KubeObject;
  return { obj, json: JSON.stringify(obj) };
}
