import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { ApiError } from '../../client/transport.js';
import { ControllerExpectations } from './expectations.js';
import { ReplicaSetController, ReplicationManager, slowStartBatch } from './controller.js';
import { podsToDelete } from './pods.js';
import { eventsFor, eventually, listPods, markReady, podTemplate, startControllers, type ControllerEnv } from './test-env.js';

const NS = 'default';
const owned = (pods: KubeObject[], uid: string) => pods.filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === uid && r.controller));

describe('ReplicaSet controller', () => {
  let env: ControllerEnv;
  // Stands in for quota admission (not part of this API server): pod creates fail while `quota` is set.
  let quota = false;
  const fault = (method: string, path: string) =>
    quota && method === 'POST' && path === '/api/v1/namespaces/default/pods'
      ? new ApiError(403, { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'pods "blocked-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0' })
      : undefined;
  before(async () => {
    env = await startControllers([new ReplicaSetController(), new ReplicationManager()], {}, fault);
  });
  after(() => env.stop());

  test('creates pods to match spec.replicas, then deletes the surplus', async () => {
    const rsc = env.client.resource(R.replicasets);
    const rs = await rsc.create(NS, { metadata: { name: 'web' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: podTemplate({ app: 'web' }) } });
    const pods = await eventually(async () => {
      const ps = owned(await listPods(env.client, NS, 'app=web'), rs.metadata.uid!);
      return ps.length === 3 && ps;
    }, '3 pods');
    for (const p of pods) {
      assert.match(p.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      assert.equal(p.spec.containers[0].image, 'nginx:1');
    }
    // Two pods become ready: status follows.
    await markReady(env.client, pods[0]!);
    await markReady(env.client, pods[1]!);
    await eventually(async () => {
      const s = (await rsc.get(NS, 'web')).status;
      return s?.replicas === 3 && s.readyReplicas === 2 && s.availableReplicas === 2 && s.fullyLabeledReplicas === 3 && s.observedGeneration === 1;
    }, 'status 3/2/2');
    const ev = await eventually(async () => {
      const es = (await eventsFor(env.client, NS, 'web')).filter((e) => e.reason === 'SuccessfulCreate');
      return es.length === 3 && es;
    }, 'create events');
    assert.ok(ev.every((e) => /^Created pod: web-/.test(e.message) && e.source.component === 'replicaset-controller'));

    // Scale to 1: the two deleted pods are the not-ready one first, then a ready one.
    await rsc.patch(NS, 'web', 'merge', { spec: { replicas: 1 } });
    const left = await eventually(async () => {
      const ps = owned(await listPods(env.client, NS, 'app=web'), rs.metadata.uid!);
      return ps.length === 1 && ps;
    }, '1 pod');
    assert.ok([pods[0]!.metadata.name, pods[1]!.metadata.name].includes(left[0]!.metadata.name), 'a ready pod is kept');
    await eventually(async () => {
      const s = (await rsc.get(NS, 'web')).status;
      return s?.replicas === 1 && s.observedGeneration === 2;
    }, 'status 1');
    await eventually(async () => (await eventsFor(env.client, NS, 'web')).filter((e) => e.reason === 'SuccessfulDelete' && /^Deleted pod: web-/.test(e.message)).length === 2, 'delete events');
  });

  test('adopts a matching orphan instead of creating, and releases a relabelled pod', async () => {
    const pc = env.client.resource(R.pods);
    await pc.create(NS, { metadata: { name: 'orphan', labels: { app: 'adopt' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    const rsc = env.client.resource(R.replicasets);
    const rs = await rsc.create(NS, { metadata: { name: 'adopter' }, spec: { replicas: 2, selector: { matchLabels: { app: 'adopt' } }, template: podTemplate({ app: 'adopt' }) } });
    await eventually(async () => owned(await listPods(env.client, NS, 'app=adopt'), rs.metadata.uid!).length === 2, '2 owned pods');
    const orphan = await pc.get(NS, 'orphan');
    assert.equal(orphan.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid, 'orphan adopted');
    assert.equal(orphan.metadata.ownerReferences?.[0]?.controller, true);
    assert.equal((await listPods(env.client, NS, 'app=adopt')).length, 2, 'only one pod created');

    // Relabel the adopted pod: it is released and replaced.
    await pc.patch(NS, 'orphan', 'merge', { metadata: { labels: { app: 'other' } } });
    await eventually(async () => !(await pc.get(NS, 'orphan')).metadata.ownerReferences?.length, 'released');
    await eventually(async () => owned(await listPods(env.client, NS, 'app=adopt'), rs.metadata.uid!).length === 2, 'replacement');
  });

  test('a create error sets ReplicaFailure and a FailedCreate event; it clears once creates work', async () => {
    quota = true;
    const rsc = env.client.resource(R.replicasets);
    await rsc.create(NS, { metadata: { name: 'blocked' }, spec: { replicas: 1, selector: { matchLabels: { app: 'blocked' } }, template: podTemplate({ app: 'blocked' }) } });
    const cond = await eventually(async () => (await rsc.get(NS, 'blocked')).status?.conditions?.find((c: { type: string }) => c.type === 'ReplicaFailure'), 'ReplicaFailure');
    assert.equal(cond.status, 'True');
    assert.equal(cond.reason, 'FailedCreate');
    assert.match(cond.message, /forbidden|quota/);
    await eventually(async () => (await eventsFor(env.client, NS, 'blocked')).some((e) => e.reason === 'FailedCreate' && e.type === 'Warning' && e.message.startsWith('Error creating: ')), 'FailedCreate event');
    quota = false;
    await eventually(async () => {
      const s = (await rsc.get(NS, 'blocked')).status;
      return s?.replicas === 1 && !s.conditions?.some((c: { type: string }) => c.type === 'ReplicaFailure');
    }, 'recovered', 20_000);
  });

  test('a ReplicationController keeps its pods the same way', async () => {
    const rcc = env.client.resource(R.replicationcontrollers);
    const rc = await rcc.create(NS, { metadata: { name: 'legacy' }, spec: { replicas: 2, selector: { app: 'legacy' }, template: podTemplate({ app: 'legacy' }) } });
    const pods = await eventually(async () => {
      const ps = owned(await listPods(env.client, NS, 'app=legacy'), rc.metadata.uid!);
      return ps.length === 2 && ps;
    }, '2 pods');
    assert.equal(pods[0]!.metadata.ownerReferences?.[0]?.kind, 'ReplicationController');
    assert.equal(pods[0]!.metadata.ownerReferences?.[0]?.apiVersion, 'v1');
    await eventually(async () => (await rcc.get(NS, 'legacy')).status?.replicas === 2, 'rc status');
    await eventually(async () => (await eventsFor(env.client, NS, 'legacy')).some((e) => e.reason === 'SuccessfulCreate' && e.source.component === 'replication-controller'), 'rc event');
  });
});

describe('replica set helpers', () => {
  test('slow start: batches of 1, 2, 4, ... and stop after the first failing batch', async () => {
    const trace: string[] = [];
    let n = 0;
    const fn = async () => {
      const i = ++n;
      trace.push('s');
      await new Promise((r) => setImmediate(r));
      trace.push('d');
      if (i === 5) throw new Error('boom');
    };
    const runs = () => trace.join('').split('d').filter(Boolean).map((x) => x.length);
    const r = await slowStartBatch(10, 1, fn);
    assert.deepEqual(runs(), [1, 2, 4], 'batch sizes');
    assert.equal(r.successes, 6);
    assert.equal((r.error as Error).message, 'boom');
    trace.length = 0;
    n = 100;
    assert.deepEqual(await slowStartBatch(10, 1, fn), { successes: 10 });
    assert.deepEqual(runs(), [1, 2, 4, 3]);
  });

  test('deletion order: unscheduled, pending, not ready, then newer first', () => {
    const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
    const mk = (name: string, o: { node?: string; phase?: string; ready?: boolean; created?: number; cost?: string }): KubeObject => ({
      metadata: { name, uid: name, creationTimestamp: t(o.created ?? 0), annotations: o.cost ? { 'controller.kubernetes.io/pod-deletion-cost': o.cost } : undefined },
      spec: { nodeName: o.node },
      status: { phase: o.phase ?? 'Running', conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }] },
    });
    const now = Date.UTC(2030, 0, 1);
    const pods = [
      mk('ready-old', { node: 'n1', ready: true, created: 0 }),
      mk('unscheduled', { phase: 'Pending' }),
      mk('running-notready', { node: 'n1' }),
      mk('pending', { node: 'n1', phase: 'Pending' }),
      mk('ready-costly', { node: 'n1', ready: true, created: 0, cost: '100' }),
    ];
    assert.deepEqual(podsToDelete(pods, [], 4, now).map((p) => p.metadata.name), ['unscheduled', 'pending', 'running-notready', 'ready-old']);
    // Newer first among otherwise-equal pods (creation times far apart, so different log2 buckets).
    const young = mk('young', { node: 'n', ready: true, created: 0 });
    young.metadata.creationTimestamp = new Date(now - 1000).toISOString();
    const old = mk('old', { node: 'n', ready: true });
    assert.deepEqual(podsToDelete([old, young], [], 1, now).map((p) => p.metadata.name), ['young']);
  });

  test('expectations: satisfied only when creates and expected deletes are observed', () => {
    const e = new ControllerExpectations();
    assert.ok(e.satisfied('a'));
    e.expectCreations('a', 2);
    assert.ok(!e.satisfied('a'));
    e.creationObserved('a');
    assert.ok(!e.satisfied('a'));
    e.creationObserved('a');
    assert.ok(e.satisfied('a'));
    e.expectDeletions('a', ['ns/p1']);
    e.deletionObserved('a', 'ns/other');
    assert.ok(!e.satisfied('a'));
    e.deletionObserved('a', 'ns/p1');
    e.deletionObserved('a', 'ns/p1');
    assert.ok(e.satisfied('a'));
  });
});
