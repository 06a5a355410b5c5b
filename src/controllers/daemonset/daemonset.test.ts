import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { DaemonSetController } from './daemonset.js';
import { nodeShouldRunDaemonPod, targetNodeName } from './scheduling.js';

/** The shared poller, with the description first as these tests read best. */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>, ms?: number) => eventually(fn, what, ms) as Promise<T>;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DaemonSet scheduling predicates', () => {
  const ds = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'd' }, spec: { template: { spec } } });
  const node = (labels: Record<string, string>, taints: unknown[] = []): KubeObject => ({ metadata: { name: 'n1', labels }, spec: { taints } });

  test('the automatic tolerations cover not-ready and unschedulable, not arbitrary taints', () => {
    assert.deepEqual(nodeShouldRunDaemonPod(node({}, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' }]), ds({})), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(node({}, [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }]), ds({})), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(node({}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]), ds({})), { shouldRun: false, shouldContinueRunning: true });
    assert.equal(nodeShouldRunDaemonPod(node({}, [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }]), ds({ hostNetwork: true })).shouldRun, true);
    assert.deepEqual(nodeShouldRunDaemonPod(node({}, [{ key: 'x', value: 'y', effect: 'NoExecute' }]), ds({})), { shouldRun: false, shouldContinueRunning: false });
    assert.equal(nodeShouldRunDaemonPod(node({}, [{ key: 'x', value: 'y', effect: 'NoExecute' }]), ds({ tolerations: [{ key: 'x', operator: 'Equal', value: 'y' }] })).shouldRun, true);
    assert.equal(nodeShouldRunDaemonPod(node({}, [{ key: 'x', value: 'y', effect: 'PreferNoSchedule' }]), ds({})).shouldRun, true);
  });

  test('required node affinity: terms are ORed, expressions ANDed, Gt compares integers', () => {
    const aff = (terms: unknown[]) => ds({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
    const d = aff([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'cpu', operator: 'Gt', values: ['4'] }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }]);
    assert.equal(nodeShouldRunDaemonPod({ metadata: { name: 'n2', labels: { zone: 'a', cpu: '8' } } }, d).shouldRun, true);
    assert.equal(nodeShouldRunDaemonPod({ metadata: { name: 'n2', labels: { zone: 'a', cpu: '2' } } }, d).shouldRun, false);
    assert.equal(nodeShouldRunDaemonPod({ metadata: { name: 'n1', labels: {} } }, d).shouldRun, true);
    assert.equal(nodeShouldRunDaemonPod({ metadata: { name: 'n1', labels: {} } }, aff([{}])).shouldRun, false);
  });
});

