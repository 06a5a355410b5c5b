import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { etcdAvailable, startEtcdCluster, type EtcdCluster } from '../../testing/etcd-cluster.js';
import { runStoreContract, WatchRecorder } from '../store-contract.js';
import { EtcdStore, parseEtcdEndpoints, prefixEndBytes } from './etcd-store.js';

const skip = etcdAvailable() ? false : 'etcd is not installed (apt-get install etcd-server)';

describe('parseEtcdEndpoints', () => {
  test('accepts etcd://, http:// and bare host:port lists', () => {
    assert.deepEqual(parseEtcdEndpoints('etcd://127.0.0.1:2379,etcd://127.0.0.1:22379'), ['127.0.0.1:2379', '127.0.0.1:22379']);
    assert.deepEqual(parseEtcdEndpoints(['http://a:1', 'b:2', 'etcd://c']), ['a:1', 'b:2', 'c:2379']);
  });
  test('rejects TLS, other schemes and empty lists', () => {
    assert.throws(() => parseEtcdEndpoints('https://a:2379'), /TLS/);
    assert.throws(() => parseEtcdEndpoints('mysql://a:3306'), /unsupported scheme/);
    assert.throws(() => parseEtcdEndpoints(' , '), /no hosts/);
  });
  test('prefix range end bumps the last byte', () => {
    assert.deepEqual(prefixEndBytes(Buffer.from('/a/')), Buffer.from('/a0'));
    assert.deepEqual(prefixEndBytes(Buffer.from([0x61, 0xff])), Buffer.from('b'));
    assert.deepEqual(prefixEndBytes(Buffer.alloc(0)), Buffer.from([0]));
  });
});

if (skip) {
  test('etcd store against a real cluster', { skip }, () => undefined);
} else {
  // Started on first use and stopped after the suite, so only one cluster runs at a time.
  let ready: Promise<EtcdCluster> | undefined;
  runStoreContract('etcd (3 members)', {
    open: async () => new EtcdStore({ endpoints: (await (ready ??= startEtcdCluster({ members: 3 }))).endpoint }),
    cleanup: async () => {
      const c = await ready?.catch(() => undefined);
      await c?.stop();
    },
  });

  describe('EtcdStore with a member killed mid-run', { timeout: 120_000 }, () => {
    let c: EtcdCluster;
    before(async () => {
      c = await startEtcdCluster({ members: 3 });
    });
    after(async () => {
      await c?.stop();
    });

    test('writes before and after keep working and reads see every acknowledged write', async () => {
      const store = new EtcdStore({ endpoints: c.endpoint });
      const w = new WatchRecorder();
      try {
        w.start(store, '/ha/', await store.currentRevision());
        const acked = new Map<string, string>();
        const write = async (i: number) => {
          const key = `/ha/${String(i).padStart(5, '0')}`;
          const kv = await store.create(key, Buffer.from(`v${i}`));
          assert.equal(kv.value.toString(), `v${i}`);
          acked.set(key, `v${i}`);
        };
        // A steady stream of writes with the kill in the middle (member 0: often the leader).
        let i = 0;
        for (; i < 100; i++) await write(i);
        const inflight: Promise<void>[] = [];
        for (let j = 0; j < 20; j++) inflight.push(write(i++));
        await c.killMember(0);
        await Promise.all(inflight);
        for (const end = i + 100; i < end; i++) await write(i);

        const list = await store.list({ prefix: '/ha/' });
        assert.equal(list.items.length, acked.size);
        for (const kv of list.items) assert.equal(kv.value.toString(), acked.get(kv.key));
        assert.equal(await store.count('/ha/'), acked.size);
        const one = await store.get('/ha/00150');
        assert.equal(one?.value.toString(), 'v150');
        const u = await store.update('/ha/00150', Buffer.from('after'), one!.modRevision);
        assert.ok(u.modRevision > one!.modRevision);

        // The watch moved to a surviving member without gaps or duplicates.
        const events = await w.waitFor(acked.size + 1, 20_000);
        const keys = events.filter((e) => e.created).map((e) => e.kv.key);
        assert.equal(new Set(keys).size, acked.size);
        assert.equal(events.length, acked.size + 1);
        const revs = events.map((e) => e.kv.modRevision);
        assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
      } finally {
        w.stop();
        await store.close();
      }
    });
  });
}
