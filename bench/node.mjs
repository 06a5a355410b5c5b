#!/usr/bin/env node
// bench/node: 100 pods created at once on one real node (containerd, runc, CNI bridge; image
// already present). Prints create→Running latency (p50/p99, measured from the moment the create
// requests were sent to the watch event that shows each pod Running and Ready), pods/s, the RSS
// of the agent and of containerd with the pods running, and the agent's CPU use while idle.
// The agent runs as its own process (`k8ts agent`, joined with the server's token) so that its
// figures do not include the API server's.
// Usage: node bench/node.mjs [--pods 100] [--idle-seconds 30]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentClusterFlags, canRunPods } from '../dist/testing/agent-cluster.js';
import { K8TS_BIN, startK8ts } from '../dist/testing/k8ts-server.js';
import { RawClient } from '../dist/testing/raw-client.js';
import { memoryMiB } from './lib.mjs';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '100' }, 'idle-seconds': { type: 'string', default: '30' } } });
const PODS = Number(values.pods);
const IDLE_S = Number(values['idle-seconds']);
const IMAGE = 'docker.io/k8ts/busybox:1.35';

const why = canRunPods();
if (why) {
  console.log(`bench/node skipped: ${why}`);
  process.exit(0);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** CPU seconds the whole machine has spent busy (all cores, /proc/stat). */
function systemCpuSeconds() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
}

const srv = await startK8ts({ extraArgs: ['--cluster-cidr', `10.${96 + Math.floor(Math.random() * 32)}.0.0/16`] });
const agentDir = mkdtempSync(join(tmpdir(), 'k8ts-bench-node-'));
const flags = await agentClusterFlags('bench');
const args = flags.args.filter((_a, i, all) => all[i] !== '--cluster-cidr' && all[i - 1] !== '--cluster-cidr');
// K8TS_BENCH_AGENT_NODE_ARGS: extra node flags for the agent, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
const nodeArgs = (process.env.K8TS_BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
const agent = spawn(process.execPath, [...nodeArgs, K8TS_BIN, 'agent', '--server', srv.url, '--token-file', join(srv.dataDir, 'token'), '--data-dir', agentDir, '--max-pods', String(Math.max(110, PODS + 10)), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
let agentLog = '';
agent.stderr.on('data', (d) => (agentLog = (agentLog + d).slice(-10_000)));
const raw = new RawClient(srv.kubeconfig, { keepAlive: true });
try {
  for (let i = 0; ; i++) {
    const node = (await raw.request('GET', `/api/v1/nodes/${flags.nodeName}`)).json();
    if (node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    if (i > 600) throw new Error(`node not Ready:\n${agentLog}`);
    await sleep(100);
  }
  // Warm-up pod: the image is present and the pod network exists before the measurement.
  const pod = (name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { bench: 'node' } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'c', image: IMAGE, command: ['sleep', '100000'] }] } });
  await raw.request('POST', '/api/v1/namespaces/default/pods', JSON.stringify(pod('warmup')));
  for (;;) {
    const p = (await raw.request('GET', '/api/v1/namespaces/default/pods/warmup')).json();
    if (p.status?.phase === 'Running') break;
    await sleep(100);
  }

  const runningAt = new Map();
  let t0 = 0;
  const stopWatch = raw.watchLines('/api/v1/namespaces/default/pods?watch=1&labelSelector=bench%3Dnode', (line) => {
    const e = JSON.parse(line);
    const p = e.object;
    if (!p?.metadata?.name?.startsWith('p-') || runningAt.has(p.metadata.name)) return;
    const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (p.status?.phase === 'Running' && ready) runningAt.set(p.metadata.name, performance.now() - t0);
  });
  await sleep(500);
  const containerdPid0 = Number(readFileSync(join(agentDir, 'agent', 'containerd', 'containerd.pid'), 'utf8').trim());
  const cpu0 = { agent: cpuSeconds(agent.pid), containerd: cpuSeconds(containerdPid0), all: systemCpuSeconds() };
  t0 = performance.now();
  await Promise.all(Array.from({ length: PODS }, (_, i) => raw.request('POST', '/api/v1/namespaces/default/pods', JSON.stringify(pod(`p-${i}`)))));
  const created = performance.now() - t0;
  while (runningAt.size < PODS) {
    if (performance.now() - t0 > 300_000) throw new Error(`only ${runningAt.size}/${PODS} pods Running after 300 s\n${agentLog}`);
    await sleep(50);
  }
  stopWatch();
  const burst = { agent: cpuSeconds(agent.pid) - cpu0.agent, containerd: cpuSeconds(containerdPid0) - cpu0.containerd, all: systemCpuSeconds() - cpu0.all };
  const lat = [...runningAt.values()].sort((a, b) => a - b);
  const total = lat[lat.length - 1];
  const agentPid = agent.pid;
  const containerdPid = Number(readFileSync(join(agentDir, 'agent', 'containerd', 'containerd.pid'), 'utf8').trim());
  console.log(`\n== ${PODS} pods at once on one node (image present)`);
  console.log(`create requests sent in ${(created / 1000).toFixed(2)} s`);
  console.log(`create → Running and Ready: p50 ${(pct(lat, 50) / 1000).toFixed(2)} s, p99 ${(pct(lat, 99) / 1000).toFixed(2)} s, last ${(total / 1000).toFixed(2)} s`);
  console.log(`throughput: ${(PODS / (total / 1000)).toFixed(1)} pods/s`);
  console.log(`CPU during the burst: ${burst.all.toFixed(1)} s on the machine (${(burst.all / (total / 1000)).toFixed(2)} cores busy on average): agent ${burst.agent.toFixed(1)} s, containerd ${burst.containerd.toFixed(1)} s, the rest (API server, shims, runc, CNI plugins) ${(burst.all - burst.agent - burst.containerd).toFixed(1)} s`);
  await sleep(5_000);
  console.log(`RSS with ${PODS} pods running: agent ${memoryMiB(agentPid).toFixed(0)} MiB (peak ${memoryMiB(agentPid, 'VmHWM').toFixed(0)} MiB), containerd ${memoryMiB(containerdPid).toFixed(0)} MiB`);
  const c0 = cpuSeconds(agentPid);
  const w0 = performance.now();
  await sleep(IDLE_S * 1000);
  const used = cpuSeconds(agentPid) - c0;
  console.log(`agent CPU while idle with ${PODS} pods: ${((used / ((performance.now() - w0) / 1000)) * 100).toFixed(1)}% of one core over ${IDLE_S} s`);
  const d0 = performance.now();
  await raw.request('DELETE', '/api/v1/namespaces/default/pods?labelSelector=bench%3Dnode');
  for (;;) {
    const items = (await raw.request('GET', '/api/v1/namespaces/default/pods?labelSelector=bench%3Dnode')).json().items;
    if (!items.length) break;
    if (performance.now() - d0 > 300_000) throw new Error('pods not gone after 300 s');
    await sleep(200);
  }
  console.log(`delete all → gone: ${((performance.now() - d0) / 1000).toFixed(2)} s`);
} finally {
  agent.kill('SIGTERM');
  await new Promise((r) => (agent.exitCode !== null ? r() : agent.once('exit', r)));
  await new Promise((r) => spawn(process.execPath, [K8TS_BIN, 'down', '--data-dir', agentDir], { stdio: 'ignore' }).on('exit', r));
  rmSync(agentDir, { recursive: true, force: true });
  await srv.stop();
}
