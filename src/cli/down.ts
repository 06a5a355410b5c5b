// `k8ts down`: removes everything a node agent left on this machine (like k3s-killall.sh):
// every pod (stopped and removed through the CRI, so the CNI plugins release addresses, veths and
// hostPort rules), containerd, its shims, mounts under the agent's directory, the pod network
// bridge, pod cgroups and the CNI result cache. Stop `k8ts server`/`k8ts agent` first, or the
// agent starts its pods again.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Containerd } from '../kubelet/cri/containerd.js';
import { CriRuntime } from '../kubelet/cri/cri-runtime.js';
import { killShims, removeCgroups, unmountUnder } from '../kubelet/cri/teardown.js';
import { PAUSE_IMAGE } from '../kubelet/images/builtin-images.js';
import { removeNetworkPolicyRules } from '../network/policy/controller.js';
import { buildCleanupRules, iptablesRunner } from '../network/proxy/index.js';
import { KubeletPaths } from '../kubelet/paths.js';
import { VXLAN_DEVICE } from '../network/routes/vxlan.js';
import { defaultDataDir } from './flags.js';

const execFileP = promisify(execFile);

export const DOWN_HELP = `Usage: k8ts down [--data-dir DIR]
       k8ts down --cluster NAME [--dir DIR] [--keep-data]

Stops and removes every pod of the node agent whose state is in DIR/agent (the server's or the
agent's data dir), containerd, mounts, the pod network bridge and pod cgroups. Data in DIR stays.

With --cluster: removes a cluster made by 'k8ts up' (its processes, pods, network namespaces,
interfaces, routes, iptables rules and kubeconfig context) and its state in DIR, unless
--keep-data: then the next 'k8ts up' with the same DIR starts the same cluster again.
`;

/** What a running agent records about itself, so that `down` knows what to remove. */
export interface AgentRecord {
  bridge: string;
  cgroupRoot: string;
  cniNetwork: string;
  /** The agent enforced NetworkPolicies (its FORWARD rules are removed too). */
  networkPolicy?: boolean;
  /** The agent ran the service proxy (its KUBE-* chains are removed too). */
  serviceProxy?: boolean;
  /** host-gw or vxlan (the VXLAN device is removed too). */
  backend?: string;
}

export function agentRecordPath(agentDir: string): string {
  return join(agentDir, 'agent.json');
}

export async function runDown(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'data-dir': { type: 'string' }, cluster: { type: 'string' }, dir: { type: 'string' }, 'keep-data': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(DOWN_HELP);
    return;
  }
  if (values.cluster) {
    const { defaultClusterRoot, readUpRecord, teardownCluster } = await import('./up.js');
    const dir = resolve(values.dir ?? join(defaultClusterRoot(), values.cluster));
    const rec = readUpRecord(dir);
    if (!rec) {
      process.stderr.write(`k8ts down: no cluster recorded in ${dir}\n`);
      process.exitCode = 1;
      return;
    }
    await teardownCluster(rec, (m) => process.stderr.write(`k8ts down: ${m}\n`), { keepData: values['keep-data'] });
    return;
  }
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const agentDir = join(dataDir, 'agent');
  if (!existsSync(agentDir)) {
    process.stderr.write(`k8ts down: no node agent state in ${agentDir}\n`);
    return;
  }
  await teardownAgent(agentDir, (m) => process.stderr.write(`k8ts down: ${m}\n`));
}

export async function teardownAgent(agentDir: string, say: (m: string) => void): Promise<void> {
  const paths = new KubeletPaths(agentDir);
  let record: AgentRecord | undefined;
  try {
    record = JSON.parse(readFileSync(agentRecordPath(agentDir), 'utf8'));
  } catch {
    // an agent that never got that far
  }
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  if (existsSync(join(paths.containerdDir, 'config.toml'))) {
    // A containerd of our own answers the CRI: remove pods through it (CNI DEL frees the network).
    const containerd = new Containerd({ dir: paths.containerdDir, cniConfDir: join(agentDir, 'cni', 'net.d'), sandboxImage: PAUSE_IMAGE, log: quiet, startTimeoutMs: 30_000 });
    try {
      await containerd.start();
      const runtime = new CriRuntime({ endpoint: containerd.endpoint, timeoutMs: 30_000 });
      let pods = 0;
      for (const c of await runtime.listContainers()) {
        await runtime.stopContainer(c.id, 0).catch(() => undefined);
        await runtime.removeContainer(c.id).catch(() => undefined);
      }
      for (const s of await runtime.listPodSandbox()) {
        await runtime.stopPodSandbox(s.id).catch(() => undefined);
        await runtime.removePodSandbox(s.id).catch(() => undefined);
        pods++;
      }
      runtime.close();
      say(`removed ${pods} pod sandboxes`);
    } catch (err) {
      say(`containerd did not answer (${(err as Error).message}); removing what is left by hand`);
    }
    await containerd.stop().catch(() => undefined);
    await killShims(containerd.socketPath);
  }
  await unmountUnder(agentDir);
  if (record?.bridge) await execFileP('ip', ['link', 'del', record.bridge]).catch(() => undefined);
  if (record?.backend === 'vxlan') await execFileP('ip', ['link', 'del', VXLAN_DEVICE]).catch(() => undefined);
  if (record?.cgroupRoot) removeCgroups(record.cgroupRoot);
  if (record?.cniNetwork) {
    try {
      for (const f of readdirSync('/var/lib/cni/results')) if (f.startsWith(`${record.cniNetwork}-`)) rmSync(join('/var/lib/cni/results', f), { force: true });
    } catch {
      // no cache
    }
  }
  if (record?.serviceProxy) await removeServiceProxyRules().catch((err) => say(`service proxy rules: ${(err as Error).message}`));
  if (record?.networkPolicy) await removeNetworkPolicyRules().catch((err) => say(`network policy rules: ${(err as Error).message}`));
  // host-local's allocations: the addresses are free again.
  rmSync(join(agentDir, 'cni', 'networks'), { recursive: true, force: true });
}

/** Removes kube-proxy's chains and jump rules from this network namespace (others' rules stay). */
async function removeServiceProxyRules(): Promise<void> {
  const ipt = iptablesRunner();
  const text = buildCleanupRules({ nat: await ipt.save('nat'), filter: await ipt.save('filter') });
  if (text) await ipt.restore(text);
}
