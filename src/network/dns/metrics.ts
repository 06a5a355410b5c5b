// Prometheus text metrics for the DNS server, under CoreDNS's metric names where one fits
// (served with a /health endpoint by ../metrics-endpoint.ts).

import type { ClusterDNS } from './server.js';

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
