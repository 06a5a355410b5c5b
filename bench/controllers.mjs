#!/usr/bin/env node
// bench/controllers: on 100 simulated nodes, a Deployment of 1,000 replicas from zero to all
// Ready, then a rolling update of its image (25% surge / 25% unavailable) to completion.
// Prints both durations and the server's peak RSS (API server + controllers + scheduler).
// Usage: node bench/controllers.mjs [--replicas 1000] [--nodes 100] [--only sqlite|etcd]
import { parseArgs } from 'node:util';
import { startK8ts } from '../dist/testing/k8ts-server.js';
import { RawClient } from '../dist/testing/raw-client.js';
import { memoryMiB, onEachDatastore, pidOf } from './lib.mjs';

const { values } = parseArgs({ options: { replicas: { type: 'string', default: '1000' }, nodes: { type: 'string', default: '100' }, only: { type: 'string' } } });
const REPLICAS = Number(values.replicas);
const NODES = Number(values.nodes);


async function waitFor(raw, cond, timeoutMs = 600_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const d = (await raw.request('GET', '/apis/apps/v1/namespaces/default/deployments/big')).json();
    if (cond(d)) return d;
    if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(d.status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function run(label, startOpts) {
  console.log(`\n== ${label}: Deployment of ${REPLICAS} on ${NODES} simulated nodes`);
  const srv = await startK8ts(startOpts);
  const raw = new RawClient(srv.kubeconfig, { keepAlive: true });
  try {
    const sim = await srv.startAgent('sim', ['--nodes', String(NODES), '--capacity', 'cpu=64,memory=256Gi,pods=250']);
    for (;;) {
      const n = (await raw.request('GET', '/api/v1/nodes?resourceVersion=0')).json().items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (n >= NODES) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const pid = pidOf(`--data-dir ${srv.dataDir}`);
    const rssBefore = memoryMiB(pid);
    const dep = (image) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'big', namespace: 'default' },
      spec: {
        replicas: REPLICAS,
        selector: { matchLabels: { app: 'big' } },
        template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'app', image, resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
      },
    });
    let t = performance.now();
    const r = await raw.request('POST', '/apis/apps/v1/namespaces/default/deployments', JSON.stringify(dep('app:1')));
    if (r.status !== 201) throw new Error(r.body);
    await waitFor(raw, (d) => d.status?.readyReplicas === REPLICAS && d.status?.updatedReplicas === REPLICAS);
    const scaleUp = (performance.now() - t) / 1000;
    console.log(`0 → ${REPLICAS} Ready: ${scaleUp.toFixed(1)} s (${(REPLICAS / scaleUp).toFixed(0)} pods/s)`);
    t = performance.now();
    const p = await raw.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/big', JSON.stringify({ spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } }), { 'content-type': 'application/strategic-merge-patch+json' });
    if (p.status !== 200) throw new Error(p.body);
    const gen = p.json().metadata.generation;
    await waitFor(raw, (d) => d.status?.observedGeneration >= gen && d.status.updatedReplicas === REPLICAS && d.status.replicas === REPLICAS && d.status.availableReplicas === REPLICAS);
    const roll = (performance.now() - t) / 1000;
    console.log(`rolling update of ${REPLICAS}: ${roll.toFixed(1)} s`);
    console.log(`server RSS: ${rssBefore.toFixed(0)} MiB before, peak ${memoryMiB(pid, 'VmHWM').toFixed(0)} MiB`);
    await sim.stop();
  } finally {
    raw.close();
    await srv.stop();
  }
}

await onEachDatastore(values.only, run);
process.exit(0);
