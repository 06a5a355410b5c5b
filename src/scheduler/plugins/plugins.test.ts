import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../api/meta/v1.js';
import { CycleState, type Plugin, podInfoOf, Snapshot, computePodRequests, type Status } from '../framework/types.js';
import { node, pod } from '../testing/builders.js';
import { balancedAllocationPlugin } from './balanced-allocation.js';
import { nodeAffinityPlugin } from './node-affinity.js';
import { nodeNamePlugin } from './node-name.js';
import { nodePortsPlugin } from './node-ports.js';
import { nodeResourcesFitPlugin } from './node-resources-fit.js';
import { nodeUnschedulablePlugin } from './node-unschedulable.js';
import { taintTolerationPlugin } from './taint-toleration.js';
import { volumeBindingPlugin } from './volume-binding.js';
import { defaultNormalizeScore } from './helpers.js';

/** PreFilter then Filter on every node: node name → reasons ("" when it fits, "skip" when PreFilter skipped). */
function filterAll(pl: Plugin, p: KubeObject, snap: Snapshot): Record<string, string> {
  const state = new CycleState();
  const pi = podInfoOf(p);
  const pre = pl.preFilter?.(state, pi, snap) ?? null;
  const out: Record<string, string> = {};
  for (const ni of snap.nodeInfoList) {
    if (pre && !(pre instanceof Set) && pre.code === 'Skip') out[ni.name] = 'skip';
    else {
      const st = pl.filter!(state, pi, ni) as Status | null;
      out[ni.name] = st ? `${st.code}: ${st.message()}` : '';
    }
  }
  return out;
}

function scoreAll(pl: Plugin, p: KubeObject, snap: Snapshot): number[] | 'skip' {
  const state = new CycleState();
  const pi = podInfoOf(p);
  const st = pl.preScore?.(state, pi, snap.nodeInfoList, snap);
  if (st && st.code === 'Skip') return 'skip';
  const scores = snap.nodeInfoList.map((n) => pl.score!(state, pi, n));
  pl.normalizeScore?.(state, pi, snap.nodeInfoList, scores);
  return scores;
}

describe('pod requests', () => {
  it('takes max(sum of containers, each init container) plus overhead, with sidecars added', () => {
    const p = pod('p', {
      spec: {
        containers: [
          { name: 'a', resources: { requests: { cpu: '100m', memory: '100Mi' } } },
          { name: 'b', resources: { requests: { cpu: '200m' } } },
        ],
        initContainers: [
          { name: 'i1', resources: { requests: { cpu: '1', memory: '50Mi' } } },
          { name: 's', restartPolicy: 'Always', resources: { requests: { cpu: '50m', memory: '10Mi' } } },
          { name: 'i2', resources: { requests: { cpu: '10m', memory: '500Mi' } } },
        ],
        overhead: { cpu: '5m' },
      },
    });
    const r = computePodRequests(p, false);
    assert.equal(r.milliCPU, 1005); // init i1 (1000) dominates 300+50, plus overhead
    assert.equal(r.memory, 510 * 1024 * 1024); // i2 500Mi + sidecar 10Mi dominates 100Mi+10Mi
    const nz = computePodRequests(pod('q'), true);
    assert.equal(nz.milliCPU, 100);
    assert.equal(nz.memory, 200 * 1024 * 1024);
  });
});

describe('NodeName / NodeUnschedulable / NodePorts', () => {
  it('NodeName rejects other nodes', () => {
    const snap = Snapshot.fromObjects([node('a'), node('b')], []);
    assert.deepEqual(filterAll(nodeNamePlugin(), pod('p', { spec: { nodeName: 'b' } }), snap), {
      a: "UnschedulableAndUnresolvable: node(s) didn't match the requested node name",
      b: '',
    });
  });

  it('NodeUnschedulable rejects cordoned nodes unless tolerated', () => {
    const snap = Snapshot.fromObjects([node('a', { unschedulable: true }), node('b')], []);
    assert.deepEqual(filterAll(nodeUnschedulablePlugin(), pod('p'), snap), { a: 'UnschedulableAndUnresolvable: node(s) were unschedulable', b: '' });
    const tol = pod('t', { spec: { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] } });
    assert.deepEqual(filterAll(nodeUnschedulablePlugin(), tol, snap), { a: '', b: '' });
  });

  it('NodePorts rejects nodes where the host port is taken', () => {
    const snap = Snapshot.fromObjects([node('a'), node('b')], [pod('x', { nodeName: 'a', hostPort: 8080 })]);
    assert.deepEqual(filterAll(nodePortsPlugin(), pod('p', { hostPort: 8080 }), snap), {
      a: "Unschedulable: node(s) didn't have free ports for the requested pod ports",
      b: '',
    });
    assert.deepEqual(filterAll(nodePortsPlugin(), pod('p', { hostPort: 9090 }), snap), { a: '', b: '' });
    assert.deepEqual(filterAll(nodePortsPlugin(), pod('p'), snap), { a: 'skip', b: 'skip' });
  });
});

