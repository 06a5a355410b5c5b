// Two k8ts servers on one etcd: one runs the controller manager and the scheduler (each holds
// its Lease); when it stops, the other takes over and the cluster keeps working.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { etcdAvailable, startEtcdCluster, type EtcdCluster } from '../testing/etcd-cluster.js';
import { startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { eventually, kubectlOf, pods } from './control-plane/harness.js';

describe('two servers on one etcd', { concurrency: false, skip: etcdAvailable() ? false : 'etcd-server is not installed (make test installs it)' }, () => {
  let etcd: EtcdCluster;
  let a: K8tsServer;
  let b: K8tsServer;
  let agent: { stop(): Promise<void> } | undefined;
  const kb = kubectlOf(() => b);
  const holder = async (name: string) => JSON.parse(await kb(['get', 'lease', name, '-n', 'kube-system', '-o', 'json'])).spec.holderIdentity as string;

  before(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    a = await startK8ts({ datastoreEndpoint: etcd.endpoint });
    const ka = kubectlOf(() => a);
    // Let the first server win both elections before the second starts.
    await eventually(async () => (await ka(['get', 'lease', '-n', 'kube-system', '-o', 'name'])).split('\n').filter((l) => /kube-(controller-manager|scheduler)$/.test(l)).length === 2, 'leases held by the first server');
    b = await startK8ts({ datastoreEndpoint: etcd.endpoint });
    agent = await b.startAgent('agent', ['--node-name', 'ha-node', '--lease-renew-interval', '1s']);
    await eventually(async () => /ha-node\s+Ready/.test(await kb(['get', 'nodes'])), 'node Ready');
  });
  after(async () => {
    await agent?.stop();
    await b?.stop();
    await a?.stop();
    await etcd?.stop();
  });

  test('one active controller manager and scheduler; the other server takes over when it stops', async () => {
    const cm = await holder('kube-controller-manager');
    const sched = await holder('kube-scheduler');
    // Identities are host_pid: both belong to the first server's process.
    assert.equal(cm.split('_').pop(), sched.split('_').pop());
    await kb(['create', 'deployment', 'web', '--image=nginx', '--replicas=2']);
    await kb(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    await a.stop();
    // Lease duration 15 s: the second server leads within about that, then acts.
    await eventually(async () => (await holder('kube-controller-manager')) !== cm && (await holder('kube-scheduler')) !== sched, 'leases taken over', 40_000);
    await kb(['scale', 'deployment', 'web', '--replicas=4']);
    await kb(['rollout', 'status', 'deployment/web', '--timeout=60s'], { timeoutMs: 70_000 });
    const running = (await pods(kb, 'default', 'app=web')).filter((p) => p.status.phase === 'Running');
    assert.equal(running.length, 4);
  });
});
