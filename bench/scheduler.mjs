#!/usr/bin/env node
// bench/scheduler: N simulated nodes (one `k8ts sim` process), Deployments of 100 replicas with
// mixed requests (every 10th with required pod anti-affinity, every 10th with a zone spread
// constraint) until P pods exist. The scheduler runs as its own `k8ts scheduler` process so its
// memory shows apart from the API server's. A watch in this process timestamps each pod's
// creation, binding and Running. Prints pods scheduled per second (sustained, between 5% and
// 95% bound), scheduling latency p50/p99 (creation seen → binding seen), create→Running p50/p99,
// time to all Running, and peak RSS of server, scheduler and simulator; for SQLite and etcd.
// Usage: node bench/scheduler.mjs [--nodes 5000] [--pods 30000] [--only sqlite|etcd]
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startK8ts, K8TS_BIN } from '../dist/testing/k8ts-server.js';
import { RawClient } from '../dist/testing/raw-client.js';
import { memoryMiB, onEachDatastore, pidOf } from './lib.mjs';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    pods: { type: 'string', default: '30000' },
    only: { type: 'string' },
    'timeout-minutes': { type: 'string', default: '30' },
  },
});
const NODES = Number(values.nodes);
const PODS = Number(values.pods);
const REPLICAS = 100;
const DEPLOYMENTS = Math.ceil(PODS / REPLICAS);
const TIMEOUT_MS = Number(values['timeout-minutes']) * 60_000;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

function deployment(i) {
  const cpu = ['100m', '250m', '500m'][i % 3];
  const memory = ['128Mi', '256Mi', '512Mi'][i % 3];
  const labels = { app: `bench-${i}` };
  const spec = { containers: [{ name: 'app', image: 'registry.local/app:1', resources: { requests: { cpu, memory } } }] };
  if (i % 10 === 0) {
    spec.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }] } };
  } else if (i % 10 === 1) {
    spec.topologySpreadConstraints = [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: labels } }];
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `bench-${i}`, namespace: 'bench' },
    spec: { replicas: REPLICAS, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } },
  };
}

async function run(label, startOpts) {
  console.log(`\n== ${label}: ${NODES} nodes, ${DEPLOYMENTS} Deployments × ${REPLICAS} = ${DEPLOYMENTS * REPLICAS} pods`);
  const srv = await startK8ts({ ...startOpts, extraArgs: ['--disable', 'scheduler'] });
  const procs = [];
  const raw = new RawClient(srv.kubeconfig, { keepAlive: true, maxSockets: 16 });
  let stopWatch = () => {};
  try {
    const sched = spawn(process.execPath, [K8TS_BIN, 'scheduler', '--kubeconfig', srv.kubeconfig, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    procs.push(sched);
    const sim = await srv.startAgent('sim', ['--nodes', String(NODES), '--zones', '10', '--capacity', 'cpu=32,memory=128Gi,pods=110', '--lease-renew-interval', '20s']);
    const tReg = performance.now();
    for (;;) {
      const r = await raw.request('GET', '/api/v1/nodes?resourceVersion=0');
      const ready = r.json().items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready >= NODES) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`nodes registered and Ready in ${((performance.now() - tReg) / 1000).toFixed(1)} s`);
    await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }));

    const seen = new Map(); // pod name → { added, bound, running }
    let bound = 0;
    let running = 0;
    const list = await raw.request('GET', '/api/v1/namespaces/bench/pods?resourceVersion=0');
    const rv = list.json().metadata.resourceVersion;
    stopWatch = raw.watchLines(`/api/v1/namespaces/bench/pods?watch=1&resourceVersion=${rv}&allowWatchBookmarks=false`, (line) => {
      const now = performance.now();
      const e = JSON.parse(line);
      const p = e.object;
      const name = p.metadata.name;
      let s = seen.get(name);
      if (!s) seen.set(name, (s = { added: now }));
      if (!s.bound && p.spec?.nodeName) {
        s.bound = now;
        bound++;
      }
      if (!s.running && p.status?.phase === 'Running') {
        s.running = now;
        running++;
      }
    });
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < DEPLOYMENTS) {
          const d = deployment(next++);
          const r = await raw.request('POST', '/apis/apps/v1/namespaces/bench/deployments', JSON.stringify(d));
          if (r.status !== 201) throw new Error(`create deployment: ${r.status} ${r.body}`);
        }
      }),
    );
    const total = DEPLOYMENTS * REPLICAS;
    let lastReport = performance.now();
    while (running < total) {
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`timed out: ${bound} bound, ${running} running of ${total}`);
      await new Promise((r) => setTimeout(r, 250));
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        console.log(`  ${((lastReport - t0) / 1000).toFixed(0)} s: ${seen.size} created, ${bound} bound, ${running} running`);
      }
    }
    const tAll = (performance.now() - t0) / 1000;
    const pods = [...seen.values()].filter((s) => s.bound && s.running);
    const boundTimes = pods.map((s) => s.bound).sort((a, b) => a - b);
    const i5 = Math.floor(boundTimes.length * 0.05);
    const i95 = Math.floor(boundTimes.length * 0.95);
    const sustained = (i95 - i5) / ((boundTimes[i95] - boundTimes[i5]) / 1000);
    const schedLat = pods.map((s) => s.bound - s.added);
    const e2e = pods.map((s) => s.running - s.added);
    console.log(`pods scheduled/s (sustained, 5%→95%): ${sustained.toFixed(0)}`);
    console.log(`scheduling latency (created→bound): p50 ${pct(schedLat, 50).toFixed(0)} ms, p99 ${pct(schedLat, 99).toFixed(0)} ms`);
    console.log(`create→Running per pod: p50 ${pct(e2e, 50).toFixed(0)} ms, p99 ${pct(e2e, 99).toFixed(0)} ms; all ${total} Running after ${tAll.toFixed(1)} s`);
    const server = pidOf(`--data-dir ${srv.dataDir}`);
    console.log(`peak RSS: server ${memoryMiB(server, 'VmHWM').toFixed(0)} MiB, scheduler ${memoryMiB(sched.pid, 'VmHWM').toFixed(0)} MiB, simulator ${memoryMiB(pidOf(`--nodes ${NODES} --zones`), 'VmHWM').toFixed(0)} MiB`);
    await sim.stop();
  } finally {
    stopWatch();
    raw.close();
    for (const p of procs) p.kill('SIGKILL');
    await srv.stop();
  }
}

await onEachDatastore(values.only, run);
process.exit(0);
