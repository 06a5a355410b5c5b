#!/usr/bin/env node
// bench/proxy: the service proxy's sync with S Services × E endpoints (default 1000 × 10).
// Prints: the pure rule build (buildRuleSet + renderRestore), a first full iptables-restore
// inside a throwaway network namespace (never the host's iptables), a full resync of the same
// state, and an incremental sync after one Service's endpoints change.
// Figures are medians of 5 runs.
// Usage: node bench/proxy.mjs [--services 1000] [--endpoints 10]   (needs root for the netns part)
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { iptablesRunner } from '../dist/network/proxy/iptables.js';
import { buildRuleSet, parseSave, renderRestore } from '../dist/network/proxy/rules.js';

const { values } = parseArgs({ options: { services: { type: 'string', default: '1000' }, endpoints: { type: 'string', default: '10' } } });
const S = Number(values.services);
const E = Number(values.endpoints);

function objects(changed = -1) {
  const services = [];
  const endpointSlices = [];
  for (let i = 0; i < S; i++) {
    const name = `svc-${i}`;
    services.push({
      metadata: { namespace: 'default', name },
      spec: { type: i % 10 === 0 ? 'NodePort' : 'ClusterIP', clusterIP: `10.43.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30000 + i }] },
    });
    const base = i === changed ? 100 : 0;
    endpointSlices.push({
      metadata: { namespace: 'default', name: `${name}-x`, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: Array.from({ length: E }, (_, j) => ({ addresses: [`10.42.${(i * E + j + base) >> 8 & 255}.${(i * E + j + base) & 255}`], nodeName: `node-${j % 3}`, conditions: { ready: true } })),
    });
  }
  return { services, endpointSlices, nodeName: 'node-0', nodeIPs: ['192.168.1.10'], clusterCIDR: '10.42.0.0/16' };
}

const ms = (t0) => (performance.now() - t0).toFixed(1);
const state = objects();
let t0 = performance.now();
const rs = buildRuleSet(state);
const buildMs = ms(t0);
t0 = performance.now();
const full = renderRestore(rs, { installJumps: true });
const renderMs = ms(t0);
const text = full.filter + full.nat;
console.log(`${S} services × ${E} endpoints: ${rs.chains.size} nat chains, ${text.split('\n').length} lines, ${(text.length / 1024 / 1024).toFixed(1)} MiB`);
console.log(`build ${buildMs} ms, render ${renderMs} ms`);

if (process.getuid?.() !== 0) {
  console.log('not root: skipping iptables-restore in a network namespace');
  process.exit(0);
}
const RUNS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)].toFixed(0);
const first = [];
const save = [];
const resync = [];
const incremental = [];
let incInfo = '';
for (let run = 0; run < RUNS; run++) {
  const ns = `k8ts-bench-${process.pid}-${run}`;
  spawnSync('ip', ['netns', 'add', ns], { stdio: 'inherit' });
  try {
    const ipt = iptablesRunner({ netns: ns });
    t0 = performance.now();
    await ipt.restore(text);
    first.push(performance.now() - t0);

    t0 = performance.now();
    const existing = { nat: parseSave(await ipt.save('nat')), filter: parseSave(await ipt.save('filter')) };
    save.push(performance.now() - t0);
    t0 = performance.now();
    const again = renderRestore(buildRuleSet(state), { existing });
    await ipt.restore(again.filter + again.nat);
    resync.push(performance.now() - t0);

    t0 = performance.now();
    const inc = renderRestore(buildRuleSet(objects(7 + run)), { previous: again.applied });
    await ipt.restore(inc.filter + inc.nat);
    incremental.push(performance.now() - t0);
    incInfo = `${inc.chainsWritten} chain(s) written, ${((inc.filter + inc.nat).length / 1024).toFixed(0)} KiB`;
  } finally {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'inherit' });
  }
}
console.log(`medians of ${RUNS} runs, each in a fresh network namespace:`);
console.log(`  first sync (iptables-restore of everything): ${median(first)} ms`);
console.log(`  full resync: iptables-save ${median(save)} ms + build and restore ${median(resync)} ms`);
console.log(`  incremental sync, one Service's endpoints replaced (build + restore): ${median(incremental)} ms (${incInfo})`);
