// Cluster DNS as a component of `k8ts server` (or an agent): the server on the node's address,
// upstreams from the host's resolv.conf, and the kube-dns Service kept pointing at it.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Client } from '../../client/client.js';
import { clusterDNSIP, ensureKubeDNSService } from './kube-dns-service.js';
import type { Logger } from '../../machinery/logger.js';
import { ClusterDNS } from './server.js';
import type { PodsMode } from './records.js';

/** How often the kube-dns objects are checked and repaired (someone may delete them). */
const RECONCILE_MS = 60_000;
const RETRY_MS = 5_000;

/** The nameservers of a resolv.conf as host:port upstreams (none if the file is missing). */
export function upstreamsFromResolvConf(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    // Drop a zone index (fe80::1%eth0): node's sockets take the address alone.
    const ip = m?.[1].replace(/%.*$/, '');
    if (ip && isIP(ip)) out.push(isIP(ip) === 6 ? `[${ip}]:53` : `${ip}:53`);
  }
  return out;
}

export interface ClusterDNSComponentOptions {
  client: Client;
  /** An address of this node that pods can reach (its InternalIP); the kube-dns endpoint. */
  nodeIP: string;
  /** Default 53. Any free port works: the service proxy DNATs <clusterIP>:53 to it. */
  port?: number;
  /** --service-cluster-ip-range; kube-dns takes its tenth address. */
  serviceCIDR?: string;
  clusterDomain?: string;
  /** Default: the host's /etc/resolv.conf nameservers. */
  upstreams?: string[];
  pods?: PodsMode;
  nodeName?: string;
  /** Serve /metrics and /health on nodeIP at this port (CoreDNS: 9153) and publish it as `metrics`. */
  metricsPort?: number;
  log?: Logger;
}

export interface ClusterDNSComponent {
  dns: ClusterDNS;
  clusterIP: string;
  stop(): Promise<void>;
}

/** Starts serving, then writes (and keeps) the kube-dns Service and endpoints in the background. */
export async function startClusterDNS(opts: ClusterDNSComponentOptions): Promise<ClusterDNSComponent> {
  const clusterIP = clusterDNSIP(opts.serviceCIDR ?? '10.43.0.0/16');
  const upstreams = opts.upstreams ?? upstreamsFromResolvConf();
  const dns = new ClusterDNS({
    client: opts.client,
    listen: [{ host: opts.nodeIP, port: opts.port ?? 53 }],
    clusterDomain: opts.clusterDomain,
    upstreams,
    pods: opts.pods,
    nameservers: [clusterIP],
    ...(opts.metricsPort !== undefined ? { metrics: { host: opts.nodeIP, port: opts.metricsPort } } : {}),
    log: opts.log,
  });
  await dns.start();
  const port = dns.addresses[0].port;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const reconcile = async () => {
    let delay = RECONCILE_MS;
    try {
      await ensureKubeDNSService(opts.client, { clusterIP, endpoint: { ip: opts.nodeIP, port }, nodeName: opts.nodeName, metricsPort: dns.metricsAddress?.port });
    } catch (e) {
      opts.log?.warn({ err: String(e) }, 'dns: could not write the kube-dns Service; retrying');
      delay = RETRY_MS;
    }
    if (!abort.signal.aborted) timer = setTimeout(() => void reconcile(), delay);
  };
  const first = reconcile();
  return {
    dns,
    clusterIP,
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await first;
      clearTimeout(timer);
      await dns.stop();
    },
  };
}
