#!/usr/bin/env node
// bench/ingress: requests per second and p99 latency of small GETs through the built-in Ingress
// controller versus straight to the backend, with keep-alive clients. Bounded by --seconds.
// Usage: node bench/ingress.mjs [--seconds 3] [--concurrency 16] [--size 1024]
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import { IngressController } from '../dist/network/ingress/controller.js';
import { startTestApi } from '../dist/testing/api-harness.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '16' }, size: { type: 'string', default: '1024' } } });
const SECONDS = Math.min(Number(values.seconds), 30);
const CONCURRENCY = Math.min(Number(values.concurrency), 256);
const payload = Buffer.alloc(Number(values.size), 'x');

async function load(addr, port, host) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies = [];
  const end = Date.now() + SECONDS * 1000;
  let errors = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.get({ host: addr, port, path: '/bench', headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200) errors++;
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) await one();
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const p = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { rps: latencies.length / elapsed, p50: p(0.5), p99: p(0.99), errors };
}

const api = await startTestApi();
const client = api.client('bench');
const backend = http.createServer((_req, res) => res.end(payload));
await new Promise((r) => backend.listen(0, '127.0.0.2', r));
const backendPort = backend.address().port;
const ctl = new IngressController({ client: api.client('k8ts-ingress'), httpPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', log: { info() {}, warn() {}, error: console.error } });
try {
  await ctl.start();
  await client.resource({ group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true }).create('default', { metadata: { name: 'bench' }, spec: { ports: [{ name: 'http', port: 80, targetPort: backendPort }] } });
  await client.resource({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true }).create('default', {
    metadata: { name: 'bench-1', labels: { 'kubernetes.io/service-name': 'bench' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: backendPort, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.2'], conditions: { ready: true } }],
  });
  await client.resource({ group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true }).create('default', {
    metadata: { name: 'bench' },
    spec: { rules: [{ host: 'bench.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'bench', port: { number: 80 } } } }] } }] },
  });
  for (let i = 0; ; i++) {
    const status = await new Promise((r) => http.get({ host: '127.0.0.1', port: ctl.ports.http, headers: { host: 'bench.test' }, agent: false }, (res) => (res.resume(), r(res.statusCode))).on('error', () => r(0)));
    if (status === 200) break;
    if (i > 200) throw new Error('ingress never became ready');
    await new Promise((r) => setTimeout(r, 25));
  }
  console.log(`${SECONDS}s each, ${CONCURRENCY} concurrent keep-alive clients, ${payload.length}-byte responses`);
  const fmt = (label, r) => console.log(`${label.padEnd(14)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   errors ${r.errors}`);
  fmt('direct', await load('127.0.0.2', backendPort, 'bench.test'));
  fmt('through ingress', await load('127.0.0.1', ctl.ports.http, 'bench.test'));
} finally {
  await ctl.stop();
  backend.closeAllConnections();
  await new Promise((r) => backend.close(r));
  await api.stop();
}
