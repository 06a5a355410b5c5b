// Acceptance: pods land only where they fit (resources, nodeSelector, taints, anti-affinity,
// topology spread); an unschedulable pod shows upstream's FailedScheduling message in
// `kubectl describe pod`; a high-priority pod preempts lower-priority ones when nothing fits.
// Nodes: sim-a (zone a), sim-b (zone b), sim-c (zone c, tainted dedicated=infra:NoSchedule),
// each with 2 CPUs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf, pods } from './harness.js';

const pod = (ns: string, name: string, spec: string, meta = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
${meta}spec:
${spec}`;

export function scheduling(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const nodeOf = async (name: string) =>
    eventually(async () => JSON.parse(await k(['get', 'pod', name, '-n', ns, '-o', 'json'])).spec.nodeName as string | undefined, `${name} scheduled`);

  test('resources, nodeSelector and taints decide the node', async () => {
    await k(['create', 'ns', ns]);
    await k(['apply', '-f', '-'], {
      input: [
        pod(ns, 'in-zone-b', `  nodeSelector: {zone: b}\n  containers: [{name: c, image: registry.local/app:1}]\n`),
        pod(ns, 'tolerates-infra', `  nodeSelector: {zone: c}\n  tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]\n  containers: [{name: c, image: registry.local/app:1}]\n`),
        pod(ns, 'big', `  containers: [{name: c, image: registry.local/app:1, resources: {requests: {cpu: 1500m}}}]\n`),
      ].join('---\n'),
    });
    assert.equal(await nodeOf('in-zone-b'), 'sim-b');
    assert.equal(await nodeOf('tolerates-infra'), 'sim-c');
    assert.match(await nodeOf('big'), /^sim-[ab]$/);
  });

  test('an unschedulable pod gets the upstream FailedScheduling message', async () => {
    await k(['apply', '-f', '-'], { input: pod(ns, 'huge', `  containers: [{name: c, image: registry.local/app:1, resources: {requests: {cpu: "3"}}}]\n`) });
    const described = await eventually(async () => {
      const out = await k(['describe', 'pod', 'huge', '-n', ns]);
      return /FailedScheduling/.test(out) ? out : undefined;
    }, 'FailedScheduling event');
    assert.match(
      described,
      /0\/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: infra\}, 2 Insufficient cpu\. preemption: 0\/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod\./,
    );
    const p = JSON.parse(await k(['get', 'pod', 'huge', '-n', ns, '-o', 'json']));
    const cond = p.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled');
    assert.equal(cond.status, 'False');
    assert.equal(cond.reason, 'Unschedulable');
    await k(['delete', 'pod', 'huge', '-n', ns, '--wait=false']);
  });

  test('required anti-affinity puts one pod per node; the extra one stays Pending', async () => {
    const anti = (name: string) =>
      pod(
        ns,
        name,
        `  tolerations: [{key: dedicated, operator: Exists}]\n  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector: {matchLabels: {app: solo}}\n        topologyKey: kubernetes.io/hostname\n  containers: [{name: c, image: registry.local/app:1}]\n`,
        `  labels: {app: solo}\n`,
      );
    await k(['apply', '-f', '-'], { input: ['s1', 's2', 's3', 's4'].map(anti).join('---\n') });
    const placed = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=solo')).filter((p) => p.spec.nodeName);
      return ps.length === 3 ? ps : undefined;
    }, 'three solo pods placed');
    assert.deepEqual(placed.map((p) => p.spec.nodeName).sort(), ['sim-a', 'sim-b', 'sim-c']);
    const pending = (await pods(k, ns, 'app=solo')).find((p) => !p.spec.nodeName);
    const msg = await eventually(async () => {
      const p = JSON.parse(await k(['get', 'pod', pending.metadata.name, '-n', ns, '-o', 'json']));
      return p.status.conditions?.find((c: { type: string }) => c.type === 'PodScheduled')?.message as string | undefined;
    }, 'PodScheduled message');
    assert.match(msg, /^0\/3 nodes are available: 3 node\(s\) didn't match pod anti-affinity rules\./);
    await k(['delete', 'pod', '-n', ns, '-l', 'app=solo', '--wait=false']);
  });

  test('topology spread keeps zones within maxSkew', async () => {
    const spread = (name: string) =>
      pod(
        ns,
        name,
        `  topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: zone\n    whenUnsatisfiable: DoNotSchedule\n    nodeTaintsPolicy: Honor\n    labelSelector: {matchLabels: {app: spread}}\n  containers: [{name: c, image: registry.local/app:1}]\n`,
        `  labels: {app: spread}\n`,
      );
    await k(['apply', '-f', '-'], { input: ['t1', 't2', 't3', 't4'].map(spread).join('---\n') });
    const placed = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=spread')).filter((p) => p.spec.nodeName);
      return ps.length === 4 ? ps : undefined;
    }, 'four spread pods placed');
    // sim-c is tainted and nodeTaintsPolicy is Honor, so zone c does not count: a and b get two each.
    const counts: Record<string, number> = {};
    for (const p of placed) counts[p.spec.nodeName] = (counts[p.spec.nodeName] ?? 0) + 1;
    assert.deepEqual(counts, { 'sim-a': 2, 'sim-b': 2 });
    await k(['delete', 'pod', '-n', ns, '-l', 'app=spread', '--wait=false']);
  });

  test('a pod naming a second scheduler waits for it, and that scheduler binds it', async () => {
    await k(['apply', '-f', '-'], { input: pod(ns, 'custom', `  schedulerName: my-scheduler\n  containers: [{name: c, image: registry.local/app:1}]\n`) });
    await new Promise((r) => setTimeout(r, 1500));
    const before = JSON.parse(await k(['get', 'pod', 'custom', '-n', ns, '-o', 'json']));
    assert.equal(before.spec.nodeName, undefined, 'the default scheduler must leave it alone');
    const second = await srv().startAgent('scheduler', ['--scheduler-name', 'my-scheduler']);
    try {
      assert.match(await nodeOf('custom'), /^sim-[ab]$/);
      const ev = await eventually(async () => {
        const out = await k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=custom,reason=Scheduled', '-o', 'json']);
        return JSON.parse(out).items[0];
      }, 'Scheduled event');
      assert.equal(ev.source.component, 'my-scheduler');
    } finally {
      await second.stop();
    }
  });

  test('a high-priority pod preempts lower-priority ones when nothing fits', async () => {
    await k(['apply', '-f', '-'], {
      input: `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-high}
