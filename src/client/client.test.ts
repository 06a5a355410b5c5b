import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApi, type TestApi } from '../testing/api-harness.js';
import { Client } from './client.js';
import { InformerFactory, byNamespace } from './informer.js';
import { LeaderElector } from './leader-election.js';
import { R } from './resources.js';
import { ApiError, isNotFound } from './transport.js';
import { WorkQueue, runWorkers } from './workqueue.js';

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('client machinery', () => {
  let api: TestApi;
  let c: Client;
  before(async () => {
    api = await startTestApi();
    c = api.client('client-test');
  });
  after(() => api.stop());

  test('typed verbs round-trip and errors carry the Status', async () => {
    const cms = c.resource(R.configmaps);
    const made = await cms.create('default', { metadata: { name: 'a' }, data: { k: 'v' } });
    assert.equal(made.data.k, 'v');
    assert.equal(made.metadata.managedFields?.[0]?.manager, 'client-test');
    const patched = await cms.patch('default', 'a', 'merge', { data: { k: 'w' } });
    assert.equal(patched.data.k, 'w');
    await assert.rejects(cms.update({ ...made }), (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === 'Conflict');
    await cms.delete('default', 'a');
    await assert.rejects(cms.get('default', 'a'), isNotFound);
  });

  test('an informer lists, then follows adds, updates and deletes with indexes', async () => {
    const ac = new AbortController();
    const f = new InformerFactory(c);
    const inf = f.for(R.configmaps).addIndex('ns', byNamespace);
    const seen: string[] = [];
    inf.addEventHandler({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_o, n) => seen.push(`update ${n.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const cms = c.resource(R.configmaps);
    await cms.create('default', { metadata: { name: 'pre' } });
    f.start(ac.signal);
    await f.waitForSync();
    assert.ok(inf.indexer.getByName('default', 'pre'));
    await cms.create('kube-public', { metadata: { name: 'b' } });
    await cms.patch('kube-public', 'b', 'merge', { data: { x: '1' } });
    await cms.delete('default', 'pre');
    await until(() => seen.includes('delete pre') && seen.includes('update b'));
    assert.deepEqual(inf.indexer.byIndex('ns', 'kube-public').map((o) => o.metadata.name).filter((n) => n === 'b'), ['b']);
    assert.equal(inf.indexer.getByName('default', 'pre'), undefined);
    ac.abort();
  });

  test('the work queue never hands one key to two workers and re-queues changes', async () => {
    const q = new WorkQueue<string>();
    let active = 0;
    let maxActive = 0;
    const runs: string[] = [];
    const done = runWorkers(q, 4, async (k) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push(k);
      if (runs.length === 1) q.add('x'); // changed while processing
      await new Promise((r) => setTimeout(r, 5));
      active--;
    });
    q.add('x');
    q.add('x');
    await until(() => runs.length >= 2);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(runs, ['x', 'x']);
    assert.equal(maxActive, 1);
    q.shutdown();
    await done;
  });

  test('failed items are retried with backoff', async () => {
    const q = new WorkQueue<string>({ baseDelayMs: 1 });
    let tries = 0;
    const done = runWorkers(q, 1, async () => {
      if (++tries < 3) throw new Error('again');
    });
    q.add('k');
    await until(() => tries === 3);
    q.shutdown();
    await done;
    assert.equal(q.numRequeues('k'), 0);
  });

  test('leader election: one of two candidates leads; the other takes over when it stops', async () => {
    const led: string[] = [];
    const mk = (id: string) =>
      new LeaderElector(c, { name: 'test-lock', identity: id, leaseDurationMs: 1000, retryPeriodMs: 100, renewDeadlineMs: 800, onStartedLeading: () => led.push(id) });
    const a = mk('a');
    const b = mk('b');
    const sa = new AbortController();
    const sb = new AbortController();
    void a.run(sa.signal);
    await until(() => a.isLeader);
    void b.run(sb.signal);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.isLeader, false);
    sa.abort();
    await until(() => b.isLeader, 5000);
    assert.deepEqual(led, ['a', 'b']);
    const lease = await c.resource(R.leases).get('kube-system', 'test-lock');
    assert.equal(lease.spec.holderIdentity, 'b');
    assert.equal(lease.spec.leaseTransitions, 1);
    sb.abort();
  });
});
