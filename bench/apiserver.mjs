#!/usr/bin/env node
// bench/apiserver: 50 concurrent clients create 20,000 pods (realistic specs); then get, list
// (all, and by label selector), update, with 100 watchers receiving every event.
// Prints requests/s, p50/p99 latency, watch delivery lag p99 and server RSS, for SQLite and etcd.
// Usage: node bench/apiserver.mjs [--pods N] [--clients N] [--watchers N] [--only sqlite|etcd]
import { parseArgs } from 'node:util';
import { startK8ts } from '../dist/testing/k8ts-server.js';
import { RawClient } from '../dist/testing/raw-client.js';
import { memoryMiB, onEachDatastore, pidOf } from './lib.mjs';

const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '50' },
    watchers: { type: 'string', default: '100' },
    only: { type: 'string' },
  },
});
const PODS = Number(values.pods);
const CLIENTS = Number(values.clients);
const WATCHERS = Number(values.watchers);

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const fmt = (ms) => `${ms.toFixed(1)} ms`;

function podSpec(i) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `bench-${i}`,
      labels: { app: `app-${i % 100}`, tier: i % 3 ? 'web' : 'db', 'pod-template-hash': '5d8f9c7b6' },
      annotations: { 'bench/created': new Date().toISOString() },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.local/app:1.2.3',
          command: ['/bin/app'],
          args: ['--port=8080', '--verbose'],
          ports: [{ name: 'http', containerPort: 8080 }],
          env: [{ name: 'MODE', value: 'prod' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: '/live', port: 8080 }, initialDelaySeconds: 10 },
          volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
        },
      ],
      volumes: [{ name: 'config', configMap: { name: 'app-config' } }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
  };
}

async function pool(n, total, fn) {
  let next = 0;
  const lat = [];
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await fn(i);
      lat.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, worker));
  const secs = (performance.now() - t0) / 1000;
  return { rate: total / secs, p50: pct(lat, 50), p99: pct(lat, 99), secs };
}

async function run(label, startOpts) {
  const srv = await startK8ts(startOpts);
  const ns = 'bench';
  const raw = new RawClient(srv.kubeconfig, { keepAlive: true, maxSockets: CLIENTS });
  try {
    await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }));
    const base = `/api/v1/namespaces/${ns}/pods`;
    const create = await pool(CLIENTS, PODS, async (i) => {
      const r = await raw.request('POST', base, JSON.stringify(podSpec(i)));
      if (r.status !== 201) throw new Error(`create ${i}: ${r.status} ${r.body}`);
    });
    const pid = pidOf(`--data-dir ${srv.dataDir}`);
    const rssAfterCreate = memoryMiB(pid);
    const get = await pool(CLIENTS, 5000, async (i) => {
      const r = await raw.request('GET', `${base}/bench-${(i * 7919) % PODS}`);
      if (r.status !== 200) throw new Error(`get: ${r.status}`);
    });
    const listAll = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await raw.request('GET', base);
      listAll.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`list ${r.status}`);
    }
    const listSel = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await raw.request('GET', `${base}?labelSelector=app%3Dapp-${i},tier%3Dweb`);
      listSel.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`list sel ${r.status}`);
    }
    // Watchers on their own connections, then updates carrying a send timestamp.
    const lags = [];
    let received = 0;
    // Each update touches a different pod, so there are at most as many as pods.
    const UPDATES = Math.min(2000, PODS);
    const watchClients = [];
    const closers = [];
    const rv = (await raw.request('GET', `${base}?limit=1`)).json().metadata.resourceVersion;
    // Delivery lag: from the moment the write was acknowledged to the moment a watcher has it
    // (an event that beats the acknowledgement counts as 0).
    const acked = new Map();
    const early = [];
    const nameRe = /"name":"(bench-\d+)"/;
    for (let w = 0; w < WATCHERS; w++) {
      const wc = new RawClient(srv.kubeconfig, { keepAlive: false });
      watchClients.push(wc);
      // Lines are matched, not parsed, so the client costs little next to the server.
      closers.push(
        wc.watchLines(`${base}?watch=1&resourceVersion=${rv}`, (line) => {
          received++;
          if (!line.includes('"type":"MODIFIED"')) return;
          const m = nameRe.exec(line);
          if (!m) return;
          const t = acked.get(m[1]);
          if (t === undefined) early.push(0);
          else lags.push(Date.now() - t);
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    const update = await pool(CLIENTS, UPDATES, async (i) => {
      const name = `bench-${i}`;
      const patch = JSON.stringify({ metadata: { annotations: { 'bench/sent': String(Date.now()) } } });
      const r = await raw.request('PATCH', `${base}/${name}`, patch, { 'content-type': 'application/merge-patch+json' });
      if (r.status !== 200) throw new Error(`update: ${r.status} ${r.body}`);
      acked.set(name, Date.now());
    });
    const deadline = Date.now() + 60_000;
    while (received < WATCHERS * UPDATES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const rssEnd = memoryMiB(pid);
    lags.push(...early);
    for (const c of closers) c();
    for (const wc of watchClients) wc.close();
    console.log(`\n== ${label}: ${PODS} pods, ${CLIENTS} clients, ${WATCHERS} watchers`);
    console.log(`create   ${create.rate.toFixed(0)} req/s  p50 ${fmt(create.p50)}  p99 ${fmt(create.p99)}`);
    console.log(`get      ${get.rate.toFixed(0)} req/s  p50 ${fmt(get.p50)}  p99 ${fmt(get.p99)}`);
    console.log(`list all (${PODS})      median ${fmt(pct(listAll, 50))}`);
    console.log(`list by selector        median ${fmt(pct(listSel, 50))}`);
    console.log(`update   ${update.rate.toFixed(0)} req/s  p50 ${fmt(update.p50)}  p99 ${fmt(update.p99)} (with ${WATCHERS} watchers)`);
    console.log(`watch    ${received}/${WATCHERS * UPDATES} events delivered; lag p50 ${fmt(pct(lags, 50))}  p99 ${fmt(pct(lags, 99))}`);
    console.log(`server RSS  after creates ${rssAfterCreate.toFixed(0)} MiB, at end ${rssEnd.toFixed(0)} MiB`);
  } finally {
    raw.close();
    await srv.stop();
  }
}

await onEachDatastore(values.only, run);