describe('NodeResourcesFit', () => {
  const snap = Snapshot.fromObjects(
    [node('a', { cpu: '2', memory: '4Gi', extra: { 'example.com/gpu': '1' } }), node('b', { cpu: '4', memory: '1Gi', pods: 1 })],
    [pod('x', { nodeName: 'a', cpu: '1500m', memory: '1Gi' }), pod('y', { nodeName: 'b', cpu: '100m' })],
  );

  it('reports every insufficient resource and the pod count', () => {
    const p = pod('p', { cpu: '1', memory: '2Gi', requests: { 'example.com/gpu': '2' } });
    assert.deepEqual(filterAll(nodeResourcesFitPlugin(), p, snap), {
      a: 'Unschedulable: Insufficient cpu, Insufficient example.com/gpu',
      b: 'Unschedulable: Too many pods, Insufficient memory, Insufficient example.com/gpu',
    });
    assert.deepEqual(filterAll(nodeResourcesFitPlugin(), pod('small', { cpu: '500m' }), snap), { a: '', b: 'Unschedulable: Too many pods' });
  });

  it('scores LeastAllocated and MostAllocated with non-zero defaults', () => {
    const s2 = Snapshot.fromObjects([node('a', { cpu: '1', memory: '1000Mi' }), node('b', { cpu: '2', memory: '1000Mi' })], []);
    const p = pod('p', { cpu: '500m', memory: '500Mi' });
    // a: cpu (1000-500)/1000 → 50, mem 50 → 50; b: cpu 75, mem 50 → 62
    assert.deepEqual(scoreAll(nodeResourcesFitPlugin(), p, s2), [50, 62]);
    assert.deepEqual(scoreAll(nodeResourcesFitPlugin({ type: 'MostAllocated' }), p, s2), [50, 37]);
    // A pod without requests counts 100m / 200Mi.
    assert.deepEqual(scoreAll(nodeResourcesFitPlugin(), pod('be'), s2), [85, 87]);
  });

  it('BalancedAllocation favours even cpu/memory use and skips best-effort pods', () => {
    const s2 = Snapshot.fromObjects([node('a', { cpu: '1', memory: '1000Mi' }), node('b', { cpu: '2', memory: '1000Mi' })], []);
    // a: fractions .5/.5 → 100; b: .25/.5 → std .125 → 87
    assert.deepEqual(scoreAll(balancedAllocationPlugin(), pod('p', { cpu: '500m', memory: '500Mi' }), s2), [100, 87]);
    assert.equal(scoreAll(balancedAllocationPlugin(), pod('be'), s2), 'skip');
  });
});

describe('NodeAffinity', () => {
  const snap = Snapshot.fromObjects(
    [node('a', { labels: { zone: 'z1', gen: '3' } }), node('b', { labels: { zone: 'z2', gen: '5' } }), node('c', { labels: { gen: 'x' } })],
    [],
  );
  const REJECT = "UnschedulableAndUnresolvable: node(s) didn't match Pod's node affinity/selector";
  const aff = (terms: unknown[]) => pod('p', { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } });

  it('honours nodeSelector', () => {
    assert.deepEqual(filterAll(nodeAffinityPlugin(), pod('p', { spec: { nodeSelector: { zone: 'z2' } } }), snap), { a: REJECT, b: '', c: REJECT });
  });

  it('ORs terms and ANDs expressions with all operators', () => {
    assert.deepEqual(filterAll(nodeAffinityPlugin(), aff([{ matchExpressions: [{ key: 'gen', operator: 'Gt', values: ['4'] }] }]), snap), { a: REJECT, b: '', c: REJECT });
    assert.deepEqual(filterAll(nodeAffinityPlugin(), aff([{ matchExpressions: [{ key: 'gen', operator: 'Lt', values: ['4'] }] }]), snap), { a: '', b: REJECT, c: REJECT });
    assert.deepEqual(
      filterAll(nodeAffinityPlugin(), aff([{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['z1', 'z3'] }, { key: 'gen', operator: 'Exists' }] }]), snap),
      { a: REJECT, b: '', c: '' },
    );
    assert.deepEqual(filterAll(nodeAffinityPlugin(), aff([{}]), snap), { a: REJECT, b: REJECT, c: REJECT });
  });

  it('narrows nodes by matchFields metadata.name in PreFilter', () => {
    const p = aff([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }]);
    const r = nodeAffinityPlugin().preFilter!(new CycleState(), podInfoOf(p), snap);
    assert.deepEqual(r instanceof Set ? [...r] : r, ['c']);
    assert.deepEqual(filterAll(nodeAffinityPlugin(), p, snap), { a: REJECT, b: REJECT, c: '' });
  });

  it('scores preferred terms by weight, normalised to the max', () => {
    const p = pod('p', {
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              { weight: 10, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] } },
              { weight: 30, preference: { matchExpressions: [{ key: 'gen', operator: 'Exists' }] } },
            ],
          },
        },
      },
    });
    assert.deepEqual(scoreAll(nodeAffinityPlugin(), p, snap), [100, 75, 75]);
    assert.equal(scoreAll(nodeAffinityPlugin(), pod('q'), snap), 'skip');
  });
});

