// Acceptance: restarting the server in the middle of a rollout loses and duplicates nothing;
// stopping a node's agent makes the node NotReady within the grace period, and pods with a
// short unreachable toleration are recreated on other nodes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf, pods } from './harness.js';

export function resilience(srv: () => K8tsServer, ns: string, stopNode: (name: string) => Promise<void>): void {
  const k = kubectlOf(srv);
  const json = async (args: string[]) => JSON.parse(await k([...args, '-o', 'json']));

  test('a server restart in the middle of a rollout: it completes with no lost or duplicate pods', async () => {
    await k(['create', 'ns', ns]);
    // minReadySeconds slows the rollout so that the restart lands in its middle.
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: apps/v1
kind: Deployment
metadata: {name: roll}
spec:
  replicas: 6
  minReadySeconds: 1
  selector: {matchLabels: {app: roll}}
  template:
    metadata: {labels: {app: roll}}
    spec: {containers: [{name: app, image: "app:1"}]}
`,
    });
    await k(['rollout', 'status', 'deployment/roll', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    await k(['set', 'image', 'deployment/roll', 'app=app:2', '-n', ns]);
    await eventually(async () => {
      const d = await json(['get', 'deployment', 'roll', '-n', ns]);
      return (d.status.updatedReplicas ?? 0) >= 1 && d.status.updatedReplicas < 6;
    }, 'rollout under way');
    await srv().restart();
    await k(['rollout', 'status', 'deployment/roll', '-n', ns, '--timeout=120s'], { timeoutMs: 130_000 });
    await eventually(async () => (await pods(k, ns, 'app=roll')).length === 6, 'old pods gone');
    const ps = await pods(k, ns, 'app=roll');
    assert.equal(ps.length, 6);
    assert.ok(ps.every((p) => p.spec.containers[0].image === 'app:2' && p.status.phase === 'Running'));
    const rs = (await json(['get', 'rs', '-n', ns, '-l', 'app=roll'])).items;
    assert.deepEqual(rs.map((r: { spec: { replicas: number } }) => r.spec.replicas).sort(), [0, 6]);
  });

  test('a stopped node goes NotReady and its pods are recreated elsewhere', async () => {
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: apps/v1
kind: Deployment
metadata: {name: ha}
spec:
  replicas: 4
  selector: {matchLabels: {app: ha}}
  template:
    metadata: {labels: {app: ha}}
    spec:
      nodeSelector: {ha: "yes"}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers: [{name: app, image: "app:1"}]
`,
    });
    await k(['label', 'node', 'sim-a', 'sim-b', 'ha=yes']);
    await k(['rollout', 'status', 'deployment/ha', '-n', ns, '--timeout=60s'], { timeoutMs: 70_000 });
    const before = await pods(k, ns, 'app=ha');
    const onA = before.filter((p) => p.spec.nodeName === 'sim-a').length;
    assert.ok(onA > 0, 'some ha pods should start on sim-a');
    const stoppedAt = Date.now();
    await stopNode('sim-a');
    await eventually(async () => /sim-a\s+NotReady\s/.test(await k(['get', 'nodes'])), 'sim-a NotReady', 30_000);
    // Grace period 6 s plus one monitor period (5 s) and the API's own lag.
    assert.ok(Date.now() - stoppedAt < 20_000, `NotReady after ${Date.now() - stoppedAt} ms`);
    const node = await json(['get', 'node', 'sim-a']);
    assert.equal(node.status.conditions.find((c: { type: string }) => c.type === 'Ready').status, 'Unknown');
    assert.ok(node.spec.taints.some((t: { key: string; effect: string }) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute'));
    const after = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=ha')).filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running');
      return ps.length === 4 && ps.every((p) => p.spec.nodeName === 'sim-b') ? ps : undefined;
    }, 'four ha pods running on sim-b', 60_000);
    assert.equal(after.length, 4);
  });
}
