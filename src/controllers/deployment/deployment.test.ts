import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { ReplicaSetController } from '../replicaset/controller.js';
import { isPodReady } from '../replicaset/pods.js';
import { eventsFor, eventually, listPods, markReady, podTemplate, startControllers, type ControllerEnv } from '../replicaset/test-env.js';
import { DeploymentController } from './controller.js';
import { computeHash, fnv32a, getProportion, maxSurge, maxUnavailable, safeEncode } from './util.js';

const NS = 'default';

/** Plays kubelet: marks pods Ready as they appear, for pods the predicate accepts. */
function kubelet(client: Client, accept: (p: KubeObject) => boolean = () => true): { stop(): void } {
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        for (const p of await listPods(client, NS)) {
          if (!p.metadata.deletionTimestamp && !isPodReady(p) && accept(p)) await markReady(client, p).catch(() => undefined);
        }
      } catch {
        // API stopping.
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return { stop: () => void (stopped = true) };
}

const rsOf = async (client: Client, app: string) => (await client.resource(R.replicasets).list(NS, { labelSelector: `app=${app}` })).items;
const deploy = (name: string, replicas: number, extra: Record<string, unknown> = {}, image = 'img:a') => ({
  metadata: { name },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate({ app: name }, image), ...extra },
});
const setImage = (client: Client, name: string, image: string) =>
  client.resource(R.deployments).patch(NS, name, 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image }] } } } });

async function rolledOut(client: Client, name: string, replicas: number): Promise<KubeObject> {
  return eventually(async () => {
    const d = await client.resource(R.deployments).get(NS, name);
    const s = d.status ?? {};
    const p = s.conditions?.find((c: { type: string }) => c.type === 'Progressing');
    return s.observedGeneration === d.metadata.generation && s.updatedReplicas === replicas && s.replicas === replicas && s.availableReplicas === replicas && p?.reason === 'NewReplicaSetAvailable' && d;
  }, `${name} rolled out`, 20_000);
}

