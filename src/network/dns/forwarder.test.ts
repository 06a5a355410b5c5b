// The forwarder against stub upstreams on loopback: failover, the cache's TTLs (with a fake
// clock), its size bound, negative caching from the SOA, and coalescing of identical questions.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { Forwarder, parseUpstream } from './forwarder.js';
import { ClusterResolver, recordSourceFromObjects } from './records.js';
import { service, startStubUpstream, type StubUpstream } from './testing.js';

/** A loopback UDP port that takes datagrams and never answers. */
async function silentPort(): Promise<{ port: number; close(): void }> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, close: () => s.close() };
}

describe('Forwarder', () => {
  let up: StubUpstream;
  before(async () => {
    up = await startStubUpstream(
      {
        'a.example': [{ type: 'A', ttl: 100, data: '192.0.2.1' }],
        'b.example': [{ type: 'A', ttl: 100, data: '192.0.2.2' }],
        'c.example': [{ type: 'A', ttl: 100, data: '192.0.2.3' }],
        'long.example': [{ type: 'A', ttl: 100000, data: '192.0.2.4' }],
      },
      { negativeTtl: 7 },
    );
  });
  after(() => up.stop());

  it('parses upstream addresses', () => {
    assert.deepEqual(parseUpstream('10.0.0.1'), { host: '10.0.0.1', port: 53 });
    assert.deepEqual(parseUpstream('10.0.0.1:5353'), { host: '10.0.0.1', port: 5353 });
    assert.deepEqual(parseUpstream('[::1]:54'), { host: '::1', port: 54 });
    assert.deepEqual(parseUpstream('::1'), { host: '::1', port: 53 });
    assert.throws(() => parseUpstream('dns.google:53'), /invalid upstream/);
  });

  it('tries the next upstream when one does not answer, and fails when none does', async () => {
    const silent = await silentPort();
    try {
      const f = new Forwarder({ upstreams: [`127.0.0.1:${silent.port}`, `127.0.0.1:${up.port}`], timeoutMs: 200 });
      const a = await f.lookup({ name: 'a.example', type: 'A' });
      assert.deepEqual(a?.answers.map((r) => 'data' in r && r.data), ['192.0.2.1']);
      f.close();
      const dead = new Forwarder({ upstreams: [`127.0.0.1:${silent.port}`], timeoutMs: 100 });
      assert.equal(await dead.lookup({ name: 'a.example', type: 'A' }), undefined);
      assert.equal(dead.stats.failures, 1);
      dead.close();
    } finally {
      silent.close();
    }
  });

  it('ages cached TTLs, expires entries, caps them at cacheSeconds and evicts the oldest', async () => {
    let now = 1_000_000;
    const f = new Forwarder({ upstreams: [`127.0.0.1:${up.port}`], cacheSeconds: 300, cacheSize: 2, now: () => now });
    try {
      const asked = () => up.seen.length;
      const n0 = asked();
      await f.lookup({ name: 'a.example', type: 'A' });
      now += 40_000;
      const hit = await f.lookup({ name: 'A.example.', type: 'A' });
      assert.equal(hit?.fromCache, true);
      assert.equal(hit?.answers[0].type === 'A' && hit.answers[0].ttl, 60);
      assert.equal(asked(), n0 + 1);
      now += 61_000;
      assert.equal((await f.lookup({ name: 'a.example', type: 'A' }))?.fromCache, false, 'expired after its TTL');
      await f.lookup({ name: 'long.example', type: 'A' });
      now += 299_000;
      assert.equal((await f.lookup({ name: 'long.example', type: 'A' }))?.fromCache, true);
      now += 2_000;
      assert.equal((await f.lookup({ name: 'long.example', type: 'A' }))?.fromCache, false, 'capped at cacheSeconds');
      await f.lookup({ name: 'b.example', type: 'A' });
      await f.lookup({ name: 'c.example', type: 'A' });
      assert.equal(f.cacheEntries, 2);
      assert.equal((await f.lookup({ name: 'c.example', type: 'A' }))?.fromCache, true);
    } finally {
      f.close();
    }
  });

  it('caches NXDOMAIN for the SOA minimum', async () => {
    let now = 5_000_000;
    const f = new Forwarder({ upstreams: [`127.0.0.1:${up.port}`], cacheSeconds: 300, now: () => now });
    try {
      const nx = await f.lookup({ name: 'gone.example', type: 'A' });
      assert.equal(nx?.rcode, 3);
      now += 6_000;
      assert.equal((await f.lookup({ name: 'gone.example', type: 'A' }))?.fromCache, true);
      now += 2_000;
      assert.equal((await f.lookup({ name: 'gone.example', type: 'A' }))?.fromCache, false);
    } finally {
      f.close();
    }
  });

  it('sends one upstream query for identical questions in flight', async () => {
    const f = new Forwarder({ upstreams: [`127.0.0.1:${up.port}`], cacheSeconds: 0 });
    try {
      const n0 = up.seen.filter((q) => q === 'b.example/A').length;
      const all = await Promise.all(Array.from({ length: 20 }, () => f.lookup({ name: 'b.example', type: 'A' })));
      assert.ok(all.every((a) => a?.answers.length === 1));
      assert.equal(up.seen.filter((q) => q === 'b.example/A').length, n0 + 1);
    } finally {
      f.close();
    }
  });
});

describe('IPv6 records', () => {
  it('answers AAAA and ip6.arpa PTR for IPv6 ClusterIPs', () => {
    const r = new ClusterResolver(recordSourceFromObjects({ services: [service('default', 'v6', { clusterIP: 'fd00:10::a', clusterIPs: ['fd00:10::a'], ports: [{ name: 'h', port: 80 }] })] }));
    assert.deepEqual(r.resolve({ name: 'v6.default.svc.cluster.local', type: 'AAAA' })!.answers.map((a) => 'data' in a && a.data), ['fd00:10::a']);
    assert.equal(r.resolve({ name: 'v6.default.svc.cluster.local', type: 'A' })!.answers.length, 0);
    const rev = [...`fd000010${'0'.repeat(23)}a`].reverse().join('.');
    assert.deepEqual(r.resolve({ name: `${rev}.ip6.arpa`, type: 'PTR' })!.answers.map((a) => 'data' in a && a.data), ['v6.default.svc.cluster.local']);
  });
});
