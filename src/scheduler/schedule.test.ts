import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../api/meta/v1.js';
import { selectorFromSet } from '../machinery/labels.js';
import { FitError, Scheduler, Snapshot } from './index.js';
import { node, pod } from './testing/builders.js';

function mustFail(s: Scheduler, p: KubeObject, snap: Snapshot): FitError {
  const r = s.schedule(p, snap);
  assert.ok('error' in r, `expected a FitError, got ${JSON.stringify(r)}`);
  return r.error;
}

function mustFit(s: Scheduler, p: KubeObject, snap: Snapshot): string {
  const r = s.schedule(p, snap);
  assert.ok(!('error' in r), `expected a node, got ${'error' in r ? r.error.message : ''}`);
  return r.node;
}

const CP_TAINT = [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }];

describe('FitError messages', () => {
  it('counts first rejections per node, sorted, with the preemption suffix', () => {
    const snap = Snapshot.fromObjects([node('n1', { cpu: '1' }), node('cp1', { taints: CP_TAINT }), node('cp2', { taints: CP_TAINT })], []);
    const s = new Scheduler({ seed: 1 });
    const p = pod('big', { cpu: '2' });
    const err = mustFail(s, p, snap);
    assert.equal(err.message, '0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.');
    const r = s.preempt(p, snap, err);
    assert.equal(r.nodeName, null);
    assert.equal(
      err.message,
      '0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.',
    );
  });

  it('reports a filter failure that remains after removing every lower-priority pod', () => {
    const snap = Snapshot.fromObjects(
      [node('n1', { cpu: '1' }), node('n2', { cpu: '2', unschedulable: true }), node('n3', { cpu: '1', labels: { disk: 'hdd' } })],
      [pod('low', { nodeName: 'n1', cpu: '500m', priority: 0 })],
    );
    const s = new Scheduler({ seed: 1 });
    const p = pod('big', { cpu: '2', priority: 100 });
    const err = mustFail(s, p, snap);
    const r = s.preempt(p, snap, err);
    assert.equal(r.nodeName, null);
    assert.equal(
      err.message,
      '0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
    );
  });

  it('reports PreFilter failures once and marks nodes narrowed away', () => {
    const snap = Snapshot.fromObjects([node('a'), node('b'), node('c')], []);
    const s = new Scheduler({ seed: 1, pvcLookup: () => undefined });
    const p = pod('p', { spec: { volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }] } });
    const err = mustFail(s, p, snap);
    assert.equal(err.message, '0/3 nodes are available: persistentvolumeclaim "data" not found.');
    s.preempt(p, snap, err);
    assert.equal(err.message, '0/3 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.');

    const pinned = pod('pinned', {
      cpu: '100',
      spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] }] } } } },
    });
    const err2 = mustFail(s, pinned, snap);
    assert.equal(err2.message, "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity].");
  });

  it('says so when preemptionPolicy is Never', () => {
    const snap = Snapshot.fromObjects([node('a', { cpu: '1' })], [pod('low', { nodeName: 'a', cpu: '1' })]);
    const s = new Scheduler({ seed: 1 });
    const p = pod('p', { cpu: '1', priority: 10, spec: { preemptionPolicy: 'Never' } });
    const err = mustFail(s, p, snap);
    s.preempt(p, snap, err);
    assert.equal(err.message, '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
  });
});

describe('scheduling cycle', () => {
  it('picks the least allocated node and spreads ties by the seeded random source', () => {
    const snap = Snapshot.fromObjects([node('a'), node('b'), node('c')], [pod('x', { nodeName: 'a', cpu: '2', memory: '4Gi' })]);
    const s = new Scheduler({ seed: 7 });
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) seen.add(mustFit(s, pod(`p${i}`, { cpu: '100m', memory: '100Mi' }), snap));
    assert.deepEqual([...seen].sort(), ['b', 'c']);
  });

  it('samples feasible nodes adaptively and resumes where the last cycle stopped', () => {
    const s = new Scheduler({ seed: 1 });
    assert.equal(s.profile.numFeasibleNodesToFind(50), 50);
    assert.equal(s.profile.numFeasibleNodesToFind(200), 100);
    assert.equal(s.profile.numFeasibleNodesToFind(1000), 420);
    assert.equal(s.profile.numFeasibleNodesToFind(5000), 500);
    assert.equal(s.profile.numFeasibleNodesToFind(20000), 1000);
    assert.equal(new Scheduler({ percentageOfNodesToScore: 100 }).profile.numFeasibleNodesToFind(5000), 5000);

    const nodes = Array.from({ length: 250 }, (_, i) => node(`n${i}`));
    const snap = Snapshot.fromObjects(nodes, []);
    const r1 = s.schedule(pod('a'), snap);
    assert.ok(!('error' in r1));
    assert.equal(r1.feasible, 120); // 50 − 250/125 = 48% → 120 nodes
    assert.equal(s.profile.nextStartNodeIndex, 120);
    s.schedule(pod('b'), snap);
    s.schedule(pod('c'), snap);
    assert.equal(s.profile.nextStartNodeIndex, 110); // (120 + 240) mod 250
  });
});

