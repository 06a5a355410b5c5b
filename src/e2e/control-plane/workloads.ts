// Acceptance: the seeds' bootcamp flow (create, expose NodePort, scale, set image with a rolling
// update that keeps availability, rollout status/history/undo/pause/resume), canary by labels,
// cascading deletion (background and orphan), Jobs, and namespace deletion.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf, pods } from './harness.js';

export function workloads(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const json = async (args: string[]) => JSON.parse(await k([...args, '-o', 'json']));

  test('bootcamp: create deployment, expose NodePort, endpoints list the pods, scale', async () => {
    await k(['create', 'ns', ns]);
    await k(['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '-n', ns]);
    await k(['expose', 'deployment', 'web', '--port', '80', '--type', 'NodePort', '-n', ns]);
    await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=60s'], { timeoutMs: 70_000 });
    const svc = await json(['get', 'svc', 'web', '-n', ns]);
    assert.ok(svc.spec.ports[0].nodePort >= 30000 && svc.spec.ports[0].nodePort <= 32767, `nodePort ${svc.spec.ports[0].nodePort}`);
    assert.match(svc.spec.clusterIP, /^10\.43\./);
    const ips = await eventually(async () => {
      const ep = await json(['get', 'endpoints', 'web', '-n', ns]);
      const addrs = (ep.subsets?.[0]?.addresses ?? []).map((a: { ip: string }) => a.ip).sort();
      return addrs.length === 2 ? addrs : undefined;
    }, 'two endpoint addresses');
    const podIPs = (await pods(k, ns, 'app=web')).map((p) => p.status.podIP).sort();
    assert.deepEqual(ips, podIPs);
    for (const ip of podIPs) assert.match(ip, /^10\.42\.\d+\.\d+$/);
    await k(['scale', 'deployment', 'web', '--replicas=4', '-n', ns]);
    await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal((await pods(k, ns, 'app=web')).filter((p) => p.status.phase === 'Running').length, 4);
  });

  test('set image rolls out without dropping below the allowed availability; history, undo', async () => {
    let minAvailable = Infinity;
    let maxPods = 0;
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        const d = await json(['get', 'deployment', 'web', '-n', ns]);
        const ps = (await pods(k, ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
        minAvailable = Math.min(minAvailable, d.status.availableReplicas ?? 0);
        maxPods = Math.max(maxPods, ps.length);
      }
    })();
    await k(['set', 'image', 'deployment/web', 'nginx=nginx:1.27', '-n', ns]);
    const out = await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    watching = false;
    await sampler;
    assert.match(out, /successfully rolled out/);
    // replicas 4, maxUnavailable 25% → 1, maxSurge 25% → 1.
    assert.ok(minAvailable >= 3, `availability dropped to ${minAvailable}`);
    assert.ok(maxPods <= 5, `${maxPods} pods at once`);
    const running = await pods(k, ns, 'app=web');
    assert.ok(running.every((p) => p.spec.containers[0].image === 'nginx:1.27' || p.metadata.deletionTimestamp));
    const history = await k(['rollout', 'history', 'deployment/web', '-n', ns]);
    assert.match(history, /^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n/m);
    await k(['rollout', 'undo', 'deployment/web', '-n', ns]);
    await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    const d = await json(['get', 'deployment', 'web', '-n', ns]);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx');
    // Undo reuses revision 1's ReplicaSet, which becomes revision 3.
    assert.match(await k(['rollout', 'history', 'deployment/web', '-n', ns]), /^REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>\n/m);
    const rs = (await json(['get', 'rs', '-n', ns, '-l', 'app=web'])).items;
    assert.equal(rs.length, 2);
  });

  test('rollout pause holds a template change until resume', async () => {
    await k(['rollout', 'pause', 'deployment/web', '-n', ns]);
    await k(['set', 'image', 'deployment/web', 'nginx=nginx:1.28', '-n', ns]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await pods(k, ns, 'app=web')).every((p) => p.spec.containers[0].image === 'nginx'));
    const paused = await json(['get', 'deployment', 'web', '-n', ns]);
    assert.equal(paused.status.conditions.find((c: { type: string }) => c.type === 'Progressing').reason, 'DeploymentPaused');
    await k(['rollout', 'resume', 'deployment/web', '-n', ns]);
    await k(['rollout', 'status', 'deployment/web', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    const now = (await pods(k, ns, 'app=web')).filter((p) => !p.metadata.deletionTimestamp);
    assert.ok(now.length === 4 && now.every((p) => p.spec.containers[0].image === 'nginx:1.28'));
  });

  test('canary: two Deployments behind one Service selector share its endpoints', async () => {
    await k(['apply', '-n', ns, '-f', '-'], {
      input: ['stable', 'canary']
        .map(
          (track) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop-${track}}
spec:
  replicas: ${track === 'stable' ? 3 : 1}
  selector: {matchLabels: {app: shop, track: ${track}}}
  template:
    metadata: {labels: {app: shop, track: ${track}}}
    spec: {containers: [{name: shop, image: "shop:${track === 'stable' ? '1.0' : '2.0'}", ports: [{containerPort: 8080}]}]}
`,
        )
        .concat(`apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  selector: {app: shop}
  ports: [{port: 80, targetPort: 8080}]
`)
        .join('---\n'),
    });
    const ep = await eventually(async () => {
      const e = await json(['get', 'endpoints', 'shop', '-n', ns]);
      return e.subsets?.[0]?.addresses?.length === 4 ? e : undefined;
    }, 'four endpoints (3 stable + 1 canary)');
    const names = ep.subsets[0].addresses.map((a: { targetRef: { name: string } }) => a.targetRef.name);
    assert.equal(names.filter((n: string) => n.startsWith('shop-canary-')).length, 1);
    assert.equal(ep.subsets[0].ports[0].port, 8080);
  });

  test('deleting a Deployment removes its ReplicaSets and pods; --cascade=orphan leaves them', async () => {
    await k(['delete', 'deployment', 'shop-stable', '-n', ns]);
    await eventually(async () => (await pods(k, ns, 'track=stable')).length === 0 && (await json(['get', 'rs', '-n', ns, '-l', 'track=stable'])).items.length === 0, 'stable RS and pods gone');
    await k(['delete', 'deployment', 'shop-canary', '-n', ns, '--cascade=orphan']);
    await eventually(async () => (await k(['get', 'deployment', '-n', ns, '-o', 'name'])).includes('shop-canary') === false, 'canary deployment gone');
    await new Promise((r) => setTimeout(r, 1000));
    const rs = (await json(['get', 'rs', '-n', ns, '-l', 'track=canary'])).items;
    assert.equal(rs.length, 1);
    assert.equal(rs[0].metadata.ownerReferences, undefined);
    assert.equal((await pods(k, ns, 'track=canary')).length, 1);
  });

  test('a Job with completions=5, parallelism=2 completes', async () => {
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: batch/v1
kind: Job
metadata: {name: five}
spec:
  completions: 5
  parallelism: 2
  template:
    metadata: {annotations: {sim.k8ts.io/exit-after: 300ms}}
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 1"]}]
`,
    });
    let maxActive = 0;
    const job = await eventually(async () => {
      const j = await json(['get', 'job', 'five', '-n', ns]);
      maxActive = Math.max(maxActive, j.status.active ?? 0);
      return j.status.conditions?.some((c: { type: string; status: string }) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    }, 'job five Complete', 60_000);
    assert.equal(job.status.succeeded, 5);
    assert.ok(maxActive <= 2, `active ${maxActive}`);
    const out = await k(['get', 'job', 'five', '-n', ns]);
    assert.match(out, /five\s+Complete\s+5\/5\s/);
  });

  test('a failing Job stops at backoffLimit with condition Failed', async () => {
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 1
  template:
    metadata: {annotations: {sim.k8ts.io/exit-after: 200ms, sim.k8ts.io/exit-code: "1"}}
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox}]
`,
    });
    const job = await eventually(async () => {
      const j = await json(['get', 'job', 'fails', '-n', ns]);
      return j.status.conditions?.find((c: { type: string; status: string }) => c.type === 'Failed' && c.status === 'True') ? j : undefined;
    }, 'job Failed', 60_000);
    const failed = job.status.conditions.find((c: { type: string }) => c.type === 'Failed');
    assert.equal(failed.reason, 'BackoffLimitExceeded');
    assert.equal(failed.message, 'Job has reached the specified backoff limit');
    assert.equal(job.status.failed, 2);
  });

  test('deleting a namespace removes its contents and then itself', async () => {
    const gone = `${ns}-gone`;
    await k(['create', 'ns', gone]);
    await k(['create', 'deployment', 'd', '--image=nginx', '--replicas=2', '-n', gone]);
    await k(['create', 'configmap', 'c', '--from-literal=a=b', '-n', gone]);
    await eventually(async () => (await pods(k, gone)).length === 2, 'pods in the doomed namespace');
    await k(['delete', 'ns', gone, '--timeout=60s'], { timeoutMs: 70_000 });
    const r = await srv().kubectl(['get', 'ns', gone]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound|not found/);
  });
}