describe('Deployment controller', () => {
  let env: ControllerEnv;
  before(async () => {
    env = await startControllers([new ReplicaSetController(), new DeploymentController()]);
  });
  after(() => env.stop());

  test('rolling update keeps ready pods >= replicas - maxUnavailable and pods <= replicas + maxSurge', async () => {
    const k = kubelet(env.client);
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('roll', 4, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } }));
      const d1 = await rolledOut(env.client, 'roll', 4);
      assert.equal(d1.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
      const [rsA] = await rsOf(env.client, 'roll');
      assert.ok(rsA);
      const hashA = rsA.metadata.labels!['pod-template-hash'];
      assert.equal(rsA.metadata.name, `roll-${hashA}`);
      assert.equal(rsA.spec.selector.matchLabels['pod-template-hash'], hashA);
      assert.equal(rsA.spec.template.metadata.labels['pod-template-hash'], hashA);
      assert.equal(rsA.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], '4');
      assert.equal(rsA.metadata.annotations!['deployment.kubernetes.io/max-replicas'], '5');

      await setImage(env.client, 'roll', 'img:b');
      let minReady = Infinity;
      let maxTotal = 0;
      await eventually(async () => {
        const pods = (await listPods(env.client, NS, 'app=roll')).filter((p) => !p.metadata.deletionTimestamp);
        minReady = Math.min(minReady, pods.filter(isPodReady).length);
        maxTotal = Math.max(maxTotal, pods.length);
        const d = await dc.get(NS, 'roll');
        const s = d.status ?? {};
        return s.observedGeneration === d.metadata.generation && s.updatedReplicas === 4 && s.replicas === 4 && s.availableReplicas === 4 && pods.length === 4 && pods.every((p) => p.spec.containers[0].image === 'img:b');
      }, 'rollout to B', 30_000);
      assert.ok(minReady >= 3, `ready pods went down to ${minReady}`);
      assert.ok(maxTotal <= 5, `pods went up to ${maxTotal}`);
      const d2 = await rolledOut(env.client, 'roll', 4);
      assert.equal(d2.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
      const rss = await rsOf(env.client, 'roll');
      assert.equal(rss.length, 2);
      const old = rss.find((r) => r.metadata.name === rsA.metadata.name)!;
      assert.equal(old.spec.replicas, 0);
      const evs = (await eventsFor(env.client, NS, 'roll')).filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
      assert.ok(evs.includes(`Scaled up replica set ${rsA.metadata.name} from 0 to 4`), evs.join('\n'));
      assert.ok(evs.some((m) => m === `Scaled down replica set ${rsA.metadata.name} from 4 to 3`), evs.join('\n'));
      const avail = d2.status.conditions.find((c: { type: string }) => c.type === 'Available');
      assert.equal(avail.reason, 'MinimumReplicasAvailable');
    } finally {
      k.stop();
    }
  });

  test('undo by setting the template back reuses the old replica set and bumps its revision', async () => {
    const k = kubelet(env.client);
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('undo', 2));
      await rolledOut(env.client, 'undo', 2);
      const [rsA] = await rsOf(env.client, 'undo');
      await setImage(env.client, 'undo', 'img:b');
      await eventually(async () => (await dc.get(NS, 'undo')).metadata.annotations?.['deployment.kubernetes.io/revision'] === '2', 'revision 2');
      await rolledOut(env.client, 'undo', 2);
      // kubectl rollout undo: the Deployment's template becomes the old RS's template (without the hash label).
      const tmpl = structuredClone(rsA!.spec.template);
      delete tmpl.metadata.labels['pod-template-hash'];
      const cur = await dc.get(NS, 'undo');
      await dc.update({ ...cur, spec: { ...cur.spec, template: tmpl } });
      const d = await eventually(async () => {
        const x = await dc.get(NS, 'undo');
        return x.metadata.annotations?.['deployment.kubernetes.io/revision'] === '3' && x;
      }, 'revision 3');
      assert.ok(d);
      await rolledOut(env.client, 'undo', 2);
      const rss = await rsOf(env.client, 'undo');
      assert.equal(rss.length, 2, 'no new replica set');
      const a = rss.find((r) => r.metadata.uid === rsA!.metadata.uid)!;
      assert.equal(a.spec.replicas, 2);
      assert.equal(a.metadata.annotations!['deployment.kubernetes.io/revision'], '3');
      assert.equal(a.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    } finally {
      k.stop();
    }
  });

  test('Recreate scales the old replica set to 0 and waits for its pods before the new one', async () => {
    const k = kubelet(env.client);
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('recreate', 3, { strategy: { type: 'Recreate' } }));
      await rolledOut(env.client, 'recreate', 3);
      await setImage(env.client, 'recreate', 'img:b');
      let overlap = false;
      await eventually(async () => {
        const pods = await listPods(env.client, NS, 'app=recreate');
        const a = pods.filter((p) => p.spec.containers[0].image === 'img:a').length;
        const b = pods.filter((p) => p.spec.containers[0].image === 'img:b').length;
        if (a > 0 && b > 0) overlap = true;
        return a === 0 && b === 3;
      }, 'recreated', 20_000);
      assert.equal(overlap, false, 'old and new pods never coexist');
      await rolledOut(env.client, 'recreate', 3);
    } finally {
      k.stop();
    }
  });

  test('revisionHistoryLimit removes the oldest scaled-down replica sets', async () => {
    const k = kubelet(env.client);
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('hist', 1, { revisionHistoryLimit: 1 }));
      await rolledOut(env.client, 'hist', 1);
      const [rsA] = await rsOf(env.client, 'hist');
      await setImage(env.client, 'hist', 'img:b');
      await eventually(async () => (await dc.get(NS, 'hist')).metadata.annotations?.['deployment.kubernetes.io/revision'] === '2', 'revision 2');
      await rolledOut(env.client, 'hist', 1);
      await setImage(env.client, 'hist', 'img:c');
      await eventually(async () => (await dc.get(NS, 'hist')).metadata.annotations?.['deployment.kubernetes.io/revision'] === '3', 'revision 3');
      await rolledOut(env.client, 'hist', 1);
      const rss = await eventually(async () => {
        const x = await rsOf(env.client, 'hist');
        return x.length === 2 && x;
      }, 'two replica sets left');
      assert.ok(!rss.some((r) => r.metadata.uid === rsA!.metadata.uid), 'the oldest was removed');
    } finally {
      k.stop();
    }
  });

  test('a paused deployment does not roll out; resuming does', async () => {
    const k = kubelet(env.client);
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('paused', 2));
      await rolledOut(env.client, 'paused', 2);
      await dc.patch(NS, 'paused', 'merge', { spec: { paused: true } });
      await setImage(env.client, 'paused', 'img:b');
      const d = await eventually(async () => {
        const x = await dc.get(NS, 'paused');
        const p = x.status?.conditions?.find((c: { type: string }) => c.type === 'Progressing');
        return x.status?.observedGeneration === x.metadata.generation && p?.reason === 'DeploymentPaused' && x;
      }, 'paused observed');
      assert.equal(d.status.conditions.find((c: { type: string }) => c.type === 'Progressing').status, 'Unknown');
      // Scaling still works while paused.
      await dc.patch(NS, 'paused', 'merge', { spec: { replicas: 3 } });
      await eventually(async () => {
        const x = await dc.get(NS, 'paused');
        return x.status?.observedGeneration === x.metadata.generation && x.status?.replicas === 3;
      }, 'scaled while paused');
      const rss = await rsOf(env.client, 'paused');
      assert.equal(rss.length, 1, 'no new replica set while paused');
      assert.ok((await listPods(env.client, NS, 'app=paused')).every((p) => p.spec.containers[0].image === 'img:a'));
      await dc.patch(NS, 'paused', 'merge', { spec: { paused: false } });
      await rolledOut(env.client, 'paused', 3);
      assert.equal((await rsOf(env.client, 'paused')).length, 2);
    } finally {
      k.stop();
    }
  });

  test('progress deadline: Progressing=False ProgressDeadlineExceeded when pods never become ready', async () => {
    const dc = env.client.resource(R.deployments);
    await dc.create(NS, deploy('stuck', 1, { progressDeadlineSeconds: 1 }));
    const d = await eventually(async () => {
      const x = await dc.get(NS, 'stuck');
      const p = x.status?.conditions?.find((c: { type: string }) => c.type === 'Progressing');
      return p?.reason === 'ProgressDeadlineExceeded' && x;
    }, 'deadline exceeded', 15_000);
    const [rs] = await rsOf(env.client, 'stuck');
    const p = d.status.conditions.find((c: { type: string }) => c.type === 'Progressing');
    assert.equal(p.status, 'False');
    assert.equal(p.message, `ReplicaSet "${rs!.metadata.name}" has timed out progressing.`);
    const a = d.status.conditions.find((c: { type: string }) => c.type === 'Available');
    assert.equal(a.status, 'False');
    assert.equal(a.reason, 'MinimumReplicasUnavailable');
    assert.equal(d.status.unavailableReplicas, 1);
  });

  test('scaling mid-rollout spreads the new replicas proportionally', async () => {
    // Only the first template's pods ever become ready, so the rollout stalls at old 8 / new 5.
    const k = kubelet(env.client, (p) => p.spec.containers[0].image === 'img:a');
    try {
      const dc = env.client.resource(R.deployments);
      await dc.create(NS, deploy('prop', 10, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }));
      await rolledOut(env.client, 'prop', 10);
      const [rsA] = await rsOf(env.client, 'prop');
      await setImage(env.client, 'prop', 'img:b');
      const sizes = async () => {
        const rss = await rsOf(env.client, 'prop');
        const a = rss.find((r) => r.metadata.uid === rsA!.metadata.uid);
        const b = rss.find((r) => r.metadata.uid !== rsA!.metadata.uid);
        return [a?.spec.replicas, b?.spec.replicas];
      };
      await eventually(async () => JSON.stringify(await sizes()) === '[8,5]', 'stalled at 8/5');
      await dc.patch(NS, 'prop', 'merge', { spec: { replicas: 15 } });
      // allowed 15+3=18, 5 to add: old round(8*18/13)-8=3, new the remaining 2.
      await eventually(async () => JSON.stringify(await sizes()) === '[11,7]', 'proportional 11/7');
    } finally {
      k.stop();
    }
  });
});