describe('PodTopologySpread', () => {
  const zones = () =>
    Snapshot.fromObjects(
      [node('a1', { labels: { zone: 'z1' } }), node('a2', { labels: { zone: 'z1' } }), node('b1', { labels: { zone: 'z2' } }), node('nolabel')],
      [pod('w1', { nodeName: 'a1', labels: { app: 'web' } }), pod('w2', { nodeName: 'a2', labels: { app: 'web' } }), pod('other', { nodeName: 'b1', labels: { app: 'db' } })],
    );
  const spread = (extra: Record<string, unknown> = {}) =>
    pod('new', {
      labels: { app: 'web' },
      spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } }, ...extra }] },
    });

  it('keeps skew within maxSkew', () => {
    const s = new Scheduler({ seed: 1 });
    assert.equal(mustFit(s, spread(), zones()), 'b1');
    const snap = zones();
    snap.get('b1')!.addPod(podInfoFor(pod('w3', { nodeName: 'b1', labels: { app: 'web' } })));
    // z1: 2, z2: 1 → placing in z2 gives skew 1; z1 would be 3 − 1 = 2.
    assert.equal(mustFit(s, spread(), snap), 'b1');
  });

  it('reports skew and missing label failures', () => {
    const s = new Scheduler({ seed: 1 });
    const snap = zones();
    snap.get('b1')!.addPod(podInfoFor(pod('w3', { nodeName: 'b1', labels: { app: 'web' } })));
    assert.equal(mustFit(s, spread(), snap), 'b1');
    // With fewer domains than minDomains the global minimum counts as 0.
    const err = mustFail(s, spread({ maxSkew: 1, minDomains: 3 }), snap);
    assert.equal(
      err.message,
      "0/4 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label), 3 node(s) didn't match pod topology spread constraints.",
    );
  });

  it('scores ScheduleAnyway constraints and system defaults', () => {
    const snap = Snapshot.fromObjects(
      [node('a'), node('b')],
      [pod('w1', { nodeName: 'a', labels: { app: 'web' } }), pod('w2', { nodeName: 'a', labels: { app: 'web' } })],
    );
    const s = new Scheduler({ seed: 3 });
    const soft = pod('soft', {
      labels: { app: 'web' },
      spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } }] },
    });
    for (let i = 0; i < 5; i++) assert.equal(mustFit(s, soft, snap), 'b');
    const withDefaults = new Scheduler({ seed: 3, podTopologySpread: { defaultSelector: (p) => (p.labels.app ? selectorFromSet({ app: p.labels.app }) : null) } });
    for (let i = 0; i < 5; i++) assert.equal(mustFit(withDefaults, pod(`d${i}`, { labels: { app: 'web' } }), snap), 'b');
  });
});

