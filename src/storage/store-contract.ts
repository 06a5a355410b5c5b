// The conformance suite every Store driver passes (like hono's shared router tests): one set of
// node:test tests, registered by each driver's test file with a factory for fresh stores. Every
// test writes under its own random prefix, so drivers whose stores share data (one etcd
// cluster) can run it too.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  type KeyValue,
  type Store,
  type WatchEvent,
} from './store.js';

export interface StoreContractOptions {
  /** A store for one test; closed by the suite after the test. */
  open: () => Promise<Store>;
  /** Called once after all tests (delete temp files, stop servers). */
  cleanup?: () => Promise<void>;
  /** Per-test timeout (default 30 s). */
  timeoutMs?: number;
}

const buf = (s: string) => Buffer.from(s, 'utf8');
const str = (kv: KeyValue | undefined) => kv?.value.toString('utf8');

let seq = 0;
function freshPrefix(): string {
  return `/contract/${process.pid}-${Date.now().toString(36)}-${++seq}-${randomBytes(3).toString('hex')}/`;
}

/** Collects watch events and lets a test await a given count. */
export class WatchRecorder {
  readonly events: WatchEvent[] = [];
  readonly batches: WatchEvent[][] = [];
  error: Error | undefined;
  readonly controller = new AbortController();
  private waiters: (() => void)[] = [];

