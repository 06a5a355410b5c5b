// One Store watch over an etcd Watch stream. We drive the gRPC stream ourselves rather than use
// etcd3's Watcher because the Watcher reports a compaction as a bare "Watcher canceled" error and
// drops the compact_revision we need for CompactedError. On connection loss (a member killed)
// the stream is re-opened on another member from the revision after the last delivered event, so
// consumers see no gap and no duplicate.

import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { CompactedError, type KeyValue, type WatchEvent, type WatchOptions } from '../store.js';

export interface EtcdWatchOptions {
  client: Etcd3;
  watch: WatchOptions;
  /** Start and end of the watched key range, as bytes. */
  key: Buffer;
  rangeEnd: Buffer;
  /** Give up (onError) after this long without being able to re-establish the stream. */
  reconnectTimeoutMs: number;
  /** Aborted by the store on close; the watch then fails with closedError(). */
  storeSignal: AbortSignal;
  closedError: () => Error;
}

type StreamOutcome =
  | { kind: 'compacted'; revision: number }
  | { kind: 'canceled'; reason: string }
  | { kind: 'broken'; err: Error }
  | { kind: 'stopped' };

export function kvFromEtcd(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: Buffer.from(kv.value ?? Buffer.alloc(0)),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  };
}

export function startEtcdWatch(opts: EtcdWatchOptions): void {
  const { watch } = opts;
  if (watch.signal.aborted) return;
  void run(opts).catch((err: unknown) => {
    if (!watch.signal.aborted) watch.onError(err instanceof Error ? err : new Error(String(err)));
  });
}

async function run(opts: EtcdWatchOptions): Promise<void> {
  const { watch } = opts;
  let next = Math.max(0, watch.afterRevision) + 1;
  let brokenSince = 0;
  let backoffMs = 50;
  const stopped = () => watch.signal.aborted || opts.storeSignal.aborted;

  while (!stopped()) {
    let established = false;
    const outcome = await streamOnce(opts, next, {
      onCreated: () => {
        established = true;
        brokenSince = 0;
        backoffMs = 50;
      },
      onEvents: (events) => {
        next = events[events.length - 1]!.kv.modRevision + 1;
        watch.onEvents(events);
      },
    });
    if (watch.signal.aborted) return;
    if (opts.storeSignal.aborted) {
      watch.onError(opts.closedError());
      return;
    }
    switch (outcome.kind) {
      case 'compacted':
        watch.onError(new CompactedError(next - 1, outcome.revision));
        return;
      case 'canceled':
        watch.onError(new Error(`etcd canceled the watch: ${outcome.reason || 'no reason given'}`));
        return;
      case 'stopped':
        return;
      case 'broken': {
        const now = Date.now();
        if (established || brokenSince === 0) brokenSince = now;
        if (now - brokenSince > opts.reconnectTimeoutMs) {
          watch.onError(new Error(`etcd watch lost: ${outcome.err.message}`));
          return;
        }
        await sleep(backoffMs, watch.signal);
        backoffMs = Math.min(backoffMs * 2, 1000);
      }
    }
  }
}

function streamOnce(
  opts: EtcdWatchOptions,
  startRevision: number,
  cb: { onCreated: () => void; onEvents: (events: WatchEvent[]) => void },
): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    let done = false;
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>> | undefined;
    const finish = (o: StreamOutcome) => {
      if (done) return;
      done = true;
      opts.watch.signal.removeEventListener('abort', onAbort);
      opts.storeSignal.removeEventListener('abort', onAbort);
      try {
        stream?.cancel();
      } catch {
        // already closed
      }
      resolve(o);
    };
    const onAbort = () => finish({ kind: 'stopped' });
    opts.watch.signal.addEventListener('abort', onAbort, { once: true });
    opts.storeSignal.addEventListener('abort', onAbort, { once: true });

    opts.client.watchClient.watch().then(
      (s) => {
        stream = s;
        if (done) {
          s.on('error', () => undefined);
          s.cancel();
          return;
        }
        s.on('data', (res: IWatchResponse) => {
          if (done) return;
          const compactRevision = Number(res.compact_revision ?? 0);
          if (compactRevision > 0) return finish({ kind: 'compacted', revision: compactRevision });
          if (res.canceled) return finish({ kind: 'canceled', reason: res.cancel_reason ?? '' });
          if (res.created) return cb.onCreated();
          const events = (res.events ?? []).map(eventFromEtcd);
          if (events.length === 0) return;
          try {
            cb.onEvents(events);
          } catch (err) {
            // A throwing consumer ends its own watch.
            finish({ kind: 'canceled', reason: `consumer failed: ${(err as Error).message}` });
          }
        });
        s.on('error', (err: Error) => finish({ kind: 'broken', err }));
        s.on('end', () => finish({ kind: 'broken', err: new Error('watch stream ended') }));
        s.write({
          create_request: { key: opts.key, range_end: opts.rangeEnd, start_revision: startRevision, prev_kv: true },
        });
      },
      (err: Error) => finish({ kind: 'broken', err }),
    );
  });
}

function eventFromEtcd(ev: { type: string; kv: IKeyValue; prev_kv?: IKeyValue | null }): WatchEvent {
  const kv = kvFromEtcd(ev.kv);
  const prevKv = ev.prev_kv ? kvFromEtcd(ev.prev_kv) : undefined;
  // etcd3's proto spells the enum Put/Delete; compare case-insensitively.
  if (String(ev.type).toUpperCase() === 'DELETE') {
    // etcd's delete event carries only the key and the delete revision; the contract wants the
    // last value, which prev_kv holds (absent only if that revision was compacted meanwhile).
    return {
      type: 'DELETE',
      kv: { key: kv.key, value: prevKv?.value ?? Buffer.alloc(0), createRevision: prevKv?.createRevision ?? 0, modRevision: kv.modRevision },
      prevKv,
      created: false,
    };
  }
  const created = String(ev.kv.version) === '1';
  return { type: 'PUT', kv, prevKv: created ? undefined : prevKv, created };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
