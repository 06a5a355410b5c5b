// Acceptance: StatefulSet ordering with PVCs and scale-down from the top; DaemonSet one pod per
// eligible node (tainted node skipped unless tolerated); CronJob every minute with history limits.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf, pods } from './harness.js';

export function sets(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const json = async (args: string[]) => JSON.parse(await k([...args, '-o', 'json']));

  test('a CronJob */1 is created (checked at the end of the suite)', async () => {
    await k(['create', 'ns', ns]);
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {sim.k8ts.io/exit-after: 200ms}}
        spec:
          restartPolicy: Never
          containers: [{name: t, image: busybox}]
`,
    });
  });

  test('a StatefulSet of 3 comes up in order with PVCs; scaling down removes web-2 first', async () => {
    await k(['apply', '-n', ns, '-f', '-'], {
      input: `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: sts}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec: {containers: [{name: nginx, image: nginx, volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]}]}
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`,
    });
    await k(['rollout', 'status', 'statefulset/web', '-n', ns, '--timeout=90s'], { timeoutMs: 100_000 });
    const ps = (await pods(k, ns, 'app=sts')).sort((a, b) => Date.parse(a.status.startTime) - Date.parse(b.status.startTime) || a.metadata.name.localeCompare(b.metadata.name));
    assert.deepEqual(ps.map((p) => p.metadata.name), ['web-0', 'web-1', 'web-2']);
    // Each later pod was created only after the previous one was Ready.
    for (let i = 1; i < ps.length; i++) {
      const readyPrev = ps[i - 1].status.conditions.find((c: { type: string }) => c.type === 'Ready').lastTransitionTime;
      assert.ok(Date.parse(ps[i].metadata.creationTimestamp) >= Date.parse(readyPrev), `${ps[i].metadata.name} created before ${ps[i - 1].metadata.name} was Ready`);
    }
    const pvcs = (await json(['get', 'pvc', '-n', ns])).items;
    assert.deepEqual(pvcs.map((c: { metadata: { name: string } }) => c.metadata.name).sort(), ['www-web-0', 'www-web-1', 'www-web-2']);
    assert.ok(pvcs.every((c: { status: { phase: string } }) => c.status.phase === 'Bound'));
    assert.equal(ps[0].spec.hostname, 'web-0');
    assert.equal(ps[0].spec.subdomain, 'web');
    await k(['scale', 'statefulset', 'web', '--replicas=2', '-n', ns]);
    await eventually(async () => (await pods(k, ns, 'app=sts')).length === 2, 'two pods left', 60_000);
    assert.deepEqual((await pods(k, ns, 'app=sts')).map((p) => p.metadata.name).sort(), ['web-0', 'web-1']);
    // PVCs are retained by default.
    assert.equal((await json(['get', 'pvc', '-n', ns])).items.length, 3);
  });

  test('a DaemonSet runs one pod per node and skips the tainted one unless tolerated', async () => {
    const ds = (tolerate: boolean) => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
${tolerate ? '      tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]\n' : ''}      containers: [{name: a, image: agent:1}]
`;
    await k(['apply', '-n', ns, '-f', '-'], { input: ds(false) });
    const two = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=agent')).filter((p) => p.spec.nodeName && p.status.phase === 'Running');
      return ps.length === 2 ? ps : undefined;
    }, 'two daemon pods', 60_000);
    assert.deepEqual(two.map((p) => p.spec.nodeName).sort(), ['sim-a', 'sim-b']);
    await k(['apply', '-n', ns, '-f', '-'], { input: ds(true) });
    const three = await eventually(async () => {
      const ps = (await pods(k, ns, 'app=agent')).filter((p) => p.spec.nodeName && p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
      const d = await json(['get', 'ds', 'agent', '-n', ns]);
      return ps.length === 3 && d.status.updatedNumberScheduled === 3 && d.status.numberReady === 3 ? ps : undefined;
    }, 'three daemon pods after the toleration', 90_000);
    assert.deepEqual(three.map((p) => p.spec.nodeName).sort(), ['sim-a', 'sim-b', 'sim-c']);
    const out = await k(['get', 'ds', 'agent', '-n', ns]);
    assert.match(out, /agent\s+3\s+3\s+3\s+3\s+3\s/);
  });
}

/** Checks the CronJob `sets` made; registered last so that minutes have passed. */
export function cronCheck(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const json = async (args: string[]) => JSON.parse(await k([...args, '-o', 'json']));
  // Names of Jobs seen over time (the history limit deletes older ones).
  const seen = new Set<string>();
  test('the CronJob made a Job each minute and keeps one successful Job', async () => {
    // Two schedule times must pass since the CronJob was made; up to ~2 minutes.
    const cj = await eventually(async () => {
      const c = await json(['get', 'cronjob', 'tick', '-n', ns]);
      const jobs = (await json(['get', 'jobs', '-n', ns])).items.filter((j: { metadata: { name: string } }) => j.metadata.name.startsWith('tick-'));
      for (const j of jobs) seen.add(j.metadata.name);
      return c.status?.lastSuccessfulTime && seen.size >= 2 ? { c, jobs } : undefined;
    }, 'two CronJob runs', 150_000);
    for (const j of cj.jobs) assert.match(j.metadata.name, /^tick-\d+$/);
    // successfulJobsHistoryLimit: 1 → at most one finished Job is kept.
    await eventually(async () => {
      const jobs = (await json(['get', 'jobs', '-n', ns])).items.filter((j: { status: { succeeded?: number } }) => (j.status.succeeded ?? 0) > 0);
      return jobs.length <= 1;
    }, 'history limit applied', 30_000);
  });
}
