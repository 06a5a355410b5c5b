#!/usr/bin/env node
// bench/dns: the cluster DNS server (in a worker thread, over 1000 Services with 3-endpoint
// headless peers) under a closed-loop UDP load from this thread: W outstanding queries, for D
// seconds. The mix is what pods send: service A lookups, the search-path NXDOMAINs before them
// (`name.ns.svc.cluster.local` for outside names), SRV of a headless Service, and outside names
// answered from the forward cache (a stub upstream on loopback). Prints queries/s and latency
// p50/p99/max. Usage: node bench/dns.mjs [--seconds 5] [--window 64] [--services 1000]
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import dnsPacket from 'dns-packet';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    window: { type: 'string', default: '64' },
    services: { type: 'string', default: '1000' },
  },
});

if (!isMainThread) {
  // The server side: objects, stub upstream, ClusterDNS.
  const { ClusterDNS } = await import('../dist/network/dns/server.js');
  const { recordSourceFromObjects } = await import('../dist/network/dns/records.js');
  const { startStubUpstream, service, endpointSlice } = await import('../dist/network/dns/testing.js');
  const n = workerData.services;
  const services = [];
  const slices = [];
  for (let i = 0; i < n; i++) {
    services.push(service('default', `svc-${i}`, { clusterIP: `10.43.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    services.push(service('default', `hl-${i}`, { clusterIP: 'None', ports: [{ name: 'web', port: 80 }] }));
    slices.push(endpointSlice('default', `hl-${i}`, `hl-${i}-x`, [0, 1, 2].map((k) => ({ ip: `10.42.${i >> 6}.${((i & 63) << 2) + k}`, hostname: `hl-${i}-${k}` })), [{ name: 'web', port: 80 }]));
  }
  const upstream = await startStubUpstream({ 'example.com': [{ type: 'A', ttl: 3600, data: '93.184.216.34' }] });
  const dns = new ClusterDNS({ source: recordSourceFromObjects({ services, endpointSlices: slices }), listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [`127.0.0.1:${upstream.port}`] });
  await dns.start();
  parentPort.postMessage({ port: dns.addresses[0].port });
  parentPort.on('message', async (m) => {
    if (m === 'stop') {
      parentPort.postMessage({ stats: dns.stats, forwarder: dns.forwarder.stats });
      await dns.stop();
      await upstream.stop();
      process.exit(0);
    }
  });
} else {
  const SECONDS = Number(values.seconds);
  const WINDOW = Number(values.window);
  const SERVICES = Number(values.services);
  const worker = new Worker(new URL(import.meta.url), { workerData: { services: SERVICES } });
  const { port } = await new Promise((r) => worker.once('message', r));

  const names = (i) => {
    const k = i % SERVICES;
    switch (i % 4) {
      case 0:
        return [`svc-${k}.default.svc.cluster.local`, 'A'];
      case 1:
        return ['example.com.default.svc.cluster.local', 'A'];
      case 2:
        return [`_web._tcp.hl-${k}.default.svc.cluster.local`, 'SRV'];
      default:
        return ['example.com', 'A'];
    }
  };
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const sent = new Map();
  const latencies = [];
  let seq = 0;
  let errors = 0;
  let timeouts = 0;
  let done = false;
  const send = () => {
    if (done) return;
    const id = seq++ & 0xffff;
    const [name, type] = names(seq);
    const msg = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }] });
    sent.set(id, process.hrtime.bigint());
    sock.send(msg, port, '127.0.0.1');
  };
  sock.on('message', (m) => {
    const id = m.readUInt16BE(0);
    const t0 = sent.get(id);
    if (t0 === undefined) return;
    sent.delete(id);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const rcode = m.readUInt16BE(2) & 0xf;
    if (rcode !== 0 && rcode !== 3) errors++;
    send();
  });
  // Lost datagrams would shrink the window: resend for anything older than a second.
  const sweeper = setInterval(() => {
    const now = process.hrtime.bigint();
    for (const [id, t0] of sent) {
      if (now - t0 > 1_000_000_000n) {
        sent.delete(id);
        timeouts++;
        send();
      }
    }
  }, 250);
  // Warm-up (the forward cache, the JIT), then the measured run.
  for (let i = 0; i < WINDOW; i++) send();
  await new Promise((r) => setTimeout(r, 500));
  latencies.length = 0;
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const count = latencies.length;
  done = true;
  clearInterval(sweeper);
  sock.close();
  worker.postMessage('stop');
  const final = await new Promise((r) => worker.once('message', r));
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(2);
  console.log(`dns: ${SERVICES * 2} Services, window ${WINDOW}, ${SECONDS}s over UDP on loopback`);
  console.log(`  ${Math.round(count / elapsed)} queries/s; latency p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${latencies.at(-1).toFixed(2)} ms`);
  console.log(`  errors ${errors}, timeouts ${timeouts}; server ${JSON.stringify(final.stats)}, forwarder ${JSON.stringify(final.forwarder)}`);
  await new Promise((r) => worker.once('exit', r));
}
