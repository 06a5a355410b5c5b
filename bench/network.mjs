#!/usr/bin/env node
// bench/network: on `k8ts up --nodes 3 --isolated`, prints the time to all nodes Ready, then HTTP
// requests/s and latency (p50/p99) of small GETs with keep-alive clients, bounded by --seconds:
// straight to a pod IP, through the Ingress controller, and (when the service proxy runs) through
// a ClusterIP from inside a node and a NodePort from the host; the ratios to the direct figure are
// the cost of each hop. Then, without the cluster, the service proxy's iptables sync with 1,000
// Services × 10 endpoints (bench/proxy.mjs) and DNS queries/s and p99 for service names
// (bench/dns.mjs). Usage: node bench/network.mjs [--seconds 5] [--concurrency 16]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { canRunPods } from '../dist/testing/agent-cluster.js';
import { K8TS_BIN, KUBECTL } from '../dist/testing/k8ts-server.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '16' } } });
const SECONDS = Math.min(Number(values.seconds), 30);
const CONCURRENCY = Math.min(Number(values.concurrency), 128);
const why = canRunPods();
if (why) {
  console.log(`bench/network skipped: ${why}`);
  process.exit(0);
}

// The load generator runs as its own process, possibly inside a node's network namespace.
const LOADER = `
import * as http from 'node:http';
const [url, host, seconds, concurrency] = process.argv.slice(2);
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const lat = []; let errors = 0; const end = Date.now() + Number(seconds) * 1000;
const one = () => new Promise((resolve) => {
  const t = performance.now();
  const req = http.get({ host: u.hostname, port: u.port, path: u.pathname, agent, headers: host ? { host } : {} }, (res) => {
    res.resume(); res.on('end', () => { if (res.statusCode === 200) lat.push(performance.now() - t); else errors++; resolve(); });
  });
  req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  req.on('error', () => { errors++; resolve(); });
});
const worker = async () => { while (Date.now() < end) await one(); };
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const s = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
console.log(JSON.stringify({ rps: lat.length / s, p50: q(0.5), p99: q(0.99), errors }));
agent.destroy();
`;

const name = `nb${Math.floor(Math.random() * 1000)}`;
const index = 50 + Math.floor(Math.random() * 10);
const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-net-'));
const home = mkdtempSync(join(tmpdir(), 'k8ts-bench-home-'));
const loader = join(dir, 'loader.mjs');
writeFileSync(loader, LOADER);
const env = { ...process.env, HOME: home };
try {
  const t0 = performance.now();
  const up = spawnSync(process.execPath, [K8TS_BIN, 'up', '--nodes', '3', '--isolated', '--name', name, '--subnet-index', String(index), '--dir', join(dir, 'cluster'), '--timeout', '180'], { env, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(up.stderr);
  console.log(`\n== k8ts up --nodes 3: all nodes Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const kubeconfig = up.stdout.trim();
  const k = (args, input) => execFileSync(KUBECTL, args, { env: { ...env, KUBECONFIG: kubeconfig }, encoding: 'utf8', input });
  k(['create', 'deployment', 'web', '--image=docker.io/k8ts/busybox:1.35', '--replicas=3', '--', 'sh', '-c', 'echo ok > /index.html; exec httpd -f -p 8080 -h /']);
  k(['rollout', 'status', 'deployment/web', '--timeout=120s']);
  k(['expose', 'deployment', 'web', '--type', 'NodePort', '--port', '80', '--target-port', '8080']);
  k(['create', 'ingress', 'web', '--rule', 'web.bench/index.html=web:80']);
  const pod = JSON.parse(k(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items[0];
  const svc = JSON.parse(k(['get', 'svc', 'web', '-o', 'json']));
  const nodeIP = `172.31.${index}.11`;
  const run = (label, url, host, netns) => {
    const args = [loader, url, host ?? '', String(SECONDS), String(CONCURRENCY)];
    const out = netns ? execFileSync('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, ...args], { encoding: 'utf8' }) : execFileSync(process.execPath, args, { encoding: 'utf8' });
    const r = JSON.parse(out.trim());
    if (!r.rps) throw new Error(`${label}: no successful request (${r.errors} errors)`);
    console.log(`${label.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   errors ${r.errors}`);
    return r;
  };
  await new Promise((r) => setTimeout(r, 2000));
  const direct = run('host → pod IP', `http://${pod.status.podIP}:8080/index.html`);
  const ing = run('host → Ingress (router) → pod', `http://172.31.${index}.1:80/index.html`, 'web.bench');
  console.log(`  Ingress / direct: ${(ing.rps / direct.rps).toFixed(2)} of the requests/s, p99 × ${(ing.p99 / direct.p99).toFixed(2)}`);
  const proxied = spawnSync('nsenter', [`--net=/run/netns/${name}-node-1`, '--', 'iptables-save', '-t', 'nat'], { encoding: 'utf8' }).stdout.includes('KUBE-SERVICES');
  if (proxied) {
    const inNode = run('node → pod IP', `http://${pod.status.podIP}:8080/index.html`, undefined, `${name}-node-1`);
    const cip = run('node → ClusterIP → pod', `http://${svc.spec.clusterIP}:80/index.html`, undefined, `${name}-node-1`);
    console.log(`  ClusterIP / direct: ${(cip.rps / inNode.rps).toFixed(2)} of the requests/s, p99 × ${(cip.p99 / inNode.p99).toFixed(2)}`);
    const np = run('host → NodePort → pod', `http://${nodeIP}:${svc.spec.ports[0].nodePort}/index.html`);
    console.log(`  NodePort / direct: ${(np.rps / direct.rps).toFixed(2)} of the requests/s, p99 × ${(np.p99 / direct.p99).toFixed(2)}`);
  } else {
    console.log('(no service proxy rules on the nodes: ClusterIP and NodePort not measured)');
  }
} finally {
  spawnSync(process.execPath, [K8TS_BIN, 'down', '--cluster', name, '--dir', join(dir, 'cluster')], { env });
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
}

// The other two figures of the benchmark, each its own script (runnable alone too).
for (const script of ['proxy.mjs', 'dns.mjs']) {
  console.log(`\n== bench/${script}`);
  spawnSync(process.execPath, [new URL(script, import.meta.url).pathname], { stdio: 'inherit', timeout: 300_000 });
}
