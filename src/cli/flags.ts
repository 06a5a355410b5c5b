// Flag definitions live apart from the code that runs a role (as k3s does).

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_FLAG_OPTIONS, AGENT_FLAGS_HELP, agentSettings, type AgentSettings } from './agent-flags.js';

export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts/server' : join(homedir(), '.k8ts', 'server');
}

export interface ServerFlags {
  dataDir: string;
  securePort: number;
  bindAddress: string;
  /** Unset: the bind address when it is a specific one, else this machine's (server.ts decides). */
  advertiseAddress?: string;
  datastoreEndpoint?: string;
  tokenAuthFile?: string;
  serviceClusterIPRange: string;
  serviceNodePortRange: string;
  tlsSAN: string[];
  logLevel: string;
  /** Milliseconds between compactions of old revisions (upstream: 5 minutes). */
  compactionIntervalMs: number;
  /** Components not to run: scheduler, controllers, or single controllers by name. */
  disable: string[];
  /** kube-controller-manager's --controllers: "*" for all, names to enable, "-name" to disable. */
  controllers: string[];
  clusterCIDR: string;
  nodeCIDRMaskSize: number;
  nodeMonitorGracePeriodMs: number;
  /** Root of local-path volumes (k3s: --default-local-storage-path), default <data-dir>/storage. */
  defaultLocalStoragePath: string;
  /** The embedded node agent's settings; undefined with --disable-agent. */
  agent?: AgentSettings;
  ingressHttpPort: number;
  ingressHttpsPort: number;
  clusterDNSPort: number;
  /** CoreDNS's metrics port (9153); 0 picks a free one. */
  clusterDNSMetricsPort: number;
  /** The Ingress controller's /metrics and /healthz (ingress-nginx's 10254); 0 picks a free one. */
  ingressMetricsPort: number;
}

export const SERVER_HELP = `Usage: k8ts server [flags]

Flags:
  --data-dir DIR                 Folder for the datastore, certificates and kubeconfig (default ${defaultDataDir()})
  --secure-port PORT             HTTPS port of the API server (default 6443)
  --bind-address IP              Address to listen on (default 0.0.0.0)
  --advertise-address IP         Address published in the kubernetes Endpoints (default: the bind
                                 address, or the node's address when binding to 0.0.0.0)
  --datastore-endpoint URL       etcd://host:2379[,etcd://host2:2379] to use etcd instead of the embedded SQLite
  --token-auth-file FILE         Static bearer tokens (CSV: token,user,uid,"group1,group2")
  --service-cluster-ip-range CIDR  Service IP range (default 10.43.0.0/16)
  --service-node-port-range RANGE  Port range for NodePort and LoadBalancer Services (default 30000-32767)
  --tls-san NAME                 Extra subject alternative name for the serving certificate (repeatable)
  --log-level LEVEL              info, debug, warn, error (default info)
  --compaction-interval DURATION How often old revisions are compacted, e.g. 5m, 30s (default 5m)
  --disable LIST                 Components not to run: scheduler, ingress, dns, controllers, or controllers by name
                                 (garbage-collector, namespace, deployment, ...); comma-separated, repeatable
  --controllers LIST             Controllers to run, as kube-controller-manager: '*' (default) for all,
                                 a name to enable one, '-name' to disable one; comma-separated
  --cluster-cidr CIDR            Pod network, split into one range per node (default 10.42.0.0/16)
  --node-cidr-mask-size N        Prefix length of each node's pod range (default 24)
  --node-monitor-grace-period D  How long a node may go without a heartbeat before it is marked
                                 NotReady/Unknown (default 40s)
  --default-local-storage-path DIR  Folder of local-path volumes (default <data-dir>/storage)
  --ingress-http-port N          The Ingress controller's HTTP port (default 80)
  --ingress-https-port N         The Ingress controller's HTTPS port (default 443)
  --ingress-metrics-port N       Its /metrics and /healthz (default 10254)
  --cluster-dns-port N           The cluster DNS's port, behind kube-dns's 53 (default 53)
  --cluster-dns-metrics-port N   Its /metrics and /health, kube-dns's port "metrics" (default 9153)

The server also runs a node agent (containerd, pods) in the same process, as a single-node
cluster; it keeps its state in <data-dir>/agent.
  --disable-agent                Run the control plane only (nodes join with 'k8ts agent')
  --agent                        Run the embedded agent (the default)
${AGENT_FLAGS_HELP}`;

