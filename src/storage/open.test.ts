import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { etcdAvailable, startEtcdCluster } from '../testing/etcd-cluster.js';
import { EtcdStore } from './etcd/etcd-store.js';
import { openStore } from './open.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-open-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

test('no endpoint: SQLite in <dataDir>/db/state.db', async () => {
  const store = await openStore({ dataDir });
  try {
    assert.ok(store instanceof SqliteStore);
    await store.create('/x', Buffer.from('1'));
    assert.ok(existsSync(join(dataDir, 'db', 'state.db')));
  } finally {
    await store.close();
  }
  const again = await openStore({ dataDir, datastoreEndpoint: '' });
  try {
    assert.equal((await again.get('/x'))?.value.toString(), '1');
  } finally {
    await again.close();
  }
});

test('sqlite:// endpoint, relative to the data dir', async () => {
  const store = await openStore({ dataDir, datastoreEndpoint: 'sqlite://other/state.db' });
  await store.close();
  assert.ok(existsSync(join(dataDir, 'other', 'state.db')));
});

test('unsupported schemes fail with a clear error', async () => {
  await assert.rejects(openStore({ dataDir, datastoreEndpoint: 'mysql://root@tcp(127.0.0.1:3306)/k8ts' }), /unsupported datastore endpoint.*etcd:\/\//);
  await assert.rejects(openStore({ dataDir, datastoreEndpoint: 'postgres://localhost/k8ts' }), /unsupported datastore endpoint/);
  await assert.rejects(openStore({ dataDir, datastoreEndpoint: 'etcd://127.0.0.1:2379,https://127.0.0.1:2380' }), /TLS/);
});

test('etcd:// endpoint opens an EtcdStore on the cluster', { skip: !etcdAvailable() && 'etcd is not installed', timeout: 60_000 }, async () => {
  const cluster = await startEtcdCluster({ members: 1 });
  try {
    const store = await openStore({ dataDir, datastoreEndpoint: cluster.endpoint });
    try {
      assert.ok(store instanceof EtcdStore);
      const kv = await store.create('/open/x', Buffer.from('y'));
      assert.ok(kv.modRevision > 0);
    } finally {
      await store.close();
    }
  } finally {
    await cluster.stop();
  }
});