describe('deployment helpers', () => {
  test('FNV-32a and the safe encoding', () => {
    assert.equal(fnv32a(new Uint8Array()), 0x811c9dc5);
    assert.equal(fnv32a(new TextEncoder().encode('a')), 0xe40c292c);
    assert.equal(safeEncode('0123456789'), '456789bcdf');
    const h = computeHash({ metadata: { labels: { app: 'x' } } });
    assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.notEqual(computeHash({ metadata: { labels: { app: 'x' } } }, 1), h, 'collisionCount changes the hash');
    assert.equal(computeHash({ b: 1, a: 2 }), computeHash({ a: 2, b: 1 }), 'key order does not matter');
  });

  test('surge rounds up, unavailable rounds down', () => {
    const d = (replicas: number, ru: object) => ({ metadata: {}, spec: { replicas, strategy: { type: 'RollingUpdate', rollingUpdate: ru } } });
    assert.equal(maxSurge(d(10, { maxSurge: '25%', maxUnavailable: '25%' })), 3);
    assert.equal(maxUnavailable(d(10, { maxSurge: '25%', maxUnavailable: '25%' })), 2);
    assert.equal(maxUnavailable(d(1, { maxSurge: '25%', maxUnavailable: '25%' })), 0);
    assert.equal(maxSurge(d(1, { maxSurge: '25%', maxUnavailable: '25%' })), 1);
    assert.equal(maxUnavailable(d(3, { maxSurge: 0, maxUnavailable: 0 })), 1, 'both zero means one unavailable');
    assert.equal(maxSurge({ metadata: {}, spec: { replicas: 3, strategy: { type: 'Recreate' } } }), 0);
  });

  test('proportions follow max-replicas', () => {
    const d = { metadata: {}, spec: { replicas: 15, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } } }, status: { replicas: 13 } };
    const rs = (n: number) => ({ metadata: { annotations: { 'deployment.kubernetes.io/max-replicas': '13' } }, spec: { replicas: n } });
    assert.equal(getProportion(rs(8), d, 5, 0), 3);
    assert.equal(getProportion(rs(5), d, 5, 3), 2);
    assert.equal(getProportion(rs(0), d, 5, 0), 0);
  });
});
