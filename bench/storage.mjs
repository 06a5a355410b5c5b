#!/usr/bin/env node
// Storage figures for both drivers (no assertions): create throughput and latency, and list
// latency for 20,000 keys under one prefix. Run after a build:
//   npx tsc -p . && node bench/storage.mjs [--keys 20000] [--skip-etcd]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = new URL('..', import.meta.url);
const { SqliteStore } = await import(new URL('dist/storage/sqlite/sqlite-store.js', root).href);
const { EtcdStore } = await import(new URL('dist/storage/etcd/etcd-store.js', root).href);
const { startEtcdCluster, etcdAvailable } = await import(new URL('dist/testing/etcd-cluster.js', root).href);

const args = process.argv.slice(2);
const keys = Number(args[args.indexOf('--keys') + 1] || 0) || 20_000;
const skipEtcd = args.includes('--skip-etcd');

// A value the size of a small Pod object.
const value = Buffer.from(JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { labels: { app: 'bench' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.27', resources: { requests: { cpu: '100m' } } }] }, pad: 'x'.repeat(900) }));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;

async function creates(store, prefix, n, concurrency) {
  const lat = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await store.create(`${prefix}${String(i).padStart(6, '0')}`, value);
        lat.push(performance.now() - s);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { perSec: n / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function timed(fn, runs = 5) {
  const t = [];
  let r;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    r = await fn();
    t.push(performance.now() - s);
  }
  return { median: pct(t, 50), result: r };
}

async function bench(name, store) {
  console.log(`\n== ${name}`);
  const seq = await creates(store, '/registry/configmaps/seq/', 2000, 1);
  console.log(`creates, 1 in flight:   ${seq.perSec.toFixed(0)}/s  p50 ${ms(seq.p50)}  p99 ${ms(seq.p99)}`);
  const par = await creates(store, '/registry/pods/default/', keys, 64);
  console.log(`creates, 64 in flight:  ${par.perSec.toFixed(0)}/s  p50 ${ms(par.p50)}  p99 ${ms(par.p99)}  (${keys} keys)`);
  const revAfterCreates = await store.currentRevision();
  // Some churn so the log holds history: update 10% of the keys.
  const listed = await store.list({ prefix: '/registry/pods/default/', limit: Math.floor(keys / 10) });
  for (const kv of listed.items) await store.update(kv.key, value, kv.modRevision);

  const full = await timed(() => store.list({ prefix: '/registry/pods/default/' }));
  console.log(`list ${full.result.items.length} keys (latest):       ${ms(full.median)}`);
  const page = await timed(() => store.list({ prefix: '/registry/pods/default/', limit: 500 }), 20);
  console.log(`list first 500 (latest):          ${ms(page.median)}`);
  const mid = await timed(() => store.list({ prefix: '/registry/pods/default/', limit: 500, startAfter: `/registry/pods/default/${String(keys / 2).padStart(6, '0')}` }), 20);
  console.log(`list 500 from the middle:         ${ms(mid.median)}`);
  const old = await timed(() => store.list({ prefix: '/registry/pods/default/', revision: revAfterCreates }), 3);
  console.log(`list ${old.result.items.length} keys (old revision):  ${ms(old.median)}`);
  const cnt = await timed(() => store.count('/registry/pods/default/'), 10);
  console.log(`count:                            ${ms(cnt.median)}`);
  const other = await timed(() => store.list({ prefix: '/registry/services/' }), 20);
  console.log(`list an empty neighbouring prefix: ${ms(other.median)}`);
  const t = performance.now();
  await store.compact(await store.currentRevision());
  console.log(`compact everything:               ${ms(performance.now() - t)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-'));
try {
  const file = new SqliteStore({ path: join(dir, 'db', 'state.db') });
  await bench('sqlite (file, WAL, synchronous=NORMAL)', file);
  await file.close();
  const mem = new SqliteStore({ path: ':memory:' });
  await bench('sqlite (:memory:)', mem);
  await mem.close();
  if (!skipEtcd && etcdAvailable()) {
    const cluster = await startEtcdCluster({ members: 1 });
    const store = new EtcdStore({ endpoints: cluster.endpoint });
    try {
      await bench('etcd (1 member, same machine)', store);
    } finally {
      await store.close();
      await cluster.stop();
    }
  } else {
    console.log('\n(etcd skipped)');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
