// EtcdStore: the Store contract over a real etcd cluster (--datastore-endpoint etcd://...), with
// the same transactions the API server uses (k8s.io/apiserver/pkg/storage/etcd3/store.go):
// create is txn(create_revision == 0 → put), update is txn(mod_revision == expected → put), and the
// failure branch reads the key so a conflict reports the current value without another round trip.
// Reads are linearizable (etcd's default), so they see every acknowledged write.

import { Etcd3, isRecoverableError, type IKeyValue, type IRequestOp, type ITxnResponse } from 'etcd3';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchOptions,
} from '../store.js';
import { kvFromEtcd, startEtcdWatch } from './etcd-watch.js';

export interface EtcdStoreOptions {
  /** `etcd://host:port,etcd://host:port` (also `http://`, or bare `host:port`), or a list of them. */
  endpoints: string | string[];
  /** Deadline of each unary call. */
  callTimeoutMs?: number;
  /** How long an operation keeps retrying while no member answers (e.g. during a leader election). */
  retryForMs?: number;
}

/** Parses a datastore endpoint string into etcd3 hosts (`host:port`). */
export function parseEtcdEndpoints(endpoints: string | string[]): string[] {
  const parts = (Array.isArray(endpoints) ? endpoints : [endpoints])
    .flatMap((e) => e.split(','))
    .map((e) => e.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new Error('etcd datastore endpoint lists no hosts');
  return parts.map((p) => {
    const m = /^(?:([a-z][a-z0-9+.-]*):\/\/)?([^/]+?)\/?$/i.exec(p);
    if (!m) throw new Error(`invalid etcd endpoint ${JSON.stringify(p)}`);
    const scheme = (m[1] ?? 'etcd').toLowerCase();
    if (scheme === 'https' || scheme === 'etcds') {
      throw new Error(`etcd endpoint ${JSON.stringify(p)}: TLS to etcd is not supported yet; use etcd:// or http://`);
    }
    if (scheme !== 'etcd' && scheme !== 'http') throw new Error(`etcd endpoint ${JSON.stringify(p)}: unsupported scheme ${scheme}://`);
    return m[2]!.includes(':') ? m[2]! : `${m[2]}:2379`;
  });
}

const COMPACTED_MSG = 'required revision has been compacted';
const FUTURE_MSG = 'required revision is a future revision';

export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly retryForMs: number;
  private readonly closing = new AbortController();
  /** Lower bound of the cluster's compacted revision (it only grows). */
  private knownCompacted = 0;

  constructor(opts: EtcdStoreOptions) {
    const callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.retryForMs = opts.retryForMs ?? 15_000;
    this.client = new Etcd3({
      hosts: parseEtcdEndpoints(opts.endpoints),
      dialTimeout: 3000,
      // gRPC caps received messages at 4 MB by default; a list of a few thousand objects is more.
      // A large HTTP/2 flow-control window keeps the watch stream from stalling under write load.
      grpcOptions: { 'grpc.max_receive_message_length': -1, 'grpc-node.flow_control_window': 64 * 1024 * 1024 },
      // Streams (watches) live long; unary calls get a deadline so a hung member cannot stall us.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    });
  }

  /**
   * Runs an etcd call, retrying transient failures (a killed member, a leader election) on the
   * other members until retryForMs passes. A write retried after its reply was lost may already
   * have been applied; create/update recognise their own value in that case (see below).
   */
  private async retry<T>(fn: (attempt: number) => Promise<T>): Promise<T> {
    const start = Date.now();
    for (let attempt = 0, delay = 25; ; attempt++) {
      if (this.closing.signal.aborted) throw new Error('etcd store is closed');
      try {
        return await fn(attempt);
      } catch (err) {
        if (!isTransient(err) || Date.now() - start > this.retryForMs) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  async currentRevision(): Promise<number> {
    const res = await this.retry(() => this.client.kv.range({ key: Buffer.from('\0'), limit: 1, count_only: true }));
    return Number(res.header.revision);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.retry(() => this.client.kv.range({ key: Buffer.from(key) }));
    return res.kvs[0] ? kvFromEtcd(res.kvs[0]) : undefined;
  }

  async list(opts: ListOptions): Promise<ListResult> {
    const prefix = Buffer.from(opts.prefix);
    let start = prefix.length ? prefix : Buffer.from([0]);
    if (opts.startAfter !== undefined) {
      const after = Buffer.concat([Buffer.from(opts.startAfter), Buffer.from([0])]);
      if (Buffer.compare(after, start) > 0) start = after;
    }
    const revision = opts.revision && opts.revision > 0 ? opts.revision : 0;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const res = await this.readAt(revision, () =>
      this.client.kv.range({ key: start, range_end: prefixEndBytes(prefix), limit, revision }),
    );
    const items = res.kvs.map(kvFromEtcd);
    const remaining = Math.max(0, Number(res.count) - items.length);
    return { items, revision: revision || Number(res.header.revision), more: Boolean(res.more), remaining };
  }

  async count(prefix: string): Promise<number> {
    const key = Buffer.from(prefix);
    const res = await this.retry(() =>
      this.client.kv.range({ key: key.length ? key : Buffer.from([0]), range_end: prefixEndBytes(key), count_only: true }),
    );
    return Number(res.count);
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    const k = Buffer.from(key);
    const res = await this.retry(async (attempt) => {
      const r = await this.txn({
        compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: k, value } }],
        failure: [{ request_range: { key: k } }],
      });
      // A retried create that finds exactly its own first version was applied by the lost attempt.
      if (!r.succeeded && attempt > 0) {
        const cur = rangeKv(r);
        if (cur && cur.version === '1' && Buffer.from(cur.value).equals(value)) return { ...r, succeeded: true, own: cur };
      }
      return { ...r, own: undefined };
    });
    if (!res.succeeded) throw new KeyExistsError(key);
    if (res.own) return kvFromEtcd(res.own);
    const rev = Number(res.header.revision);
    return { key, value, createRevision: rev, modRevision: rev };
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    const k = Buffer.from(key);
    let lastAttempt = 0;
    const res = await this.retry((attempt) => {
      lastAttempt = attempt;
      return this.txn({
        compare: [
          { key: k, target: 'Mod', result: 'Equal', mod_revision: expectedModRevision },
          // A missing key has mod_revision 0; never let an update create it.
          { key: k, target: 'Version', result: 'Greater', version: 0 },
        ],
        success: [{ request_put: { key: k, value, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      });
    });
    if (res.succeeded) {
      const prev = res.responses[0]?.response_put?.prev_kv;
      const rev = Number(res.header.revision);
      return { key, value, createRevision: prev ? Number(prev.create_revision) : rev, modRevision: rev };
    }
    const cur = rangeKv(res);
    if (!cur) throw new KeyNotFoundError(key);
    if (lastAttempt > 0 && Number(cur.mod_revision) > expectedModRevision && Buffer.from(cur.value).equals(value)) {
      return kvFromEtcd(cur);
    }
    throw new ConflictError(key, kvFromEtcd(cur));
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    const k = Buffer.from(key);
    const compare =
      expectedModRevision === undefined
        ? [{ key: k, target: 'Version' as const, result: 'Greater' as const, version: 0 }]
        : [{ key: k, target: 'Mod' as const, result: 'Equal' as const, mod_revision: expectedModRevision }];
    const res = await this.retry(() =>
      this.txn({
        compare,
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!res.succeeded) {
      const cur = rangeKv(res);
      if (!cur) throw new KeyNotFoundError(key);
      throw new ConflictError(key, kvFromEtcd(cur));
    }
    const prev = res.responses[0]?.response_delete_range?.prev_kvs?.[0];
    if (!prev) throw new KeyNotFoundError(key);
    return { ...kvFromEtcd(prev), modRevision: Number(res.header.revision) };
  }

  watch(opts: WatchOptions): void {
    const key = Buffer.from(opts.prefix);
    startEtcdWatch({
      client: this.client,
      watch: opts,
      key: key.length ? key : Buffer.from([0]),
      rangeEnd: prefixEndBytes(key),
      reconnectTimeoutMs: this.retryForMs,
      storeSignal: this.closing.signal,
      closedError: () => new Error('etcd store closed'),
    });
  }

  async compact(revision: number): Promise<void> {
    try {
      // physical: return once the compaction is applied, so reads right after see its effect.
      await this.retry(() => this.client.kv.compact({ revision, physical: true }));
      this.knownCompacted = Math.max(this.knownCompacted, revision);
    } catch (err) {
      if (messageOf(err).includes(COMPACTED_MSG)) return; // already compacted at or past it
      if (messageOf(err).includes(FUTURE_MSG)) throw new FutureRevisionError(revision);
      throw err;
    }
  }

  /**
   * etcd has no call that reports its compacted revision, but a read at a revision below it
   * fails; so we search for the oldest readable revision (a few cheap count-only ranges).
   */
  async compactedRevision(): Promise<number> {
    let hi = await this.currentRevision();
    let lo = this.knownCompacted;
    if (lo >= hi) return lo;
    if (await this.readable(Math.max(lo, 1))) return lo;
    // Invariant: lo is not readable (or is the known horizon), hi is readable.
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await this.readable(mid)) hi = mid;
      else lo = mid;
    }
    this.knownCompacted = hi;
    return hi;
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.client.close();
  }

  private async readable(revision: number): Promise<boolean> {
    try {
      await this.retry(() => this.client.kv.range({ key: Buffer.from('\0'), revision, count_only: true }));
      return true;
    } catch (err) {
      if (messageOf(err).includes(COMPACTED_MSG)) return false;
      throw err;
    }
  }

  private async readAt<T>(revision: number, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.retry(fn);
    } catch (err) {
      if (messageOf(err).includes(COMPACTED_MSG)) throw new CompactedError(revision, await this.compactedRevision());
      if (messageOf(err).includes(FUTURE_MSG)) throw new FutureRevisionError(revision);
      throw err;
    }
  }

  private txn(req: { compare: object[]; success: IRequestOp[]; failure: IRequestOp[] }): Promise<ITxnResponse> {
    return this.client.kv.txn(req as Parameters<Etcd3['kv']['txn']>[0]);
  }
}

function rangeKv(res: ITxnResponse): IKeyValue | undefined {
  return res.responses[0]?.response_range?.kvs?.[0];
}

/** etcd's range end for "every key with this prefix": the prefix with its last byte bumped. */
export function prefixEndBytes(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // empty prefix or all 0xff: to the end of the keyspace
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Failures worth retrying on another member: unreachable member, no leader, leader change, timeouts. */
function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const msg = err.message;
  if (msg.includes(COMPACTED_MSG) || msg.includes(FUTURE_MSG)) return false;
  if (/leader changed|no leader|request timed out|too many requests|not capable|unhealthy cluster|circuit breaker is open/i.test(msg)) return true;
  return isRecoverableError(err) || /UNAVAILABLE|ECONNREFUSED|No connection established/i.test(msg);
}