describe('DaemonSet controller', () => {
  let cp: ControlPlane;
  let c: Client;
  const ns = 'default';

  before(async () => {
    cp = await startControlPlane([new DaemonSetController()], { workers: 2 });
    c = cp.client;
    for (const [name, taints] of [
      ['node-a', []],
      ['node-b', []],
      ['node-c', [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]],
    ] as const) {
      await c.resource(R.nodes).create(undefined, { metadata: { name, labels: { 'kubernetes.io/hostname': name, role: 'worker' } }, spec: { taints } });
      await c.resource(R.nodes).patch(undefined, name, 'merge', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    }
  });

  after(async () => {
    await cp.stop();
  });

  const livePods = async (app: string) =>
    (await c.resource(R.pods).list(ns, { labelSelector: `app=${app}` })).items.filter((p) => !p.metadata.deletionTimestamp);
  const nodesOf = (pods: KubeObject[]) => pods.map((p) => targetNodeName(p)).sort();
  const makeReady = (name: string) =>
    c.resource(R.pods).patch(ns, name, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }] } }, { subresource: 'status' });
  const dsBody = (name: string, extra: Record<string, unknown> = {}) => ({
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'agent:1' }], ...extra } },
    },
  });

  test('one pod per node the pod tolerates, pinned by node affinity; a toleration adds the tainted node', async () => {
    await c.resource(R.daemonsets).create(ns, dsBody('agent'));
    const pods = await until('2 pods', async () => {
      const p = await livePods('agent');
      return p.length === 2 ? p : undefined;
    });
    assert.deepEqual(nodesOf(pods), ['node-a', 'node-b']);
    const p = pods[0]!;
    assert.deepEqual(p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, {
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [targetNodeName(p)] }] }],
    });
    assert.ok(p.metadata.generateName === 'agent-' && p.metadata.name!.startsWith('agent-'));
    const keys = p.spec.tolerations.map((t: { key: string; effect: string }) => `${t.key}:${t.effect}`);
    assert.deepEqual(keys, [
      'node.kubernetes.io/not-ready:NoExecute',
      'node.kubernetes.io/unreachable:NoExecute',
      'node.kubernetes.io/disk-pressure:NoSchedule',
      'node.kubernetes.io/memory-pressure:NoSchedule',
      'node.kubernetes.io/pid-pressure:NoSchedule',
      'node.kubernetes.io/unschedulable:NoSchedule',
    ]);
    const ds = await c.resource(R.daemonsets).get(ns, 'agent');
    const hash = p.metadata.labels!['controller-revision-hash'];
    const rev = await c.resource(R.controllerrevisions).get(ns, `agent-${hash}`);
    assert.equal(rev.revision, 1);
    assert.equal(rev.metadata.labels!['controller-revision-hash'], hash);
    assert.equal(rev.metadata.ownerReferences![0]!.uid, ds.metadata.uid);

    for (const x of pods) await makeReady(x.metadata.name!);
    const st = await until('status', async () => {
      const d = await c.resource(R.daemonsets).get(ns, 'agent');
      return d.status?.numberReady === 2 ? d.status : undefined;
    });
    assert.deepEqual(
      { ...st, conditions: undefined },
      { conditions: undefined, observedGeneration: ds.metadata.generation, desiredNumberScheduled: 2, currentNumberScheduled: 2, numberMisscheduled: 0, numberReady: 2, updatedNumberScheduled: 2, numberAvailable: 2, numberUnavailable: 0 },
    );

    await c.resource(R.daemonsets).patch(ns, 'agent', 'strategic', { spec: { template: { spec: { tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }] } } } });
    await until('a pod on node-c', async () => nodesOf(await livePods('agent')).includes('node-c'));
    const ev = await until('events', async () => {
      const e = (await c.resource(R.events).list(ns)).items.filter((x) => x.involvedObject.name === 'agent' && x.reason === 'SuccessfulCreate');
      return e.length >= 3 ? e : undefined;
    });
    assert.match(ev[0]!.message, /^Created pod: agent-/);
  });

  test('a node labelled out of the nodeSelector loses its pod', async () => {
    await c.resource(R.daemonsets).create(ns, dsBody('sel', { nodeSelector: { role: 'worker' } }));
    await until('2 pods', async () => (await livePods('sel')).length === 2);
    await c.resource(R.nodes).patch(undefined, 'node-b', 'merge', { metadata: { labels: { role: 'edge' } } });
    await until('node-b pod removed', async () => {
      const n = nodesOf(await livePods('sel'));
      return n.length === 1 && n[0] === 'node-a';
    });
    const st = await until('status', async () => {
      const d = await c.resource(R.daemonsets).get(ns, 'sel');
      return d.status?.desiredNumberScheduled === 1 && d.status?.currentNumberScheduled === 1 ? d.status : undefined;
    });
    assert.equal(st.numberMisscheduled, 0);
    await c.resource(R.nodes).patch(undefined, 'node-b', 'merge', { metadata: { labels: { role: 'worker' } } });
    await until('node-b pod back', async () => (await livePods('sel')).length === 2);
  });

  test('a rolling update replaces pods one node at a time, waiting for each new pod to be ready', async () => {
    await c.resource(R.daemonsets).create(ns, dsBody('roll'));
    const first = await until('2 pods', async () => {
      const p = await livePods('roll');
      return p.length === 2 ? p : undefined;
    });
    for (const p of first) await makeReady(p.metadata.name!);
    const oldHash = first[0]!.metadata.labels!['controller-revision-hash'];
    await until('available', async () => (await c.resource(R.daemonsets).get(ns, 'roll')).status?.numberAvailable === 2);

    await c.resource(R.daemonsets).patch(ns, 'roll', 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'agent:2' }] } } } });
    const isNew = (p: KubeObject) => p.metadata.labels!['controller-revision-hash'] !== oldHash;
    const firstNew = await until('one new pod', async () => (await livePods('roll')).find(isNew));
    assert.equal(firstNew.spec.containers[0].image, 'agent:2');
    await pause(300);
    let now = await livePods('roll');
    assert.equal(now.filter(isNew).length, 1, 'only one node is replaced while the new pod is not ready');
    assert.equal(now.length, 2);
    assert.deepEqual(nodesOf(now), ['node-a', 'node-b']);

    await makeReady(firstNew.metadata.name!);
    const second = await until('second new pod', async () => (await livePods('roll')).find((p) => isNew(p) && p.metadata.name !== firstNew.metadata.name));
    assert.notEqual(targetNodeName(second), targetNodeName(firstNew));
    await makeReady(second.metadata.name!);
    now = await livePods('roll');
    assert.deepEqual(nodesOf(now), ['node-a', 'node-b']);
    const st = await until('rolled', async () => {
      const d = await c.resource(R.daemonsets).get(ns, 'roll');
      return d.status?.updatedNumberScheduled === 2 && d.status?.numberAvailable === 2 ? d.status : undefined;
    });
    assert.equal(st.numberUnavailable, 0);
    const revs = (await c.resource(R.controllerrevisions).list(ns)).items.filter((r) => r.metadata.ownerReferences?.[0]?.name === 'roll');
    assert.deepEqual(revs.map((r) => r.revision).sort(), [1, 2]);
  });

  test('OnDelete keeps old pods until they are deleted', async () => {
    const body = dsBody('ondel');
    (body.spec as Record<string, unknown>).updateStrategy = { type: 'OnDelete' };
    await c.resource(R.daemonsets).create(ns, body);
    const first = await until('2 pods', async () => {
      const p = await livePods('ondel');
      return p.length === 2 ? p : undefined;
    });
    await c.resource(R.daemonsets).patch(ns, 'ondel', 'strategic', { spec: { template: { spec: { containers: [{ name: 'c', image: 'agent:2' }] } } } });
    await until('observed', async () => {
      const d = await c.resource(R.daemonsets).get(ns, 'ondel');
      return d.status?.observedGeneration === d.metadata.generation && d.status?.updatedNumberScheduled === 0;
    });
    await pause(300);
    assert.deepEqual((await livePods('ondel')).map((p) => p.spec.containers[0].image), ['agent:1', 'agent:1']);
    await c.resource(R.pods).delete(ns, first[0]!.metadata.name!);
    await until('replacement at the new template', async () => (await livePods('ondel')).some((p) => p.spec.containers[0].image === 'agent:2'));
  });
});
