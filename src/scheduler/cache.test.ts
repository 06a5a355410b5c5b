import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../api/meta/v1.js';
import { selectorFromSet } from '../machinery/labels.js';
import { SchedulerCache } from './cache.js';
import { Scheduler, Snapshot } from './index.js';

const node = (i: number): KubeObject => ({
  metadata: { name: `n${i}`, labels: { 'kubernetes.io/hostname': `n${i}`, zone: `z${i % 4}` } },
  status: { allocatable: { cpu: '8', memory: '32Gi', pods: '110' } },
});

const pod = (name: string, app: string, nodeName?: string, spread = false): KubeObject => ({
  metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app } },
  spec: {
    nodeName,
    containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '100m' } } }],
    ...(spread ? { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app } } }] } : {}),
  },
  status: { phase: nodeName ? 'Running' : 'Pending' },
});

test('the cache label index gives the same placements as scanning every node', () => {
  const nodes = Array.from({ length: 20 }, (_, i) => node(i));
  // Existing pods: skewed towards zone z0 and z1.
  const existing = Array.from({ length: 60 }, (_, i) => pod(`e${i}`, i % 3 ? 'web' : 'db', `n${(i * 7) % 10}`));
  const cache = new SchedulerCache((p) => p);
  for (const n of nodes) cache.setNode(n);
  for (const p of existing) cache.observePod(`default/${p.metadata.name}`, p);
  // Every pod belongs to a "controller" selecting its app: the default spreading applies.
  const defaultSelector = (pi: { labels: Record<string, string> }) => selectorFromSet({ app: pi.labels.app });
  const indexed = new Scheduler({ seed: 7, podTopologySpread: { defaultSelector } });
  const scanned = new Scheduler({ seed: 7, podTopologySpread: { defaultSelector } });
  const placed: KubeObject[] = [...existing];
  for (let i = 0; i < 12; i++) {
    const p = pod(`new${i}`, i % 2 ? 'web' : 'db', undefined, i % 3 === 0);
    const a = indexed.schedule(p, cache.snapshot());
    const b = scanned.schedule(p, Snapshot.fromObjects(nodes, placed));
    assert.ok('node' in a && 'node' in b, 'both placed');
    assert.equal(a.node, b.node, `pod ${i}`);
    const bound = { ...p, spec: { ...p.spec, nodeName: a.node }, status: { phase: 'Running' } };
    placed.push(bound);
    cache.observePod(`default/${p.metadata.name}`, bound);
  }
});