describe('InterPodAffinity', () => {
  const antiTerm = (app: string) => ({ labelSelector: { matchLabels: { app } }, topologyKey: 'kubernetes.io/hostname' });
  const snap = () =>
    Snapshot.fromObjects(
      [node('a', { labels: { zone: 'z1' } }), node('b', { labels: { zone: 'z1' } }), node('c', { cpu: '1', labels: { zone: 'z2' } })],
      [
        pod('guard', { nodeName: 'a', labels: { app: 'guard' }, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiTerm('web')] } } } }),
        pod('db', { nodeName: 'b', labels: { app: 'db' } }),
      ],
    );

  it("respects existing pods' anti-affinity and the pod's own anti-affinity", () => {
    const s = new Scheduler({ seed: 1 });
    const web = pod('web', { labels: { app: 'web' }, spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiTerm('db')] } } } });
    assert.equal(mustFit(s, web, snap()), 'c');
    const cpu = pod('web2', { labels: { app: 'web' }, cpu: '2', spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [antiTerm('db')] } } } });
    assert.equal(
      mustFail(s, cpu, snap()).message,
      "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod anti-affinity rules, 1 node(s) didn't satisfy existing pods anti-affinity rules.",
    );
  });

  it('requires affinity domains, except for the first pod of a self-affine group', () => {
    const s = new Scheduler({ seed: 1 });
    const nearDb = pod('app', { labels: { app: 'api' }, spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'zone' }] } } } });
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) seen.add(mustFit(s, nearDb, snap()));
    assert.deepEqual([...seen].sort(), ['a', 'b']);
    const self = pod('first', { labels: { app: 'cache' }, spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'zone' }] } } } });
    assert.ok(['a', 'b', 'c'].includes(mustFit(s, self, snap())));
    const none = pod('none', { labels: { app: 'x' }, spec: { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'missing' } }, topologyKey: 'zone' }] } } } });
    assert.equal(mustFail(s, none, snap()).message, "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.");
  });

  it('scores preferred affinity towards matching pods', () => {
    const s = new Scheduler({ seed: 1 });
    const p = pod('p', {
      labels: { app: 'x' },
      spec: { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'db' } }, topologyKey: 'kubernetes.io/hostname' } }] } } },
    });
    for (let i = 0; i < 5; i++) assert.equal(mustFit(s, p, snap()), 'b');
  });
});

describe('DefaultPreemption', () => {
  const setup = () =>
    Snapshot.fromObjects(
      [node('a', { cpu: '2' }), node('b', { cpu: '2' }), node('c', { cpu: '2', taints: CP_TAINT })],
      [
        pod('a-low', { nodeName: 'a', cpu: '1', priority: 3, labels: { app: 'batch' } }),
        pod('a-mid', { nodeName: 'a', cpu: '1', priority: 5 }),
        pod('b-only', { nodeName: 'b', cpu: '2', priority: 4 }),
        pod('c-any', { nodeName: 'c', cpu: '2', priority: 0 }),
      ],
    );

  it('reprieves the most important pods and picks the node with the lowest top victim priority', () => {
    const s = new Scheduler({ seed: 1 });
    const snap = setup();
    const p = pod('urgent', { cpu: '1', priority: 10 });
    const err = mustFail(s, p, snap);
    const r = s.preempt(p, snap, err);
    assert.equal(r.nodeName, 'a');
    assert.deepEqual(r.nodeName && r.victims.map((v) => v.metadata.name), ['a-low']);
  });

  it('avoids PodDisruptionBudget violations when another node works', () => {
    const s = new Scheduler({ seed: 1 });
    const snap = setup();
    const p = pod('urgent', { cpu: '1', priority: 10 });
    const pdb = { metadata: { name: 'batch', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'batch' } } }, status: { disruptionsAllowed: 0 } };
    const err = mustFail(s, p, snap);
    const r = s.preempt(p, snap, err, [pdb]);
    assert.equal(r.nodeName, 'b');
    assert.deepEqual(r.nodeName && r.victims.map((v) => v.metadata.name), ['b-only']);
  });

  it('only preempts lower-priority pods', () => {
    const s = new Scheduler({ seed: 1 });
    const snap = setup();
    const p = pod('meh', { cpu: '2', priority: 4 });
    const err = mustFail(s, p, snap);
    const r = s.preempt(p, snap, err);
    assert.equal(r.nodeName, null);
    assert.equal(
      err.message,
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.',
    );
  });

  it('removes victims that block anti-affinity', () => {
    const s = new Scheduler({ seed: 1 });
    const snap = Snapshot.fromObjects([node('a')], [pod('web-old', { nodeName: 'a', priority: 1, labels: { app: 'web' } })]);
    const p = pod('web-new', {
      priority: 2,
      labels: { app: 'web' },
      spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' }] } } },
    });
    const err = mustFail(s, p, snap);
    assert.equal(err.message, "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.");
    const r = s.preempt(p, snap, err);
    assert.equal(r.nodeName, 'a');
    assert.deepEqual(r.nodeName && r.victims.map((v) => v.metadata.name), ['web-old']);
  });
});

import { podInfoOf as podInfoFor } from './framework/types.js';
