// Prometheus text metrics for the DNS server, under CoreDNS's metric names where one fits, and a
// /health endpoint (CoreDNS's health plugin answers "OK").

import { createServer, type Server } from 'node:http';
import type { ClusterDNS, ListenAddress } from './server.js';

export interface MetricsServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

export function renderMetrics(dns: ClusterDNS): string {
  const s = dns.stats;
  const f = dns.forwarder.stats;
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'counter' | 'gauge', samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
  };
  metric('coredns_dns_requests_total', 'Counter of DNS requests made per protocol.', 'counter', [
    ['{proto="udp"}', s.udpQueries],
    ['{proto="tcp"}', s.tcpQueries],
  ]);
  metric('k8ts_dns_cluster_answers_total', 'Questions answered from the cluster zone and cluster reverse names.', 'counter', [['', s.clusterAnswers]]);
  metric('coredns_forward_requests_total', 'Counter of requests made to upstreams.', 'counter', [['', f.upstreamQueries]]);
  metric('coredns_cache_hits_total', 'The count of forwarded questions answered from the cache.', 'counter', [['', f.cacheHits]]);
  metric('coredns_cache_entries', 'The number of elements in the cache.', 'gauge', [['', dns.forwarder.cacheEntries]]);
  metric('k8ts_dns_formerr_total', 'Malformed queries answered with FORMERR.', 'counter', [['', s.formErrors]]);
  metric('k8ts_dns_servfail_total', 'Queries answered with SERVFAIL.', 'counter', [['', s.servFails]]);
  return lines.join('\n') + '\n';
}

export function startMetricsServer(dns: ClusterDNS, listen: ListenAddress): Promise<MetricsServer> {
  const srv: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(dns));
    else if (path === '/health') res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(listen.port, listen.host, () => {
      srv.off('error', reject);
      const a = srv.address() as { port: number };
      resolve({
        address: { host: listen.host, port: a.port },
        close: () => new Promise<void>((r) => srv.close(() => r())),
      });
    });
  });
}