value: 1000000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: e2e-low}
value: 10
`,
    });
    await k(['delete', 'pod', '-n', ns, '--all', '--wait=false']);
    await eventually(async () => (await pods(k, ns)).length === 0, 'namespace emptied');
    // Fill sim-a and sim-b with low-priority pods (1 CPU each, 2 per node).
    const low = (name: string, node: string) =>
      pod(ns, name, `  priorityClassName: e2e-low\n  nodeSelector: {zone: ${node}}\n  containers: [{name: c, image: registry.local/app:1, resources: {requests: {cpu: "1"}}}]\n`, `  labels: {app: low}\n`);
    await k(['apply', '-f', '-'], { input: [low('la1', 'a'), low('la2', 'a'), low('lb1', 'b'), low('lb2', 'b')].join('---\n') });
    await eventually(async () => (await pods(k, ns, 'app=low')).filter((p) => p.status.phase === 'Running').length === 4, 'low pods running');
    await k(['apply', '-f', '-'], {
      input: pod(ns, 'vip', `  priorityClassName: e2e-high\n  nodeSelector: {zone: a}\n  containers: [{name: c, image: registry.local/app:1, resources: {requests: {cpu: "2"}}}]\n`),
    });
    assert.equal(await nodeOf('vip'), 'sim-a');
    const vip = JSON.parse(await k(['get', 'pod', 'vip', '-n', ns, '-o', 'json']));
    assert.equal(vip.spec.priority, 1000000);
    const left = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=low')).filter((p) => !p.metadata.deletionTimestamp);
      return ps.length === 2 ? ps : undefined;
    }, 'two victims gone');
    assert.deepEqual(left.map((p) => p.metadata.name).sort(), ['lb1', 'lb2']);
  });
}
