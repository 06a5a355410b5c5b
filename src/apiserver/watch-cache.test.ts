import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import { CacheDispatcher } from './cache-dispatcher.js';
import type { CacheEvent } from './watch-cache.js';

let store: SqliteStore;
let dispatcher: CacheDispatcher;

const val = (name: string, extra: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ kind: 'ConfigMap', metadata: { name }, ...extra }));

beforeEach(async () => {
  store = new SqliteStore({ path: ':memory:' });
  dispatcher = new CacheDispatcher(store);
});

afterEach(async () => {
  dispatcher.stop();
  await store.close();
});

test('the cache lists what the store holds, in key order, with resourceVersions', async () => {
  await store.create('/registry/configmaps/b/x', val('x'));
  await store.create('/registry/configmaps/a/y', val('y'));
  await store.create('/registry/secrets/a/z', val('z'));
  const cache = dispatcher.cacheFor('/registry/configmaps/');
  await dispatcher.start();
  await cache.start();
  const all = cache.list('/registry/configmaps/');
  assert.deepEqual(all.map((c) => c.key), ['/registry/configmaps/a/y', '/registry/configmaps/b/x']);
  assert.equal(all[0].obj.metadata.resourceVersion, '2');
  assert.equal(JSON.parse(all[0].json).metadata.resourceVersion, '2');
  assert.deepEqual(cache.list('/registry/configmaps/b/').map((c) => c.obj.metadata.name), ['x']);
});

test('writes reach watchers as ADDED/MODIFIED/DELETED with the previous object, and raise every cache revision', async () => {
  const cms = dispatcher.cacheFor('/registry/configmaps/');
  const secrets = dispatcher.cacheFor('/registry/secrets/');
  await dispatcher.start();
  await Promise.all([cms.start(), secrets.start()]);
  const got: CacheEvent[] = [];
  const ac = new AbortController();
  assert.ok(cms.watch(cms.revision, { onEvents: (evs) => got.push(...evs), onError: () => undefined }, ac.signal));
  const a = await store.create('/registry/configmaps/ns/a', val('a'));
  await store.update('/registry/configmaps/ns/a', val('a', { data: { k: 'v' } }), a.modRevision);
  const s = await store.create('/registry/secrets/ns/s', val('s'));
  await store.delete('/registry/configmaps/ns/a');
  await secrets.waitForRevision(s.modRevision + 1);
  await cms.waitForRevision(s.modRevision + 1);
  assert.deepEqual(got.map((e) => e.type), ['ADDED', 'MODIFIED', 'DELETED']);
  assert.equal(got[1].prev?.obj.data, undefined);
  assert.deepEqual(got[1].cur.obj.data, { k: 'v' });
  assert.deepEqual(got[2].cur.obj.data, { k: 'v' });
  // The secret write moved the configmap cache's revision too (progress), and vice versa.
  assert.equal(cms.revision, s.modRevision + 1);
  assert.equal(secrets.revision, s.modRevision + 1);
  assert.equal(cms.size, 0);
  ac.abort();
});

test('a watch from a recent revision replays the buffered events first', async () => {
  const cache = dispatcher.cacheFor('/registry/pods/');
  await dispatcher.start();
  await cache.start();
  const start = cache.revision;
  const kvs = [];
  for (let i = 0; i < 5; i++) kvs.push(await store.create(`/registry/pods/ns/p${i}`, val(`p${i}`)));
  await cache.waitForRevision(kvs[4].modRevision);
  const got: string[] = [];
  const ac = new AbortController();
  assert.ok(cache.watch(kvs[1].modRevision, { onEvents: (evs) => got.push(...evs.map((e) => e.cur.obj.metadata.name!)), onError: () => undefined }, ac.signal));
  assert.deepEqual(got, ['p2', 'p3', 'p4']);
  // A revision from before the cache was loaded is outside its window.
  assert.equal(cache.watch(start - 1, { onEvents: () => undefined, onError: () => undefined }, ac.signal), false);
  ac.abort();
});

test('waitForRevision returns once the dispatcher has seen the revision', async () => {
  const cache = dispatcher.cacheFor('/registry/leases/');
  await dispatcher.start();
  await cache.start();
  const kv = await store.create('/registry/other/x', val('x'));
  // waitForRevision also returns at its deadline; the revision shows the dispatcher got there.
  await cache.waitForRevision(kv.modRevision);
  assert.ok(cache.revision >= kv.modRevision);
});
