// Flags of the node agent, shared by `k8ts agent` and the agent embedded in `k8ts server`.

import type { ParseArgsConfig } from 'node:util';

export const AGENT_FLAG_OPTIONS = {
  'node-name': { type: 'string' },
  'node-ip': { type: 'string' },
  'node-labels': { type: 'string' },
  'register-with-taints': { type: 'string' },
  'kubelet-port': { type: 'string' },
  'container-runtime-endpoint': { type: 'string' },
  'pod-manifest-path': { type: 'string' },
  'cluster-dns': { type: 'string' },
  'cluster-domain': { type: 'string' },
  'cni-bridge': { type: 'string' },
  'pod-cidr': { type: 'string' },
  'cgroup-root': { type: 'string' },
  'max-pods': { type: 'string' },
  'registries-file': { type: 'string' },
  'resolv-conf': { type: 'string' },
  'disable-network-policy': { type: 'boolean' },
  'disable-pod-masquerade': { type: 'boolean' },
  'disable-service-proxy': { type: 'boolean' },
  'flannel-backend': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const AGENT_FLAGS_HELP = `  --node-name NAME               Node name (default the host name, lower-cased)
  --node-ip IP                   The node's InternalIP (default the first non-loopback IPv4 address)
  --node-labels k=v,...          Extra node labels
  --register-with-taints k=v:Effect,...  Taints to register the node with
  --kubelet-port PORT            HTTPS port of the node agent's API (default 10250)
  --container-runtime-endpoint unix:///path  Use this running CRI runtime instead of starting containerd
  --pod-manifest-path DIR        Static pods: run the pod manifests in this folder (mirror pods in the API)
  --cluster-dns IP[,IP]          DNS servers for pods with dnsPolicy ClusterFirst (default: the host's resolv.conf)
  --cluster-domain DOMAIN        Cluster domain (default cluster.local)
  --cni-bridge NAME              Linux bridge of the pod network (default k8ts0)
  --pod-cidr CIDR                Pod range of this node when no node-ipam controller assigns one
  --cgroup-root PATH             Parent cgroup of all pods (default /kubepods)
  --max-pods N                   Pods this node accepts (default 110)
  --registries-file FILE         Registry mirrors and credentials, k3s's registries.yaml format
                                 (default <data-dir>/registries.yaml when present)
  --resolv-conf FILE             Resolver config for pods with dnsPolicy Default (default /etc/resolv.conf)
  --flannel-backend host-gw|vxlan  How pods reach pods on other nodes: routes via the node addresses
                                 (default host-gw; nodes share an L2 segment) or a VXLAN overlay
  --disable-service-proxy        Do not route Service traffic (kube-proxy's iptables rules in the node's network namespace)
  --disable-pod-masquerade       Do not masquerade pod traffic that leaves the pod network
  --disable-network-policy       Do not enforce NetworkPolicies (iptables FORWARD rules in the node's network namespace)
`;

export interface AgentSettings {
  nodeName?: string;
  nodeIP?: string;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  kubeletPort: number;
  runtimeEndpoint?: string;
  podManifestPath?: string;
  clusterDNS: string[];
  clusterDomain: string;
  cniBridge: string;
  podCIDR?: string;
  cgroupRoot: string;
  maxPods: number;
  registriesFile?: string;
  resolvConf: string;
  networkPolicy: boolean;
  podMasquerade: boolean;
  serviceProxy: boolean;
  backend: 'host-gw' | 'vxlan';
}

export function parseKV(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`expected key=value, got ${JSON.stringify(part)}`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export function parseTaints(s: string | undefined): AgentSettings['taints'] {
  return (s ?? '').split(',').map((x) => x.trim()).filter(Boolean).map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw new Error(`invalid taint ${JSON.stringify(t)} (want key[=value]:Effect)`);
    return { key: m[1], ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3] };
  });
}

type AgentValues = { [K in keyof typeof AGENT_FLAG_OPTIONS]?: string | boolean };

export function agentSettings(values: AgentValues): AgentSettings {
  const v = values as Record<string, string | undefined>;
  const port = Number(v['kubelet-port'] ?? '10250');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --kubelet-port ${v['kubelet-port']}`);
  const maxPods = Number(v['max-pods'] ?? '110');
  if (!Number.isInteger(maxPods) || maxPods < 1) throw new Error(`invalid --max-pods ${v['max-pods']}`);
  return {
    nodeName: v['node-name'],
    nodeIP: v['node-ip'],
    labels: parseKV(v['node-labels']),
    taints: parseTaints(v['register-with-taints']),
    kubeletPort: port,
    runtimeEndpoint: v['container-runtime-endpoint'],
    podManifestPath: v['pod-manifest-path'],
    clusterDNS: (v['cluster-dns'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    clusterDomain: v['cluster-domain'] ?? 'cluster.local',
    cniBridge: v['cni-bridge'] ?? 'k8ts0',
    podCIDR: v['pod-cidr'],
    cgroupRoot: v['cgroup-root'] ?? '/kubepods',
    maxPods,
    registriesFile: v['registries-file'],
    resolvConf: v['resolv-conf'] ?? '/etc/resolv.conf',
    networkPolicy: !values['disable-network-policy'],
    podMasquerade: !values['disable-pod-masquerade'],
    serviceProxy: !values['disable-service-proxy'],
    backend: backendOf(v['flannel-backend']),
  };
}

function backendOf(v: string | undefined): 'host-gw' | 'vxlan' {
  if (v === undefined || v === 'host-gw') return 'host-gw';
  if (v === 'vxlan') return 'vxlan';
  throw new Error(`invalid --flannel-backend ${JSON.stringify(v)} (host-gw or vxlan)`);
}