  readonly onEvents = (batch: WatchEvent[]) => {
    this.batches.push(batch);
    this.events.push(...batch);
    this.wake();
  };
  readonly onError = (err: Error) => {
    this.error = err;
    this.wake();
  };

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when at least n events arrived; rejects on watch error or timeout. */
  async waitFor(n: number, timeoutMs = 10_000): Promise<WatchEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n) {
      if (this.error) throw this.error;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} events, got ${this.events.length}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.events.slice(0, n);
  }

  async waitForError(timeoutMs = 10_000): Promise<Error> {
    const deadline = Date.now() + timeoutMs;
    while (!this.error) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a watch error');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.error;
  }

  start(store: Store, prefix: string, afterRevision: number): this {
    store.watch({ prefix, afterRevision, signal: this.controller.signal, onEvents: this.onEvents, onError: this.onError });
    return this;
  }

  stop() {
    this.controller.abort();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runStoreContract(name: string, opts: StoreContractOptions): void {
  const timeout = opts.timeoutMs ?? 30_000;

  describe(`Store contract: ${name}`, { timeout: timeout * 20 }, () => {
    if (opts.cleanup) after(opts.cleanup);

    /** Runs body with a fresh store and prefix; always closes the store and stops watchers. */
    const it = (title: string, body: (s: Store, p: string, watch: (prefix: string, after: number) => WatchRecorder) => Promise<void>) =>
      test(title, { timeout }, async () => {
        const store = await opts.open();
        const recorders: WatchRecorder[] = [];
        try {
          await body(store, freshPrefix(), (prefix, afterRev) => {
            const r = new WatchRecorder().start(store, prefix, afterRev);
            recorders.push(r);
            return r;
          });
        } finally {
          for (const r of recorders) r.stop();
          await store.close();
        }
      });

    it('create then get; a second create fails with KeyExistsError', async (s, p) => {
      const before = await s.currentRevision();
      const kv = await s.create(p + 'a', buf('one'));
      assert.equal(kv.key, p + 'a');
      assert.equal(str(kv), 'one');
      assert.ok(kv.modRevision > before);
      assert.equal(kv.createRevision, kv.modRevision);
      assert.deepEqual(await s.get(p + 'a'), kv);
      assert.equal(await s.currentRevision(), kv.modRevision);
      await assert.rejects(s.create(p + 'a', buf('two')), (e) => e instanceof KeyExistsError && e.key === p + 'a');
      assert.equal(str(await s.get(p + 'a')), 'one');
      assert.equal(await s.get(p + 'missing'), undefined);
    });

    it('update with the right modRevision; conflicts carry the current value', async (s, p) => {
      const c = await s.create(p + 'k', buf('v1'));
      const u = await s.update(p + 'k', buf('v2'), c.modRevision);
      assert.equal(str(u), 'v2');
      assert.equal(u.createRevision, c.createRevision);
      assert.ok(u.modRevision > c.modRevision);
      assert.deepEqual(await s.get(p + 'k'), u);
      await assert.rejects(s.update(p + 'k', buf('v3'), c.modRevision), (e) => {
        assert.ok(e instanceof ConflictError);
        assert.equal(e.key, p + 'k');
        assert.deepEqual(e.current, u);
        return true;
      });
      await assert.rejects(s.update(p + 'nope', buf('x'), 1), (e) => e instanceof KeyNotFoundError);
      await assert.rejects(s.update(p + 'nope', buf('x'), 0), (e) => e instanceof KeyNotFoundError);
      assert.equal(await s.get(p + 'nope'), undefined);
    });

    it('delete returns the last value at the delete revision; recreate starts a new life', async (s, p) => {
      const c = await s.create(p + 'd', buf('last'));
      await assert.rejects(s.delete(p + 'd', c.modRevision + 1000), (e) => e instanceof ConflictError && str(e.current) === 'last');
      const d = await s.delete(p + 'd', c.modRevision);
      assert.equal(str(d), 'last');
      assert.equal(d.createRevision, c.createRevision);
      assert.ok(d.modRevision > c.modRevision);
      assert.equal(await s.currentRevision(), d.modRevision);
      assert.equal(await s.get(p + 'd'), undefined);
      await assert.rejects(s.delete(p + 'd'), (e) => e instanceof KeyNotFoundError);
      await assert.rejects(s.update(p + 'd', buf('x'), d.modRevision), (e) => e instanceof KeyNotFoundError);
      const again = await s.create(p + 'd', buf('reborn'));
      assert.ok(again.createRevision > d.modRevision);
      const unguarded = await s.delete(p + 'd');
      assert.equal(str(unguarded), 'reborn');
    });

    it('one global revision, strictly increasing across keys', async (s, p) => {
      let last = await s.currentRevision();
      const revs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const kv = await s.create(`${p}k${i}`, buf(String(i)));
        revs.push(kv.modRevision);
        const u = await s.update(`${p}k${i}`, buf(`${i}!`), kv.modRevision);
        revs.push(u.modRevision);
      }
      revs.push((await s.delete(`${p}k0`)).modRevision);
      for (const r of revs) {
        assert.ok(r > last, `revision ${r} after ${last}`);
        last = r;
      }
      assert.equal(await s.currentRevision(), last);
    });

    it('list by prefix in key order with limit, startAfter, more and remaining', async (s, p) => {
      const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
      for (const n of [...names].reverse()) await s.create(p + n, buf(n));
      // Neighbours that share a string prefix but not the path prefix stay out.
      await s.create(p.slice(0, -1) + 'x/a', buf('other'));
      await s.create(p.slice(0, -1) + '0', buf('other'));
      const all = await s.list({ prefix: p });
      assert.deepEqual(all.items.map((kv) => kv.key.slice(p.length)), names);
      assert.equal(all.more, false);
      assert.equal(all.revision, await s.currentRevision());
      assert.equal(str(all.items[2]), 'c');

      const collected: string[] = [];
      let startAfter: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await s.list({ prefix: p, limit: 3, startAfter });
        pages++;
        collected.push(...page.items.map((kv) => kv.key.slice(p.length)));
        if (page.remaining !== undefined) assert.equal(page.remaining, names.length - collected.length);
        if (!page.more) break;
        assert.equal(page.items.length, 3);
        startAfter = page.items[page.items.length - 1]!.key;
      }
      assert.deepEqual(collected, names);
      assert.equal(pages, 3);
      const tail = await s.list({ prefix: p, startAfter: p + 'e' });
      assert.deepEqual(tail.items.map((kv) => kv.key.slice(p.length)), ['f', 'g']);
      const exact = await s.list({ prefix: p, limit: 7 });
      assert.equal(exact.more, false);
      assert.equal((await s.list({ prefix: p + 'zzz/' })).items.length, 0);
    });

    it('list at an old revision sees that snapshot; future revisions are refused', async (s, p) => {
      const a = await s.create(p + 'a', buf('a1'));
      const b = await s.create(p + 'b', buf('b1'));
      const snapshot = b.modRevision;
      await s.update(p + 'a', buf('a2'), a.modRevision);
      await s.delete(p + 'b');
      await s.create(p + 'c', buf('c1'));
      const old = await s.list({ prefix: p, revision: snapshot });
      assert.equal(old.revision, snapshot);
      assert.deepEqual(old.items.map((kv) => [kv.key.slice(p.length), str(kv), kv.modRevision]), [
        ['a', 'a1', a.modRevision],
        ['b', 'b1', b.modRevision],
      ]);
      const olderPage = await s.list({ prefix: p, revision: snapshot, limit: 1 });
      assert.equal(olderPage.items.length, 1);
      assert.equal(olderPage.more, true);
      const now = await s.list({ prefix: p });
      assert.deepEqual(now.items.map((kv) => [kv.key.slice(p.length), str(kv)]), [['a', 'a2'], ['c', 'c1']]);
      const future = (await s.currentRevision()) + 1000;
      await assert.rejects(s.list({ prefix: p, revision: future }), (e) => e instanceof FutureRevisionError);
    });

    it('count counts live keys under a prefix', async (s, p) => {
      assert.equal(await s.count(p), 0);
      for (let i = 0; i < 4; i++) await s.create(`${p}n/${i}`, buf('x'));
      await s.create(`${p}m/0`, buf('x'));
      await s.delete(`${p}n/1`);
      assert.equal(await s.count(p + 'n/'), 3);
      assert.equal(await s.count(p), 4);
    });

    it('watch replays the backlog after a revision, then live events, in order', async (s, p, watch) => {
      const a = await s.create(p + 'a', buf('a1'));
      const u = await s.update(p + 'a', buf('a2'), a.modRevision);
      const b = await s.create(p + 'b', buf('b1'));
      const w = watch(p, a.modRevision); // everything after the create of a
      await w.waitFor(2);
      const d = await s.delete(p + 'b');
      const c = await s.create(p + 'c', buf('c1'));
      const ev = await w.waitFor(4);
      assert.deepEqual(
        ev.map((e) => [e.type, e.kv.key.slice(p.length), str(e.kv), e.kv.modRevision, e.created]),
        [
          ['PUT', 'a', 'a2', u.modRevision, false],
          ['PUT', 'b', 'b1', b.modRevision, true],
          ['DELETE', 'b', 'b1', d.modRevision, false],
          ['PUT', 'c', 'c1', c.modRevision, true],
        ],
      );
      assert.equal(str(ev[0]!.prevKv), 'a1');
      assert.equal(ev[0]!.prevKv!.modRevision, a.modRevision);
      assert.equal(ev[0]!.kv.createRevision, a.createRevision);
      assert.equal(ev[1]!.prevKv, undefined);
      await sleep(100);
      assert.equal(w.events.length, 4, 'no duplicates');
      assert.equal(w.error, undefined);
      const revs = w.events.map((e) => e.kv.modRevision);
      assert.deepEqual(revs, [...revs].sort((x, y) => x - y));
    });

    it('watch from the current revision sees only new events, in order under load', async (s, p, watch) => {
      await s.create(p + 'old', buf('x'));
      const w = watch(p, await s.currentRevision());
      const writes: Promise<KeyValue>[] = [];
      for (let i = 0; i < 50; i++) writes.push(s.create(`${p}k${String(i).padStart(2, '0')}`, buf(String(i))));
      const done = await Promise.all(writes);
      const ev = await w.waitFor(50);
      assert.deepEqual(
        ev.map((e) => e.kv.modRevision),
        done.map((kv) => kv.modRevision).sort((x, y) => x - y),
      );
      assert.ok(ev.every((e) => e.created && e.type === 'PUT' && e.kv.key !== p + 'old'));
    });

    it('a prefix watch does not see other prefixes', async (s, p, watch) => {
      const start = await s.currentRevision();
      const w = watch(p + 'pods/', start);
      await s.create(p + 'pods-x', buf('no'));
      await s.create(p + 'podsa/1', buf('no'));
      await s.create(p + 'services/1', buf('no'));
      const yes = await s.create(p + 'pods/1', buf('yes'));
      const ev = await w.waitFor(1);
      await sleep(100);
      assert.equal(w.events.length, 1);
      assert.equal(ev[0]!.kv.key, p + 'pods/1');
      assert.equal(ev[0]!.kv.modRevision, yes.modRevision);
    });

    it('delete events carry the last value and prevKv', async (s, p, watch) => {
      const c = await s.create(p + 'x', buf('v1'));
      const u = await s.update(p + 'x', buf('v2'), c.modRevision);
      const w = watch(p, u.modRevision);
      const d = await s.delete(p + 'x', u.modRevision);
      const [e] = await w.waitFor(1);
      assert.equal(e!.type, 'DELETE');
      assert.equal(e!.created, false);
      assert.equal(e!.kv.key, p + 'x');
      assert.equal(e!.kv.modRevision, d.modRevision);
      assert.equal(str(e!.kv), 'v2');
      assert.equal(e!.prevKv?.modRevision, u.modRevision);
      assert.equal(str(e!.prevKv), 'v2');
      assert.equal(e!.prevKv?.createRevision, c.createRevision);
    });

    it('compaction: reads and watches below the horizon fail with CompactedError', async (s, p, watch) => {
      const a = await s.create(p + 'a', buf('a1'));
      const u1 = await s.update(p + 'a', buf('a2'), a.modRevision);
      await s.create(p + 'b', buf('b1'));
      await s.delete(p + 'b');
      const u2 = await s.update(p + 'a', buf('a3'), u1.modRevision);
      const horizon = u2.modRevision;
      await s.compact(horizon);
      assert.ok((await s.compactedRevision()) >= horizon);
      await s.compact(horizon - 1); // compacting again below the horizon is harmless
      await assert.rejects(s.list({ prefix: p, revision: a.modRevision }), (e) => {
        assert.ok(e instanceof CompactedError);
        assert.equal(e.requested, a.modRevision);
        assert.ok(e.compacted >= horizon);
        return true;
      });
      const latest = await s.list({ prefix: p });
      assert.deepEqual(latest.items.map((kv) => [kv.key.slice(p.length), str(kv)]), [['a', 'a3']]);
      assert.equal(str((await s.list({ prefix: p, revision: horizon })).items[0]), 'a3');
      const failed = watch(p, a.modRevision);
      const err = await failed.waitForError();
      assert.ok(err instanceof CompactedError, `got ${err}`);
      assert.ok(err.compacted >= horizon);
      // From the horizon on, watching still works.
      const ok = watch(p, horizon);
      const c = await s.create(p + 'c', buf('c1'));
      const [e] = await ok.waitFor(1);
      assert.equal(e!.kv.modRevision, c.modRevision);
      assert.equal(ok.error, undefined);
      await assert.rejects(s.compact((await s.currentRevision()) + 100), (e) => e instanceof FutureRevisionError);
    });

    it('concurrent updates with the same expected modRevision: exactly one wins', async (s, p) => {
      const c = await s.create(p + 'race', buf('0'));
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => s.update(p + 'race', buf(`w${i}`), c.modRevision)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 19);
      assert.ok(lost.every((r) => r.reason instanceof ConflictError));
      const winner = (won[0] as PromiseFulfilledResult<KeyValue>).value;
      assert.deepEqual(await s.get(p + 'race'), winner);
      const creates = await Promise.allSettled(Array.from({ length: 10 }, () => s.create(p + 'once', buf('x'))));
      assert.equal(creates.filter((r) => r.status === 'fulfilled').length, 1);
    });

    it('abort stops a watch without calling onError', async (s, p, watch) => {
      const w = watch(p, await s.currentRevision());
      await s.create(p + '1', buf('1'));
      await w.waitFor(1);
      w.stop();
      await s.create(p + '2', buf('2'));
      await s.create(p + '3', buf('3'));
      await sleep(200);
      assert.equal(w.events.length, 1);
      assert.equal(w.error, undefined);
      // Aborted before it starts: nothing at all.
      const pre = new WatchRecorder();
      pre.stop();
      pre.start(s, p, 0);
      await sleep(100);
      assert.equal(pre.events.length, 0);
      assert.equal(pre.error, undefined);
    });

    it('values round-trip byte-exact', async (s, p, watch) => {
      const w = watch(p, await s.currentRevision());
      const values = [
        Buffer.alloc(0),
        Buffer.from([0, 1, 2, 0xff, 0xfe, 0, 0x80]),
        Buffer.from('{"kind":"Pod","ünïcödé":"✓ 🚀"}', 'utf8'),
        randomBytes(256 * 1024),
      ];
      for (const [i, v] of values.entries()) {
        const kv = await s.create(`${p}v${i}`, v);
        assert.ok(kv.value.equals(v));
        assert.ok((await s.get(`${p}v${i}`))!.value.equals(v), `get value ${i}`);
      }
      const listed = await s.list({ prefix: p });
      listed.items.forEach((kv, i) => assert.ok(kv.value.equals(values[i]!), `list value ${i}`));
      const ev = await w.waitFor(values.length);
      ev.forEach((e, i) => assert.ok(e.kv.value.equals(values[i]!), `watch value ${i}`));
      const key = `${p}ключ/🚀`;
      await s.create(key, buf('unicode key'));
      assert.equal(str(await s.get(key)), 'unicode key');
    });
  });
}
