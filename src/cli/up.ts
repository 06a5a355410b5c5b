// `k8ts up --nodes N`: a local multi-node cluster on one machine, as kind does with node
// containers but with network namespaces:
//
//   host ──veth (169.254.T.1/30 ↔ .2)── netns k8ts-<name>  (the cluster's router: bridge br0
//                                        172.31.T.1/24, the API server, listening on both)
//                                          │ br0
//                     ┌────────────────────┼────────────────────┐
//               netns <name>-node-1   netns <name>-node-2   ...   (eth0 172.31.T.11, .12, ...;
//               k8ts agent + containerd, pods on its own k8ts0 bridge; routes to the other
//               nodes' podCIDRs via their addresses: host-gw)
//
// The host reaches the API server at 169.254.T.2:6443 and node and pod addresses through the
// router. With --isolated (what tests use) the router has no default route, so nothing of the
// cluster can leave the machine; otherwise the host masquerades the cluster's traffic. Everything
// made is recorded in <dir>/up.json and removed by `k8ts down --cluster NAME`.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/config.js';
import { R } from '../client/resources.js';
import { HttpTransport } from '../client/transport.js';
import { clusterDNSIP } from '../network/dns/kube-dns-service.js';
import { nodeInternalIP } from '../network/routes/node-sync.js';

