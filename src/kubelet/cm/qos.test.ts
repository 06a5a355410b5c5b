// QoS classes, pod cgroup settings and container CRI resources: upstream's tables.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { computePodQOS, containerOOMScoreAdj, getPodQOS } from './qos.js';
import { containerResources, milliCPUToQuota, milliCPUToShares, podResourceConfig } from './resources.js';

type R = { requests?: Record<string, string>; limits?: Record<string, string> };
const c = (name: string, resources: R = {}, extra: Record<string, unknown> = {}) => ({ name, resources, ...extra });
const pod = (containers: unknown[], initContainers: unknown[] = [], extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u' },
  spec: { containers, initContainers, ...extra },
});
const GUAR = { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '500m', memory: '64Mi' } };

test('QoS classes as upstream', () => {
  const cases: [string, KubeObject, string][] = [
    ['no resources', pod([c('a'), c('b')]), 'BestEffort'],
    ['zero requests are nothing', pod([c('a', { requests: { cpu: '0', memory: '0' } })]), 'BestEffort'],
    ['extended resources only', pod([c('a', { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } })]), 'BestEffort'],
    ['requests = limits for cpu and memory', pod([c('a', GUAR), c('b', GUAR)]), 'Guaranteed'],
    ['limits only (requests default to them)', pod([c('a', { limits: { cpu: '1', memory: '1Gi' } })]), 'Guaranteed'],
    ['equal in different units', pod([c('a', { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '1000m', memory: '1024Mi' } })]), 'Guaranteed'],
    ['one container best effort', pod([c('a', GUAR), c('b')]), 'Burstable'],
    ['requests below limits', pod([c('a', { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '64Mi' } })]), 'Burstable'],
    ['cpu limit only', pod([c('a', { limits: { cpu: '1' } })]), 'Burstable'],
    ['requests only', pod([c('a', { requests: { memory: '10Mi' } })]), 'Burstable'],
    ['init container without limits', pod([c('a', GUAR)], [c('i')]), 'Burstable'],
    ['init container guaranteed too', pod([c('a', GUAR)], [c('i', GUAR)]), 'Guaranteed'],
    ['best-effort main, burstable init', pod([c('a')], [c('i', { requests: { cpu: '10m' } })]), 'Burstable'],
  ];
  for (const [name, p, want] of cases) assert.equal(computePodQOS(p), want, name);
  assert.equal(getPodQOS({ ...pod([c('a')]), status: { qosClass: 'Guaranteed' } }), 'Guaranteed', 'status.qosClass wins');
});

test('CFS conversions', () => {
  assert.equal(milliCPUToShares(0), 2);
  assert.equal(milliCPUToShares(1), 2);
  assert.equal(milliCPUToShares(100), 102);
  assert.equal(milliCPUToShares(1000), 1024);
  assert.equal(milliCPUToShares(1_000_000), 262144);
  assert.equal(milliCPUToQuota(0), 0);
  assert.equal(milliCPUToQuota(5), 1000);
  assert.equal(milliCPUToQuota(250), 25000);
});

test('pod cgroup settings by QoS class', () => {
  assert.deepEqual(podResourceConfig(pod([c('a', GUAR), c('b', GUAR)])), { cpuShares: 1024, cpuQuota: 100000, cpuPeriod: 100000, memoryLimit: 128 * 2 ** 20 });
  // Burstable: quota only when every container limits cpu, memory limit only when every one limits memory.
  assert.deepEqual(podResourceConfig(pod([c('a', { requests: { cpu: '250m' }, limits: { cpu: '1' } }), c('b', { requests: { cpu: '250m' }, limits: { cpu: '1', memory: '1Gi' } })])), {
    cpuShares: 512,
    cpuQuota: 200000,
    cpuPeriod: 100000,
  });
  assert.deepEqual(podResourceConfig(pod([c('a', { requests: { cpu: '100m' } })])), { cpuShares: 102 });
  assert.deepEqual(podResourceConfig(pod([c('a')]), { podPidsLimit: 100 }), { cpuShares: 2, pidsLimit: 100 });
  // Init containers: the larger of the largest init container and the sum of the rest; overhead added.
  const withInit = pod([c('a', { requests: { cpu: '100m' } })], [c('i', { requests: { cpu: '700m' } })], { overhead: { cpu: '50m' } });
  assert.equal(podResourceConfig(withInit).cpuShares, milliCPUToShares(750));
  const sidecar = pod([c('a', { requests: { cpu: '100m' } })], [c('s', { requests: { cpu: '200m' } }, { restartPolicy: 'Always' }), c('i', { requests: { cpu: '250m' } })]);
  assert.equal(podResourceConfig(sidecar).cpuShares, milliCPUToShares(450), 'sidecar runs alongside the later init container');
});

test('container CRI resources and oom_score_adj', () => {
  const g = pod([c('a', GUAR)]);
  assert.deepEqual(containerResources(g, g.spec.containers[0], 8 * 2 ** 30), {
    cpu_shares: '512',
    cpu_period: '100000',
    cpu_quota: '50000',
    memory_limit_in_bytes: String(64 * 2 ** 20),
    oom_score_adj: '-997',
  });
  const be = pod([c('a')]);
  assert.deepEqual(containerResources(be, be.spec.containers[0], 8 * 2 ** 30), { cpu_shares: '2', oom_score_adj: '1000' });
  const cap = 1000 * 2 ** 20;
  const b = pod([c('a', { requests: { memory: `${250}Mi` } }), c('z'), c('big', { requests: { memory: '2000Mi' } })]);
  assert.equal(containerOOMScoreAdj(b, b.spec.containers[0], cap), 750);
  assert.equal(containerOOMScoreAdj(b, b.spec.containers[1], cap), 999, 'no request: just below best effort');
  assert.equal(containerOOMScoreAdj(b, b.spec.containers[2], cap), 3, 'never as low as guaranteed');
  const limitOnly = pod([c('a', { limits: { cpu: '2' } })]);
  assert.deepEqual(containerResources(limitOnly, limitOnly.spec.containers[0], cap), { cpu_shares: '2048', cpu_period: '100000', cpu_quota: '200000', oom_score_adj: '999' });
  const side = pod([c('a', { requests: { memory: '500Mi' } })], [c('s', { requests: { memory: '100Mi' } }, { restartPolicy: 'Always' })]);
  assert.equal(containerOOMScoreAdj(side, side.spec.initContainers[0], cap), 500, 'a sidecar scores no higher than the regular containers');
  assert.equal(containerOOMScoreAdj(pod([c('a')], [], { priorityClassName: 'system-node-critical' }), c('a'), cap), -997);
});