describe('TaintToleration', () => {
  const snap = Snapshot.fromObjects(
    [
      node('a', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] }),
      node('b', { taints: [{ key: 'soft', value: 'x', effect: 'PreferNoSchedule' }, { key: 'soft2', effect: 'PreferNoSchedule' }] }),
      node('c'),
    ],
    [],
  );

  it('filters NoSchedule/NoExecute taints not tolerated', () => {
    assert.deepEqual(filterAll(taintTolerationPlugin(), pod('p'), snap), { a: 'UnschedulableAndUnresolvable: node(s) had untolerated taint {dedicated: gpu}', b: '', c: '' });
    const tol = pod('t', { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] } });
    assert.deepEqual(filterAll(taintTolerationPlugin(), tol, snap), { a: '', b: '', c: '' });
    const wrong = pod('w', { spec: { tolerations: [{ key: 'dedicated', value: 'cpu' }] } });
    assert.equal(filterAll(taintTolerationPlugin(), wrong, snap).a, 'UnschedulableAndUnresolvable: node(s) had untolerated taint {dedicated: gpu}');
    const all = pod('all', { spec: { tolerations: [{ operator: 'Exists' }] } });
    assert.equal(filterAll(taintTolerationPlugin(), all, snap).a, '');
  });

  it('scores fewer untolerated PreferNoSchedule taints higher', () => {
    assert.deepEqual(scoreAll(taintTolerationPlugin(), pod('p'), snap), [100, 0, 100]);
    const tol = pod('t', { spec: { tolerations: [{ key: 'soft', operator: 'Exists', effect: 'PreferNoSchedule' }] } });
    const pl = taintTolerationPlugin();
    const state = new CycleState();
    pl.preScore!(state, podInfoOf(tol), snap.nodeInfoList, snap);
    assert.deepEqual(snap.nodeInfoList.map((n) => pl.score!(state, podInfoOf(tol), n)), [0, 1, 0]);
  });

  it('normalises like upstream DefaultNormalizeScore', () => {
    const s = [0, 0];
    defaultNormalizeScore(s, true);
    assert.deepEqual(s, [100, 100]);
    const t = [1, 3, 0];
    defaultNormalizeScore(t, false);
    assert.deepEqual(t, [33, 100, 0]);
  });
});

describe('VolumeBinding', () => {
  const pvcs: Record<string, KubeObject> = {
    'default/bound': { metadata: { name: 'bound', namespace: 'default' }, spec: { volumeName: 'pv1' } },
    'default/pending': { metadata: { name: 'pending', namespace: 'default' }, spec: {} },
  };
  const pl = volumeBindingPlugin((ns, n) => pvcs[`${ns}/${n}`]);
  const withClaim = (c: string) => podInfoOf(pod('p', { spec: { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: c } }] } }));
  const snap = Snapshot.fromObjects([node('a')], []);

  it('requires existing, bound claims', () => {
    const missing = pl.preFilter!(new CycleState(), withClaim('nope'), snap) as Status;
    assert.equal(missing.code, 'UnschedulableAndUnresolvable');
    assert.equal(missing.message(), 'persistentvolumeclaim "nope" not found');
    const pending = pl.preFilter!(new CycleState(), withClaim('pending'), snap) as Status;
    assert.equal(pending.message(), 'pod has unbound immediate PersistentVolumeClaims');
    assert.equal((pl.preFilter!(new CycleState(), withClaim('bound'), snap) as Status).code, 'Skip');
  });
});