export function parseServerFlags(argv: string[]): ServerFlags | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      'secure-port': { type: 'string' },
      'bind-address': { type: 'string' },
      'advertise-address': { type: 'string' },
      'datastore-endpoint': { type: 'string' },
      'token-auth-file': { type: 'string' },
      'service-cluster-ip-range': { type: 'string' },
      'service-node-port-range': { type: 'string' },
      'tls-san': { type: 'string', multiple: true },
      'log-level': { type: 'string' },
      'compaction-interval': { type: 'string' },
      disable: { type: 'string', multiple: true },
      controllers: { type: 'string', multiple: true },
      'cluster-cidr': { type: 'string' },
      'node-cidr-mask-size': { type: 'string' },
      'node-monitor-grace-period': { type: 'string' },
      'default-local-storage-path': { type: 'string' },
      'ingress-http-port': { type: 'string' },
      'cluster-dns-port': { type: 'string' },
      'cluster-dns-metrics-port': { type: 'string' },
      'ingress-metrics-port': { type: 'string' },
      'ingress-https-port': { type: 'string' },
      agent: { type: 'boolean' },
      'disable-agent': { type: 'boolean' },
      ...AGENT_FLAG_OPTIONS,
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const port = Number(values['secure-port'] ?? '6443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --secure-port ${values['secure-port']}`);
  const dataDir = resolve(values['data-dir'] ?? defaultDataDir());
  return {
    dataDir,
    securePort: port,
    bindAddress: values['bind-address'] ?? '0.0.0.0',
    advertiseAddress: values['advertise-address'],
    datastoreEndpoint: values['datastore-endpoint'],
    tokenAuthFile: values['token-auth-file'],
    serviceClusterIPRange: values['service-cluster-ip-range'] ?? '10.43.0.0/16',
    serviceNodePortRange: values['service-node-port-range'] ?? '30000-32767',
    tlsSAN: values['tls-san'] ?? [],
    logLevel: values['log-level'] ?? 'info',
    compactionIntervalMs: parseSimpleDuration(values['compaction-interval'] ?? '5m'),
    disable: (values.disable ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean),
    controllers: (values.controllers ?? ['*']).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean),
    clusterCIDR: values['cluster-cidr'] ?? '10.42.0.0/16',
    nodeCIDRMaskSize: Number(values['node-cidr-mask-size'] ?? '24'),
    nodeMonitorGracePeriodMs: parseSimpleDuration(values['node-monitor-grace-period'] ?? '40s'),
    defaultLocalStoragePath: resolve(values['default-local-storage-path'] ?? join(dataDir, 'storage')),
    agent: values['disable-agent'] ? undefined : agentSettings(values),
    ingressHttpPort: port16(values['ingress-http-port'] ?? '80', '--ingress-http-port'),
    ingressHttpsPort: port16(values['ingress-https-port'] ?? '443', '--ingress-https-port'),
    clusterDNSPort: port16(values['cluster-dns-port'] ?? '53', '--cluster-dns-port'),
    clusterDNSMetricsPort: port16(values['cluster-dns-metrics-port'] ?? '9153', '--cluster-dns-metrics-port'),
    ingressMetricsPort: port16(values['ingress-metrics-port'] ?? '10254', '--ingress-metrics-port'),
  };
}

function port16(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid ${flag} ${v}`);
  return n;
}

/** First usable address of an IPv4 CIDR: the kubernetes Service IP (10.43.0.1). */
export function firstServiceIP(cidr: string): string {
  const [ip] = cidr.split('/');
  const parts = ip.split('.').map(Number);
  const n = ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3] + 1;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "5m", "30s", "1h", "500ms" → milliseconds. */
export function parseSimpleDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s);
  if (!m) throw new Error(`invalid duration ${JSON.stringify(s)} (use e.g. 30s, 5m)`);
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}