const execFileP = promisify(execFile);
const K8TS_BIN = new URL('../../bin/k8ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const UP_HELP = `Usage: k8ts up [--nodes N] [flags] [-- server flags]

Starts a local cluster: an API server and N node agents, each node in its own network namespace
with its own containerd, joined on a bridge this command creates. The kubeconfig is written to
<dir>/kubeconfig and merged into ~/.kube/config as context NAME.

Flags:
  --nodes N          Node agents to start (default 3)
  --name NAME        Cluster name: namespaces, context (default k8ts)
  --dir DIR          Where the cluster keeps its state (default ${defaultClusterRoot()}/NAME)
  --subnet-index T   Addresses 172.31.T.0/24 and 169.254.T.0/30, pods 10.(64+T).0.0/16 (default 0)
  --backend B        host-gw (default) or vxlan: how pods reach pods on other nodes
  --isolated         No route from the cluster to anything but this machine (tests)
  --no-kubeconfig-merge  Do not touch ~/.kube/config
  --timeout D        How long to wait for the nodes to be Ready, seconds (default 180)

Flags after -- go to the server (e.g. -- --node-monitor-grace-period 10s).
Remove it with: k8ts down --cluster NAME
`;

export function defaultClusterRoot(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts/clusters' : join(homedir(), '.k8ts', 'clusters');
}

/** What `up` made, so `down` can remove exactly that. */
export interface UpRecord {
  name: string;
  dir: string;
  routerNs: string;
  nodeNs: string[];
  hostVeth: string;
  hostRoutes: string[];
  hostIptables: string[][];
  serverPid?: number;
  agentPids: number[];
  kubeconfigMerged: boolean;
  contextName: string;
}

async function sh(args: string[], netns?: string): Promise<string> {
  const [cmd, ...rest] = netns ? ['ip', 'netns', 'exec', netns, ...args] : args;
  const { stdout } = await execFileP(cmd, rest);
  return stdout;
}

function recordPath(dir: string): string {
  return join(dir, 'up.json');
}

function save(rec: UpRecord): void {
  writeFileSync(recordPath(rec.dir), JSON.stringify(rec, null, 2) + '\n');
}

/**
 * Starts a program in a network namespace, detached. nsenter switches only the network namespace:
 * `ip netns exec` would also remount /sys, hiding the cgroup hierarchies the agent needs.
 */
function spawnInNetns(netns: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  const p = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', ...args], { detached: true, stdio: ['ignore', fd, fd] });
  p.unref();
  return p.pid!;
}

function mergeKubeconfig(kubeconfigPath: string, context: string): void {
  const home = process.env.HOME ?? homedir();
  const target = join(home, '.kube', 'config');
  const ours = parse(readFileSync(kubeconfigPath, 'utf8'));
  const cfg = existsSync(target) ? (parse(readFileSync(target, 'utf8')) ?? {}) : { apiVersion: 'v1', kind: 'Config' };
  const put = (list: any[] | undefined, item: any) => [...(list ?? []).filter((x: any) => x.name !== item.name), item];
  cfg.clusters = put(cfg.clusters, { name: context, cluster: ours.clusters[0].cluster });
  cfg.users = put(cfg.users, { name: context, user: ours.users[0].user });
  cfg.contexts = put(cfg.contexts, { name: context, context: { cluster: context, user: context } });
  cfg['current-context'] = context;
  mkdirSync(join(home, '.kube'), { recursive: true });
  writeFileSync(target, stringify(cfg), { mode: 0o600 });
}

export function unmergeKubeconfig(context: string): void {
  const target = join(process.env.HOME ?? homedir(), '.kube', 'config');
  if (!existsSync(target)) return;
  const cfg = parse(readFileSync(target, 'utf8')) ?? {};
  for (const k of ['clusters', 'users', 'contexts']) cfg[k] = (cfg[k] ?? []).filter((x: any) => x.name !== context);
  if (cfg['current-context'] === context) cfg['current-context'] = cfg.contexts[0]?.name ?? '';
  writeFileSync(target, stringify(cfg), { mode: 0o600 });
}

export async function runUp(argv: string[]): Promise<void> {
  const { values, positionals: serverArgs } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      nodes: { type: 'string' },
      name: { type: 'string' },
      dir: { type: 'string' },
      'subnet-index': { type: 'string' },
      backend: { type: 'string' },
      isolated: { type: 'boolean' },
      'no-kubeconfig-merge': { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(UP_HELP);
    return;
  }
  const say = (m: string) => process.stderr.write(`k8ts up: ${m}\n`);
  if (process.getuid?.() !== 0) throw new Error('k8ts up needs root (network namespaces, containerd)');
  const name = values.name ?? 'k8ts';
  if (!/^[a-z][a-z0-9-]{0,9}$/.test(name)) throw new Error(`invalid --name ${JSON.stringify(name)}: lowercase letters, digits and dashes, at most 10`);
  const nodes = Number(values.nodes ?? '3');
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new Error(`invalid --nodes ${values.nodes} (1 to 50)`);
  const t = Number(values['subnet-index'] ?? '0');
  if (!Number.isInteger(t) || t < 0 || t > 63) throw new Error(`invalid --subnet-index ${values['subnet-index']} (0 to 63)`);
  const dir = resolve(values.dir ?? join(defaultClusterRoot(), name));
  if (existsSync(recordPath(dir))) throw new Error(`a cluster is already recorded in ${dir}; remove it with: k8ts down --cluster ${name}${values.dir ? ` --dir ${values.dir}` : ''}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const started = Date.now();

  const routerNs = `k8ts-${name}`;
  const hostVeth = `k8ts-${name}`.slice(0, 15);
  const linkHost = `169.254.${t}.1`;
  const linkRouter = `169.254.${t}.2`;
  const subnet = `172.31.${t}.0/24`;
  const gateway = `172.31.${t}.1`;
  const clusterCIDR = `10.${64 + t}.0.0/16`;
  const serviceCIDR = '10.43.0.0/16';
  const rec: UpRecord = { name, dir, routerNs, nodeNs: [], hostVeth, hostRoutes: [], hostIptables: [], agentPids: [], kubeconfigMerged: false, contextName: name };
  save(rec);
  try {
    // The router namespace, its bridge and its link to the host.
    await sh(['ip', 'netns', 'add', routerNs]);
    await sh(['ip', 'link', 'set', 'lo', 'up'], routerNs);
    await sh(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], routerNs);
    await sh(['ip', 'link', 'add', 'br0', 'type', 'bridge'], routerNs);
    await sh(['ip', 'addr', 'add', `${gateway}/24`, 'dev', 'br0'], routerNs);
    await sh(['ip', 'link', 'set', 'br0', 'up'], routerNs);
    await sh(['ip', 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', routerNs]);
    await sh(['ip', 'addr', 'add', `${linkHost}/30`, 'dev', hostVeth]);
    await sh(['ip', 'link', 'set', hostVeth, 'up']);
    await sh(['ip', 'addr', 'add', `${linkRouter}/30`, 'dev', 'uplink'], routerNs);
    await sh(['ip', 'link', 'set', 'uplink', 'up'], routerNs);
    for (const dst of [subnet, clusterCIDR]) {
      await sh(['ip', 'route', 'replace', dst, 'via', linkRouter]);
      rec.hostRoutes.push(dst);
    }
    if (!values.isolated) {
      // Out to the world through the host, masqueraded.
      await sh(['ip', 'route', 'add', 'default', 'via', linkHost], routerNs);
      for (const src of [subnet, clusterCIDR]) {
        const rule = ['-t', 'nat', '-A', 'POSTROUTING', '-s', src, '!', '-o', hostVeth, '-j', 'MASQUERADE', '-m', 'comment', '--comment', `k8ts up ${name}`];
        await sh(['iptables', ...rule]);
        rec.hostIptables.push(rule);
      }
    }
    save(rec);

    // The API server, in the router namespace.
    const serverDir = join(dir, 'server');
    mkdirSync(serverDir, { recursive: true });
    rec.serverPid = spawnInNetns(
      routerNs,
      [process.execPath, K8TS_BIN, 'server', '--data-dir', serverDir, '--disable-agent', '--advertise-address', gateway, '--tls-san', linkRouter, '--tls-san', gateway, '--cluster-cidr', clusterCIDR, ...serverArgs],
      join(dir, 'server.log'),
    );
    save(rec);
    const kubeconfigIn = join(serverDir, 'kubeconfig');
    const tokenFile = join(serverDir, 'token');
    for (let i = 0; !(existsSync(kubeconfigIn) && existsSync(tokenFile)); i++) {
      if (i > 300) throw new Error(`the API server did not start; see ${join(dir, 'server.log')}`);
      await sleep(100);
    }
    // The host's kubeconfig points at the router's link address.
    const kc = parse(readFileSync(kubeconfigIn, 'utf8'));
    kc.clusters[0].cluster.server = `https://${linkRouter}:6443`;
    kc.clusters[0].name = name;
    kc.contexts[0].name = name;
    kc.contexts[0].context.cluster = name;
    kc.users[0].name = name;
    kc.contexts[0].context.user = name;
    kc['current-context'] = name;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, stringify(kc), { mode: 0o600 });

    // The nodes.
    const nodeNames: string[] = [];
    for (let i = 1; i <= nodes; i++) {
      const ns = `${name}-node-${i}`;
      const nodeIP = `172.31.${t}.${10 + i}`;
      const veth = `k${t}${name.slice(0, 6)}n${i}`.slice(0, 15);
      await sh(['ip', 'netns', 'add', ns]);
      rec.nodeNs.push(ns);
      save(rec);
      await sh(['ip', 'link', 'set', 'lo', 'up'], ns);
      await sh(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], ns);
      await sh(['ip', 'link', 'add', veth, 'netns', routerNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh(['ip', 'link', 'set', veth, 'master', 'br0'], routerNs);
      await sh(['ip', 'link', 'set', veth, 'up'], routerNs);
      await sh(['ip', 'addr', 'add', `${nodeIP}/24`, 'dev', 'eth0'], ns);
      await sh(['ip', 'link', 'set', 'eth0', 'up'], ns);
      await sh(['ip', 'route', 'add', 'default', 'via', gateway], ns);
      const nodeName = ns;
      nodeNames.push(nodeName);
      const nodeDir = join(dir, 'nodes', `node-${i}`);
      mkdirSync(nodeDir, { recursive: true });
      rec.agentPids.push(
        spawnInNetns(
          ns,
          [process.execPath, K8TS_BIN, 'agent', '--server', `https://${gateway}:6443`, '--token-file', tokenFile, '--data-dir', nodeDir, '--node-name', nodeName, '--node-ip', nodeIP, '--cgroup-root', `/k8ts-${name}-${i}`, '--cluster-dns', clusterDNSIP(serviceCIDR),
            // Pod addresses stay visible across nodes; traffic leaving the cluster is masqueraded by the host.
            '--disable-pod-masquerade',
            ...(values.backend ? ['--flannel-backend', values.backend] : [])],
          join(dir, `node-${i}.log`),
        ),
      );
      save(rec);
    }

    // Wait for the nodes, then route each node's pods from the router.
    const client = new Client(new HttpTransport(loadKubeconfig(kubeconfig, 'k8ts-up')), 'k8ts-up');
    const deadline = Date.now() + Number(values.timeout ?? '180') * 1000;
    for (;;) {
      const list = await client.resource(R.nodes).list().catch(() => ({ items: [] as any[] }));
      const ready = list.items.filter((n: any) => nodeNames.includes(n.metadata.name) && n.spec?.podCIDR && nodeInternalIP(n) && n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      if (ready.length === nodes) {
        for (const n of ready) await sh(['ip', 'route', 'replace', n.spec.podCIDR, 'via', nodeInternalIP(n)!], routerNs);
        break;
      }
      if (Date.now() > deadline) throw new Error(`only ${ready.length} of ${nodes} nodes Ready in time; logs in ${dir}`);
      await sleep(500);
    }
    client.close();
    if (!values['no-kubeconfig-merge']) {
      mergeKubeconfig(kubeconfig, name);
      rec.kubeconfigMerged = true;
      save(rec);
    }
    say(`cluster "${name}" with ${nodes} nodes is Ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`kubeconfig: ${kubeconfig}${rec.kubeconfigMerged ? ` (also context "${name}" in ~/.kube/config)` : ''}`);
    process.stdout.write(`${kubeconfig}\n`);
  } catch (err) {
    say(`failed: ${(err as Error).message}; removing what was made (its logs stay in ${dir})`);
    await teardownCluster(rec, say, { keepData: true }).catch(() => undefined);
    throw err;
  }
}

async function killAndWait(pid: number | undefined, graceMs: number): Promise<void> {
  if (!pid) return;
  try {
    // nsenter execs the program, so the pid is k8ts itself.
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > end) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      return;
    }
    await sleep(100);
  }
}

/** Removes a cluster made by `up`: agents and their pods, the server, namespaces, routes, rules. */
export async function teardownCluster(rec: UpRecord, say: (m: string) => void, o: { keepData?: boolean } = {}): Promise<void> {
  await Promise.all(rec.agentPids.map((p) => killAndWait(p, 10_000)));
  // Each node's pods, containerd and bridge, from inside its namespace.
  for (let i = 0; i < rec.nodeNs.length; i++) {
    const nodeDir = join(rec.dir, 'nodes', `node-${i + 1}`);
    if (!existsSync(join(nodeDir, 'agent'))) continue;
    await execFileP('nsenter', [`--net=/run/netns/${rec.nodeNs[i]}`, '--', process.execPath, K8TS_BIN, 'down', '--data-dir', nodeDir]).catch((err) => say(`node ${i + 1}: ${(err as Error).message}`));
  }
  await killAndWait(rec.serverPid, 10_000);
  for (const ns of rec.nodeNs) await sh(['ip', 'netns', 'del', ns]).catch(() => undefined);
  await sh(['ip', 'netns', 'del', rec.routerNs]).catch(() => undefined);
  await sh(['ip', 'link', 'del', rec.hostVeth]).catch(() => undefined);
  for (const r of rec.hostRoutes) await sh(['ip', 'route', 'del', r]).catch(() => undefined);
  for (const rule of rec.hostIptables) {
    const i = rule.indexOf('-A');
    const del = i >= 0 ? [...rule.slice(0, i), '-D', ...rule.slice(i + 1)] : rule;
    await sh(['iptables', ...del]).catch(() => undefined);
  }
  if (rec.kubeconfigMerged) unmergeKubeconfig(rec.contextName);
  rmSync(recordPath(rec.dir), { force: true });
  // The cluster's state goes too (as kind's delete), so the next `up` starts a new cluster;
  // never through a mount that is somehow still there.
  const stillMounted = readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => (l.split(' ')[1] ?? '').startsWith(`${rec.dir}/`));
  if (!o.keepData && !stillMounted) rmSync(rec.dir, { recursive: true, force: true });
  else if (!o.keepData) say(`kept ${rec.dir}: something is still mounted under it`);
  say(`cluster "${rec.name}" removed`);
}

export function readUpRecord(dir: string): UpRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(dir), 'utf8'));
  } catch {
    return undefined;
  }
}
