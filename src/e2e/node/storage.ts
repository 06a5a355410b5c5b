// Volumes on a real node: a ConfigMap edited while mounted reaches the running container, and a
// StatefulSet's claim keeps its data when the pod is replaced.

import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';
import { BUSYBOX } from './streaming.js';

export function storage(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const apply = (o: unknown) => k(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(o) });
  before(async () => {
    await k(['create', 'namespace', ns]);
  });

  it('a ConfigMap edited while mounted shows its new content in the running container', async () => {
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app' }, data: { 'greeting.txt': 'hello v1' } });
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'reader' },
      spec: {
        volumes: [{ name: 'cfg', configMap: { name: 'app' } }],
        containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '100000'], volumeMounts: [{ name: 'cfg', mountPath: '/etc/app' }] }],
      },
    });
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/reader', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(await k(['exec', '-n', ns, 'reader', '--', 'cat', '/etc/app/greeting.txt']), 'hello v1');
    const restarts = await k(['get', 'pod', 'reader', '-n', ns, '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']);
    await k(['patch', 'configmap', 'app', '-n', ns, '--type', 'merge', '-p', JSON.stringify({ data: { 'greeting.txt': 'hello v2' } })]);
    const started = Date.now();
    await eventually(async () => (await k(['exec', '-n', ns, 'reader', '--', 'cat', '/etc/app/greeting.txt'])) === 'hello v2', 'the new content', 60_000);
    assert.ok(Date.now() - started < 60_000);
    // Same container: the update arrived without a restart.
    assert.equal(await k(['get', 'pod', 'reader', '-n', ns, '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']), restarts);
  });

  it("a StatefulSet pod's volume keeps its data when the pod is deleted and recreated", async () => {
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 80 }] } });
    await apply({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'db' },
      spec: {
        serviceName: 'db',
        replicas: 1,
        selector: { matchLabels: { app: 'db' } },
        template: {
          metadata: { labels: { app: 'db' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '100000'], volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    });
    await eventually(async () => (await k(['get', 'pod', 'db-0', '-n', ns, '-o', 'jsonpath={.status.phase}'])) === 'Running', 'db-0 Running', 60_000);
    assert.equal(await k(['get', 'pvc', 'data-db-0', '-n', ns, '-o', 'jsonpath={.status.phase}']), 'Bound');
    await k(['exec', '-n', ns, 'db-0', '--', 'sh', '-c', 'echo persisted > /data/file']);
    const uid = await k(['get', 'pod', 'db-0', '-n', ns, '-o', 'jsonpath={.metadata.uid}']);
    await k(['delete', 'pod', 'db-0', '-n', ns], { timeoutMs: 60_000 });
    await eventually(async () => {
      const p = JSON.parse(await k(['get', 'pod', 'db-0', '-n', ns, '-o', 'json']));
      return p.metadata.uid !== uid && p.status?.phase === 'Running';
    }, 'a new db-0', 60_000);
    assert.equal(await k(['exec', '-n', ns, 'db-0', '--', 'cat', '/data/file']), 'persisted\n');
  });
}
