import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { InformerFactory } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { selectorFromObject } from '../../machinery/labels.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { computeTemplateHash, fnv32, fnv32a, safeEncodeString, stableStringify } from './hash.js';
import { History, controllerRevisionName, equalRevision, hashControllerRevision, newControllerRevision, nextRevision, sortControllerRevisions } from './history.js';

describe('revision hashing', () => {
  test('FNV-1 and FNV-1a match the reference vectors', () => {
    assert.equal(fnv32(''), 0x811c9dc5);
    assert.equal(fnv32('a'), 0x050c5d7e);
    assert.equal(fnv32('foobar'), 0x31f0b262);
    assert.equal(fnv32a('a'), 0xe40c292c);
    assert.equal(fnv32a('foobar'), 0xbf9cf968);
  });

  test('safe encoding maps digits into the consonant alphabet', () => {
    assert.equal(safeEncodeString('0123456789'), '456789bcdf');
    assert.match(hashControllerRevision({ a: 1 }), /^[456789bcdf]+$/);
  });

  test('stable JSON sorts keys at every level and escapes HTML as Go does', () => {
    assert.equal(stableStringify({ b: 1, a: { d: [1, { z: 1, y: '<&>' }], c: null } }), '{"a":{"c":null,"d":[1,{"y":"\\u003c\\u0026\\u003e","z":1}]},"b":1}');
  });

  test('the collision count changes the hash; equal data hashes equal', () => {
    const data = { spec: { template: { spec: { containers: [{ name: 'c' }] } } } };
    assert.equal(hashControllerRevision(data, 0), hashControllerRevision(structuredClone(data), 0));
    assert.notEqual(hashControllerRevision(data, 0), hashControllerRevision(data, 1));
    assert.notEqual(computeTemplateHash(data, 0), computeTemplateHash(data, 1));
    assert.equal(controllerRevisionName('x'.repeat(300), 'h'), `${'x'.repeat(223)}-h`);
  });

  test('revisions sort by number, then age, then name; equality is by data', () => {
    const r = (name: string, revision: number, data: unknown, at = '2024-01-01T00:00:00Z'): KubeObject => ({ metadata: { name, creationTimestamp: at }, revision, data });
    const sorted = sortControllerRevisions([r('c', 2, 1), r('b', 1, 1, '2024-01-02T00:00:00Z'), r('a', 1, 1, '2024-01-02T00:00:00Z'), r('z', 1, 1)]);
    assert.deepEqual(sorted.map((x) => x.metadata.name), ['z', 'a', 'b', 'c']);
    assert.equal(nextRevision(sorted), 3);
    assert.equal(nextRevision([]), 1);
    assert.ok(equalRevision(r('a', 1, { x: [1] }), r('b', 5, { x: [1] })));
    assert.ok(!equalRevision(r('a', 1, { x: [1] }), r('b', 1, { x: [2] })));
  });
});

describe('History against the API', () => {
  let api: TestApi;
  let c: Client;
  const ac = new AbortController();
  before(async () => {
    api = await startTestApi();
    c = api.client('test');
  });
  after(async () => {
    ac.abort();
    await api.stop();
  });

  test('a name taken by other data bumps the collision count; taken by equal data returns the existing revision', async () => {
    const parent = await c.resource(R.statefulsets).create('default', {
      metadata: { name: 'h' },
      spec: { selector: { matchLabels: { app: 'h' } }, template: { metadata: { labels: { app: 'h' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    });
    const kind = { apiVersion: 'apps/v1', kind: 'StatefulSet' };
    const data = { spec: { template: { metadata: { labels: { app: 'h' } }, $patch: 'replace' } } };
    const rev = newControllerRevision(parent, kind, { app: 'h' }, data, 1, 0);
    // Squat the name with different data.
    await c.resource(R.controllerrevisions).create('default', { metadata: { name: rev.metadata.name, labels: { app: 'other' } }, data: { other: true }, revision: 1 });
    const informers = new InformerFactory(c);
    const history = new History(c, informers.for(R.controllerrevisions));
    informers.start(ac.signal);
    await informers.waitForSync();

    const collision = { count: 0 };
    const made = await history.create(parent, rev, collision);
    assert.equal(collision.count, 1);
    assert.equal(made.metadata.name, controllerRevisionName('h', hashControllerRevision(data, 1)));
    assert.notEqual(made.metadata.name, rev.metadata.name);

    const again = await history.create(parent, rev, { count: 1 });
    assert.equal(again.metadata.uid, made.metadata.uid);

    // Listing sees only revisions matching the selector owned by the parent or nobody.
    const sel = selectorFromObject({ matchLabels: { app: 'h' } });
    const deadline = Date.now() + 5000;
    while (!history.list(parent, sel).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(history.list(parent, sel).map((r) => r.metadata.name), [made.metadata.name]);
    const renumbered = await history.updateRevision(made, 7);
    assert.equal(renumbered.revision, 7);
  });
});
