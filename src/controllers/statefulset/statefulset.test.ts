import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { StatefulSetController } from './statefulset.js';

/** The shared poller, with the description first as these tests read best. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, ms?: number) => eventually(fn, what, ms) as Promise<T>;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setSpec(name: string, opts: { replicas?: number; parallel?: boolean; claims?: boolean; image?: string } = {}): KubeObject {
  return {
    metadata: { name },
    spec: {
      replicas: opts.replicas ?? 3,
      serviceName: name,
      podManagementPolicy: opts.parallel ? 'Parallel' : 'OrderedReady',
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: opts.image ?? 'nginx:1' }] } },
      volumeClaimTemplates: opts.claims
        ? [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }]
        : undefined,
    },
  };
}

describe('StatefulSet controller', () => {
  let cp: ControlPlane;
  let c: Client;
  const ns = 'default';

  before(async () => {
    cp = await startControlPlane([new StatefulSetController()], { workers: 2 });
    c = cp.client;
  });

  after(async () => {
    await cp.stop();
  });

  const pods = () => c.resource(R.pods);
  const getPod = async (name: string) => {
    try {
      return await pods().get(ns, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  const makeReady = (name: string) =>
    pods().patch(ns, name, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } }, { subresource: 'status' });
  const podNames = async (app: string) =>
    (await pods().list(ns, { labelSelector: `app=${app}` })).items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => p.metadata.name!)
      .sort();

  test('OrderedReady creates web-0, then web-1 only once web-0 is Ready, then web-2, each with its claim', async () => {
    await c.resource(R.statefulsets).create(ns, setSpec('web', { claims: true }));
    const web0 = await until('web-0', () => getPod('web-0'));
    assert.equal(web0.metadata.labels!['statefulset.kubernetes.io/pod-name'], 'web-0');
    assert.equal(web0.metadata.labels!['apps.kubernetes.io/pod-index'], '0');
    assert.match(web0.metadata.labels!['controller-revision-hash'], /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(web0.spec.hostname, 'web-0');
    assert.equal(web0.spec.subdomain, 'web');
    assert.deepEqual(
      web0.spec.volumes.find((v: { name: string }) => v.name === 'www'),
      { name: 'www', persistentVolumeClaim: { claimName: 'www-web-0' } },
    );
    assert.equal(web0.metadata.ownerReferences![0].kind, 'StatefulSet');
    const pvc = await c.resource(R.persistentvolumeclaims).get(ns, 'www-web-0');
    assert.equal(pvc.metadata.labels!.app, 'web');
    assert.equal(pvc.metadata.ownerReferences, undefined, 'Retain/Retain gives the claim no owners');

    await pause(300);
    assert.deepEqual(await podNames('web'), ['web-0'], 'web-1 waits for web-0 to be Ready');

    await makeReady('web-0');
    await until('web-1', () => getPod('web-1'));
    await pause(300);
    assert.deepEqual(await podNames('web'), ['web-0', 'web-1']);
    await makeReady('web-1');
    await until('web-2', () => getPod('web-2'));
    await makeReady('web-2');
    for (const n of ['www-web-1', 'www-web-2']) await c.resource(R.persistentvolumeclaims).get(ns, n);

    const set = await until('status', async () => {
      const s = await c.resource(R.statefulsets).get(ns, 'web');
      return s.status?.readyReplicas === 3 && s.status?.availableReplicas === 3 ? s : undefined;
    });
    assert.equal(set.status.replicas, 3);
    assert.equal(set.status.currentReplicas, 3);
    assert.equal(set.status.updatedReplicas, 3);
    assert.equal(set.status.currentRevision, set.status.updateRevision);
    assert.equal(set.status.currentRevision, web0.metadata.labels!['controller-revision-hash']);
    assert.equal(set.status.observedGeneration, set.metadata.generation);
    assert.equal(set.status.collisionCount, 0);
    const rev = await c.resource(R.controllerrevisions).get(ns, set.status.currentRevision);
    assert.equal(rev.revision, 1);
    assert.equal(rev.data.spec.template.$patch, 'replace');
    assert.equal(rev.metadata.ownerReferences![0].uid, set.metadata.uid);

    const events = await until('events', async () => {
      const ev = (await c.resource(R.events).list(ns)).items.filter((e) => e.involvedObject.name === 'web');
      return ev.length >= 6 ? ev : undefined;
    });
    const msgs = events.map((e) => `${e.reason}: ${e.message}`);
    assert.ok(msgs.includes('SuccessfulCreate: create Pod web-0 in StatefulSet web successful'), msgs.join('\n'));
    assert.ok(msgs.includes('SuccessfulCreate: create Claim www-web-0 Pod web-0 in StatefulSet web success'), msgs.join('\n'));
  });

  test('scaling from 3 to 2 deletes web-2 and keeps its claim', async () => {
    await c.resource(R.statefulsets).patch(ns, 'web', 'merge', { spec: { replicas: 2 } });
    await until('web-2 gone', async () => !(await getPod('web-2')));
    await pause(300);
    assert.deepEqual(await podNames('web'), ['web-0', 'web-1']);
    await c.resource(R.persistentvolumeclaims).get(ns, 'www-web-2');
    const ev = await until('delete event', async () => {
      const msgs = (await c.resource(R.events).list(ns)).items.filter((e) => e.involvedObject.name === 'web').map((e) => e.message);
      return msgs.includes('delete Pod web-2 in StatefulSet web successful') ? msgs : undefined;
    });
    assert.ok(!ev.includes('delete Pod web-1 in StatefulSet web successful'));
  });

  test('a partitioned rolling update replaces only ordinals >= partition, highest first, waiting for readiness', async () => {
    await c.resource(R.statefulsets).create(ns, setSpec('db'));
    for (const n of ['db-0', 'db-1', 'db-2']) {
      await until(n, () => getPod(n));
      await makeReady(n);
    }
    const before = await until('settled', async () => {
      const s = await c.resource(R.statefulsets).get(ns, 'db');
      return s.status?.readyReplicas === 3 ? s : undefined;
    });
    const oldRev = before.status.currentRevision;
    await c.resource(R.statefulsets).patch(ns, 'db', 'merge', {
      spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } }, template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } },
    });
    const newPod2 = await until('db-2 updated', async () => {
      const p = await getPod('db-2');
      return p && p.metadata.labels!['controller-revision-hash'] !== oldRev ? p : undefined;
    });
    const newRev = newPod2.metadata.labels!['controller-revision-hash'];
    assert.equal(newPod2.spec.containers[0].image, 'nginx:2');
    await pause(300);
    assert.equal((await getPod('db-1'))!.metadata.labels!['controller-revision-hash'], oldRev, 'db-1 waits for db-2 to be Ready');

    await makeReady('db-2');
    const newPod1 = await until('db-1 updated', async () => {
      const p = await getPod('db-1');
      return p && p.metadata.labels!['controller-revision-hash'] === newRev ? p : undefined;
    });
    assert.equal(newPod1.spec.containers[0].image, 'nginx:2');
    await makeReady('db-1');
    const s = await until('status', async () => {
      const x = await c.resource(R.statefulsets).get(ns, 'db');
      return x.status?.updatedReplicas === 2 && x.status?.readyReplicas === 3 ? x : undefined;
    });
    await pause(300);
    const p0 = (await getPod('db-0'))!;
    assert.equal(p0.metadata.labels!['controller-revision-hash'], oldRev, 'below the partition stays');
    assert.equal(p0.spec.containers[0].image, 'nginx:1');
    assert.equal(s.status.currentRevision, oldRev);
    assert.equal(s.status.updateRevision, newRev);
    assert.equal(s.status.currentReplicas, 1);
    const rev = await c.resource(R.controllerrevisions).get(ns, newRev);
    assert.equal(rev.revision, 2);

    // Lifting the partition finishes the rollout, and the update revision becomes current.
    await c.resource(R.statefulsets).patch(ns, 'db', 'merge', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } });
    await until('db-0 updated', async () => {
      const p = await getPod('db-0');
      return p && p.metadata.labels!['controller-revision-hash'] === newRev;
    });
    await makeReady('db-0');
    await until('rollout complete', async () => {
      const x = await c.resource(R.statefulsets).get(ns, 'db');
      return x.status?.currentRevision === newRev && x.status?.currentReplicas === 3;
    });
  });

  test('OnDelete leaves pods alone until they are deleted', async () => {
    await c.resource(R.statefulsets).create(ns, { ...setSpec('od', { parallel: true, replicas: 2 }), spec: { ...setSpec('od', { parallel: true, replicas: 2 }).spec, updateStrategy: { type: 'OnDelete' } } });
    await until('2 pods', async () => (await podNames('od')).length === 2);
    for (const n of ['od-0', 'od-1']) await makeReady(n);
    await c.resource(R.statefulsets).patch(ns, 'od', 'merge', { spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2' }] } } } });
    await until('new update revision', async () => {
      const s = await c.resource(R.statefulsets).get(ns, 'od');
      return s.status?.updateRevision && s.status.updateRevision !== s.status.currentRevision;
    });
    await pause(300);
    assert.equal((await getPod('od-1'))!.spec.containers[0].image, 'nginx:1');
    await pods().delete(ns, 'od-1');
    await until('od-1 recreated at the new template', async () => (await getPod('od-1'))?.spec.containers[0].image === 'nginx:2');
    assert.equal((await getPod('od-0'))!.spec.containers[0].image, 'nginx:1');
  });

  test('Parallel creates every pod at once', async () => {
    await c.resource(R.statefulsets).create(ns, setSpec('par', { parallel: true, claims: true }));
    await until('3 pods', async () => (await podNames('par')).length === 3);
    for (const n of ['www-par-0', 'www-par-1', 'www-par-2']) await c.resource(R.persistentvolumeclaims).get(ns, n);
  });

  test('whenScaled=Delete gives a condemned pod ownership of its claim; whenDeleted=Delete gives it to the set', async () => {
    const spec = setSpec('ret', { parallel: true, replicas: 2, claims: true });
    spec.spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Delete', whenScaled: 'Delete' };
    const set = await c.resource(R.statefulsets).create(ns, spec);
    const claim = await until('claim owned by set', async () => {
      const x = await c.resource(R.persistentvolumeclaims).get(ns, 'www-ret-1');
      return x.metadata.ownerReferences?.length ? x : undefined;
    });
    assert.equal(claim.metadata.ownerReferences![0].uid, set.metadata.uid);
    assert.equal(claim.metadata.ownerReferences![0].controller, true);
    for (const n of ['ret-0', 'ret-1']) await makeReady(n);
    const pod1 = (await getPod('ret-1'))!;
    await c.resource(R.statefulsets).patch(ns, 'ret', 'merge', { spec: { replicas: 1 } });
    await until('ret-1 gone', async () => !(await getPod('ret-1')));
    const after = await c.resource(R.persistentvolumeclaims).get(ns, 'www-ret-1');
    assert.deepEqual(
      after.metadata.ownerReferences!.map((r: { kind: string; uid: string }) => [r.kind, r.uid]),
      [['Pod', pod1.metadata.uid]],
    );
  });

  test('ordinals.start numbers pods from the start ordinal; minReadySeconds holds back the next pod until the last is available', async () => {
    const spec = setSpec('ord', { replicas: 2 });
    spec.spec.ordinals = { start: 5 };
    spec.spec.minReadySeconds = 2;
    await c.resource(R.statefulsets).create(ns, spec);
    const p5 = await until('ord-5', () => getPod('ord-5'));
    assert.equal(p5.metadata.labels!['apps.kubernetes.io/pod-index'], '5');
    await makeReady('ord-5');
    await pause(300);
    assert.deepEqual(await podNames('ord'), ['ord-5'], 'ready but not yet available for minReadySeconds');
    const s = await until('ready, not available', async () => {
      const x = await c.resource(R.statefulsets).get(ns, 'ord');
      return x.status?.readyReplicas === 1 ? x : undefined;
    });
    assert.equal(s.status.availableReplicas, 0);
    await until('ord-6', () => getPod('ord-6'), 5000);
    assert.equal(await getPod('ord-0'), undefined);
  });
});
