import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { etcdAvailable, startEtcdCluster } from './etcd-cluster.js';

const skip = etcdAvailable() ? false : 'etcd is not installed (apt-get install etcd-server)';

test('a 3-member cluster starts healthy, survives a killed member, and stop cleans up', { skip, timeout: 60_000 }, async () => {
  const cluster = await startEtcdCluster({ members: 3 });
  try {
    assert.equal(cluster.hosts.length, 3);
    assert.match(cluster.endpoint, /^etcd:\/\/127\.0\.0\.1:\d+,etcd:\/\/127\.0\.0\.1:\d+,etcd:\/\/127\.0\.0\.1:\d+$/);
    const health = async (i: number) => {
      const res = await fetch(`${cluster.members[i]!.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return ((await res.json()) as { health: string }).health;
    };
    for (let i = 0; i < 3; i++) assert.equal(await health(i), 'true');

    await cluster.killMember(0);
    assert.equal(cluster.members[0]!.process!.signalCode, 'SIGKILL');
    await assert.rejects(health(0));
    // The other two still form a quorum (they may need a moment to elect a new leader).
    const deadline = Date.now() + 10_000;
    let ok = '';
    while (Date.now() < deadline && (ok = await health(1).catch(() => 'false')) !== 'true') await new Promise((r) => setTimeout(r, 100));
    assert.equal(ok, 'true');
  } finally {
    await cluster.stop();
  }
  for (const m of cluster.members) {
    assert.ok(m.process!.exitCode !== null || m.process!.signalCode !== null, `${m.name} still running`);
    assert.equal(existsSync(m.dataDir), false);
  }
  await cluster.stop(); // idempotent
});
