// Flags that let a test cluster with a real node agent live next to others on one machine: its
// own node name, kubelet port, pod network (bridge and addresses), cgroup root, and the node on
// 127.0.0.1 so every connection to it stays on loopback.

import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

export { freePort } from '../kubelet/cri/testing.js';
import { freePort } from '../kubelet/cri/testing.js';

export interface AgentClusterFlags {
  nodeName: string;
  kubeletPort: number;
  bridge: string;
  clusterCIDR: string;
  args: string[];
}

/** Unique flags for `k8ts server` with its embedded agent. */
export async function agentClusterFlags(prefix = 'node'): Promise<AgentClusterFlags> {
  const id = randomBytes(3).toString('hex');
  const kubeletPort = await freePort();
  // 10.96.0.0/11 split into /16s: clear of the service range and of other suites' networks.
  const clusterCIDR = `10.${96 + (randomBytes(1)[0] % 32)}.0.0/16`;
  const nodeName = `${prefix}-${id}`;
  const bridge = `k8ts${id}`;
  return {
    nodeName,
    kubeletPort,
    bridge,
    clusterCIDR,
    args: ['--node-name', nodeName, '--node-ip', '127.0.0.1', '--kubelet-port', String(kubeletPort), '--cni-bridge', bridge, '--cluster-cidr', clusterCIDR, '--cgroup-root', `/k8ts-test-${id}`,
      // Agents of test clusters share the host's network namespace: per-namespace iptables
      // features (network policies) are tested in namespaces of their own (k8ts up, network/).
      '--disable-network-policy', '--disable-service-proxy', '--disable-pod-masquerade'],
  };
}

/** Whether this machine can run real pods (root, containerd, runc, CNI plugins). */
export function canRunPods(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const bin of ['containerd', 'runc', 'ctr']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `${bin} is not installed (scripts/ensure-deps.sh installs it)`;
    }
  }
  return undefined;
}
