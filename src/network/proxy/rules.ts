// The service proxy's iptables rules as a pure function of Services, EndpointSlices and the
// node, in iptables-restore format (upstream kube-proxy's iptables mode, see
// https://kubernetes.io/docs/reference/networking/virtual-ips/#proxy-mode-iptables):
//
//   nat PREROUTING/OUTPUT ─► KUBE-SERVICES ─ clusterIP:port ─► KUBE-SVC-* (random) ─► DNAT
//                                          ─ external/LB IP ─► KUBE-EXT-* ─► KUBE-SVC-* | KUBE-SVL-*
//                                          ─ node address ──► KUBE-NODEPORTS ─ nodePort ─► KUBE-EXT-*
//   nat POSTROUTING ─► KUBE-POSTROUTING: MASQUERADE hairpin traffic and what KUBE-MARK-MASQ marked
//   filter: REJECT/DROP for ports without endpoints (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES)
//
// One difference from upstream: no KUBE-SEP-* chain per endpoint. With the nf_tables backend of
// iptables (Debian's default) a restore costs time quadratic in the number of chains: 1,000
// Services × 10 endpoints took 5.5 s with SEP chains and well under a second without. The
// balancing rules DNAT directly (ClientIP affinity sets and refreshes its `recent` list in the
// same rule), and hairpin traffic, which upstream marks in the SEP chain, is recognised after
// DNAT in POSTROUTING, where it is exactly "source = destination = a pod of this node".
//
// `buildRuleSet` computes every chain; `renderRestore` writes a transaction, optionally only
// the per-service chains whose text changed since the previous one, plus deletions of stale ones.

import type { KubeObject } from '../../api/meta/v1.js';
import { endpointChain, externalChain, PER_SERVICE_CHAIN, serviceChain, serviceLocalChain } from './chain-names.js';
import { servicePorts, slicesByService, type Endpoint, type ServicePortInfo } from './service-ports.js';

export const MASQ_MARK = '0x4000';
/** Above this many endpoints, per-endpoint rules carry no comments (upstream's large cluster mode): ~15% faster restores. */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

export interface ProxyRuleState {
  services: KubeObject[];
  endpointSlices: KubeObject[];
  nodeName: string;
  /** NodePorts answer on these; empty means every local address (`-m addrtype --dst-type LOCAL`). */
  nodeIPs: string[];
  /** The pods' range: traffic from outside it to a ClusterIP is masqueraded. */
  clusterCIDR?: string;
  /** NodePorts on 127.0.0.1 too (needs net.ipv4.conf.all.route_localnet=1), as upstream's default. */
  localhostNodePorts?: boolean;
}

export interface RuleSet {
  ports: ServicePortInfo[];
  /** Per-service nat chains (KUBE-SVC/SVL/EXT) and their rules. */
  chains: Map<string, string[]>;
  natServices: string[];
  natNodePorts: string[];
  filterServices: string[];
  filterExternal: string[];
  /** loadBalancerSourceRanges, matched on the original destination (before DNAT). */
  filterFirewall: string[];
  localhostNodePorts: boolean;
  /** This node's endpoint IPs (hairpin candidates), sorted. */
  hairpinIPs: string[];
}

const q = (s: string) => `"${s}"`;
const protoArgs = (sp: ServicePortInfo) => `-p ${sp.protocol.toLowerCase()} -m ${sp.protocol.toLowerCase()}`;

export function buildRuleSet(state: ProxyRuleState): RuleSet {
  const bySvc = slicesByService(state.endpointSlices);
  const ports: ServicePortInfo[] = [];
  for (const svc of state.services) ports.push(...servicePorts(svc, bySvc.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? [], state.nodeName));
  ports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));

  const rs: RuleSet = { ports, chains: new Map(), natServices: [], natNodePorts: [], filterServices: [], filterExternal: [], filterFirewall: [], localhostNodePorts: state.localhostNodePorts !== false, hairpinIPs: [] };
  const large = ports.reduce((n, p) => n + p.allEndpoints.length, 0) > LARGE_CLUSTER_ENDPOINTS;
  for (const sp of ports) addServicePort(rs, sp, state.clusterCIDR, large);
  // Only a pod of this node can reach itself through a Service (an endpoint without a nodeName
  // might be local too). At most one rule per local pod, not per (service, endpoint).
  const hairpin = new Set<string>();
  // Never a loopback address (a one-node server's `kubernetes` endpoint may be 127.0.0.1): no pod has one.
  for (const sp of ports) for (const e of sp.allEndpoints) if ((e.nodeName === undefined || e.nodeName === state.nodeName) && !e.ip.startsWith('127.')) hairpin.add(e.ip);
  rs.hairpinIPs = [...hairpin].sort();

  // Last in KUBE-SERVICES: anything else addressed to the node may be a NodePort.
  const np = 'kubernetes service nodeports; NOTE: this must be the last rule in this chain';
  if (state.nodeIPs.length) {
    const addrs = [...new Set([...state.nodeIPs, ...(rs.localhostNodePorts ? ['127.0.0.1'] : [])])];
    for (const ip of addrs) rs.natServices.push(`-A KUBE-SERVICES -m comment --comment ${q(np)} -d ${ip}/32 -j KUBE-NODEPORTS`);
  } else {
    rs.natServices.push(`-A KUBE-SERVICES -m comment --comment ${q(np)} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`);
  }
  return rs;
}

function addServicePort(rs: RuleSet, sp: ServicePortInfo, clusterCIDR: string | undefined, large: boolean): void {
  const proto = protoArgs(sp);
  const svcChain = serviceChain(sp.name, sp.protocol);
  const svlChain = serviceLocalChain(sp.name, sp.protocol);
  const extChain = externalChain(sp.name, sp.protocol);
  const hasExternal = sp.nodePort !== undefined || sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
  const externalEndpoints = sp.externalPolicyLocal ? sp.localEndpoints : sp.allEndpoints;
  const needSVC = sp.allEndpoints.length > 0 && (!sp.internalPolicyLocal || hasExternal);
  const needSVL = sp.localEndpoints.length > 0 && (sp.internalPolicyLocal || (hasExternal && sp.externalPolicyLocal));
  const internalChain = sp.internalPolicyLocal ? svlChain : svcChain;

  // ClusterIP.
  const clusterDst = `${proto} -d ${sp.clusterIP}/32 --dport ${sp.port}`;
  if (sp.clusterEndpoints.length) {
    rs.natServices.push(`-A KUBE-SERVICES -m comment --comment ${q(`${sp.name} cluster IP`)} ${clusterDst} -j ${internalChain}`);
  } else if (sp.internalPolicyLocal && sp.allEndpoints.length) {
    rs.filterServices.push(`-A KUBE-SERVICES -m comment --comment ${q(`${sp.name} has no local endpoints`)} ${clusterDst} -j DROP`);
  } else {
    rs.filterServices.push(`-A KUBE-SERVICES -m comment --comment ${q(`${sp.name} has no endpoints`)} ${clusterDst} -j REJECT --reject-with icmp-port-unreachable`);
  }

  // External destinations: NodePort, externalIPs, load-balancer ingress IPs.
  if (hasExternal) {
    const dests: { nat: string; filter: string; comment: string; table: 'svc' | 'np' }[] = [];
    for (const ip of sp.externalIPs) dests.push({ nat: `${proto} -d ${ip}/32 --dport ${sp.port}`, filter: `${proto} -d ${ip}/32 --dport ${sp.port}`, comment: `${sp.name} external IP`, table: 'svc' });
    for (const ip of sp.loadBalancerIPs) dests.push({ nat: `${proto} -d ${ip}/32 --dport ${sp.port}`, filter: `${proto} -d ${ip}/32 --dport ${sp.port}`, comment: `${sp.name} loadbalancer IP`, table: 'svc' });
    if (sp.nodePort !== undefined) dests.push({ nat: `${proto} --dport ${sp.nodePort}`, filter: `-m addrtype --dst-type LOCAL ${proto} --dport ${sp.nodePort}`, comment: sp.name, table: 'np' });
    if (externalEndpoints.length) {
      for (const d of dests) {
        const line = `-m comment --comment ${q(d.comment)} ${d.nat} -j ${extChain}`;
        if (d.table === 'svc') rs.natServices.push(`-A KUBE-SERVICES ${line}`);
        else rs.natNodePorts.push(`-A KUBE-NODEPORTS ${line}`);
      }
      const ext: string[] = [];
      if (!sp.externalPolicyLocal) {
        // Off-node clients must get replies through this node: masquerade all of it.
        ext.push(`-A ${extChain} -m comment --comment ${q(`masquerade traffic for ${sp.name} external destinations`)} -j KUBE-MARK-MASQ`);
        ext.push(`-A ${extChain} -j ${svcChain}`);
      } else {
        // Local policy keeps the client's address; pods and the node itself still reach every endpoint.
        if (clusterCIDR && needSVC) ext.push(`-A ${extChain} -s ${clusterCIDR} -m comment --comment ${q(`pod traffic for ${sp.name} external destinations`)} -j ${svcChain}`);
        if (needSVC) {
          ext.push(`-A ${extChain} -m comment --comment ${q(`masquerade LOCAL traffic for ${sp.name} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`);
          ext.push(`-A ${extChain} -m comment --comment ${q(`route LOCAL traffic for ${sp.name} external destinations`)} -m addrtype --src-type LOCAL -j ${svcChain}`);
        }
        ext.push(`-A ${extChain} -j ${svlChain}`);
      }
      rs.chains.set(extChain, ext);
    } else {
      const local = sp.externalPolicyLocal && sp.allEndpoints.length > 0;
      for (const d of dests) {
        rs.filterExternal.push(
          `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${q(`${sp.name} has no ${local ? 'local ' : ''}endpoints`)} ${d.filter} -j ${local ? 'DROP' : 'REJECT --reject-with icmp-port-unreachable'}`,
        );
      }
    }
  }

  if (sp.loadBalancerSourceRanges.length) {
    for (const ip of sp.loadBalancerIPs) {
      const orig = `-m conntrack --ctorigdst ${ip}/32 --ctorigdstport ${sp.port} ${proto}`;
      for (const range of sp.loadBalancerSourceRanges) rs.filterFirewall.push(`-A KUBE-PROXY-FIREWALL -s ${range} ${orig} -j RETURN`);
      rs.filterFirewall.push(`-A KUBE-PROXY-FIREWALL -m comment --comment ${q(`${sp.name} traffic not accepted by loadBalancerSourceRanges`)} ${orig} -j DROP`);
    }
  }

  if (needSVC) {
    const masq = !sp.internalPolicyLocal && clusterCIDR ? [`-A ${svcChain} -m comment --comment ${q(`${sp.name} cluster IP`)} ${clusterDst} ! -s ${clusterCIDR} -j KUBE-MARK-MASQ`] : [];
    rs.chains.set(svcChain, [...masq, ...balance(sp, svcChain, sp.allEndpoints, large)]);
  }
  if (needSVL) {
    const masq = sp.internalPolicyLocal && clusterCIDR ? [`-A ${svlChain} -m comment --comment ${q(`${sp.name} cluster IP`)} ${clusterDst} ! -s ${clusterCIDR} -j KUBE-MARK-MASQ`] : [];
    rs.chains.set(svlChain, [...masq, ...balance(sp, svlChain, sp.localEndpoints, large)]);
  }
}

/** Affinity checks first, then each endpoint with probability 1/(endpoints left), DNAT in the same rule. */
function balance(sp: ServicePortInfo, chain: string, eps: Endpoint[], large: boolean): string[] {
  const comment = (e: Endpoint) => (large ? '' : ` -m comment --comment ${q(`${sp.name} -> ${e.key}`)}`);
  const dnat = (e: Endpoint) => `${protoArgs(sp)} -j DNAT --to-destination ${e.key}`;
  // The recent list keeps upstream's SEP chain name, so `/proc/net/xt_recent` reads the same.
  const recent = (e: Endpoint) => endpointChain(sp.name, sp.protocol, e.key);
  const out: string[] = [];
  if (sp.affinitySeconds !== undefined) {
    // --update: a client seen within the timeout goes to the same endpoint and is seen again now.
    for (const e of eps) out.push(`-A ${chain}${comment(e)} -m recent --name ${recent(e)} --update --seconds ${sp.affinitySeconds} --reap ${dnat(e)}`);
  }
  eps.forEach((e, i) => {
    const left = eps.length - i;
    const stat = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
    // Matches run in order: the client is recorded only when the draw picked this endpoint.
    const set = sp.affinitySeconds !== undefined ? ` -m recent --name ${recent(e)} --set` : '';
    out.push(`-A ${chain}${comment(e)}${stat}${set} ${dnat(e)}`);
  });
  return out;
}

/** Jumps from the built-in chains, inserted once (-I) when missing; KUBE-FORWARD is appended so
 * that the network policy chain, which goes first in FORWARD, still sees service traffic. */
export const BASE_JUMPS: Record<'nat' | 'filter', { chain: string; spec: string; target: string; append?: boolean }[]> = {
  nat: [
    { chain: 'PREROUTING', spec: '-m comment --comment "kubernetes service portals"', target: 'KUBE-SERVICES' },
    { chain: 'OUTPUT', spec: '-m comment --comment "kubernetes service portals"', target: 'KUBE-SERVICES' },
    { chain: 'POSTROUTING', spec: '-m comment --comment "kubernetes postrouting rules"', target: 'KUBE-POSTROUTING' },
  ],
  filter: [
    { chain: 'INPUT', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals"', target: 'KUBE-EXTERNAL-SERVICES' },
    { chain: 'FORWARD', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals"', target: 'KUBE-EXTERNAL-SERVICES' },
    { chain: 'FORWARD', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals"', target: 'KUBE-SERVICES' },
    { chain: 'OUTPUT', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals"', target: 'KUBE-SERVICES' },
    { chain: 'INPUT', spec: '', target: 'KUBE-FIREWALL' },
    { chain: 'INPUT', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"', target: 'KUBE-PROXY-FIREWALL' },
    { chain: 'FORWARD', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"', target: 'KUBE-PROXY-FIREWALL' },
    { chain: 'OUTPUT', spec: '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall"', target: 'KUBE-PROXY-FIREWALL' },
    { chain: 'FORWARD', spec: '-m comment --comment "kubernetes forwarding rules"', target: 'KUBE-FORWARD', append: true },
  ],
};

/** An empty chain whose disappearance tells the proxy that someone flushed its rules. */
export const CANARY_CHAIN = 'KUBE-PROXY-CANARY';

export const BASE_CHAINS = {
  nat: ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', CANARY_CHAIN],
  filter: ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-FIREWALL', 'KUBE-PROXY-FIREWALL', CANARY_CHAIN],
};

/** What iptables-save shows of the proxy's chains and jumps in one table. */
export interface ExistingTable {
  chains: Set<string>;
  /** "CHAIN -j TARGET" of jump rules present in built-in chains. */
  jumps: Set<string>;
}

export function parseSave(text: string): ExistingTable {
  const chains = new Set<string>();
  const jumps = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) chains.add(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A ')) {
      const m = /^-A (\S+) .*-j (KUBE-\S+)/.exec(line);
      if (m) jumps.add(`${m[1]} -j ${m[2]}`);
    }
  }
  return { chains, jumps };
}

export interface RenderOptions {
  /** The per-service chains applied last time (chain → text): unchanged ones are not re-emitted. */
  previous?: Map<string, string>;
  /** The tables as they are (from iptables-save): stale chains in them are deleted, missing jumps added. */
  existing?: { nat: ExistingTable; filter: ExistingTable };
  /** Add the jumps from built-in chains even without `existing` (first sync). */
  installJumps?: boolean;
}

export interface Rendered {
  filter: string;
  nat: string;
  /** Per-service chain → its text, to pass as `previous` next time. */
  applied: Map<string, string>;
  /** How many per-service chains were written and deleted. */
  chainsWritten: number;
  chainsDeleted: number;
}

export function renderRestore(rs: RuleSet, o: RenderOptions = {}): Rendered {
  const jumpLines = (table: 'nat' | 'filter') =>
    BASE_JUMPS[table]
      .filter((j) => (o.existing ? !o.existing[table].jumps.has(`${j.chain} -j ${j.target}`) : o.installJumps !== false))
      .map((j) => `${j.append ? '-A' : '-I'} ${j.chain} ${j.spec ? j.spec + ' ' : ''}-j ${j.target}`);

  // filter: small, always rewritten whole.
  const filter: string[] = ['*filter', ...BASE_CHAINS.filter.map((c) => `:${c} - [0:0]`), ...jumpLines('filter')];
  filter.push(...rs.filterServices, ...rs.filterExternal, ...rs.filterFirewall);
  filter.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ_MARK}/${MASQ_MARK} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  if (rs.localhostNodePorts) {
    filter.push('-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP');
  }
  filter.push('COMMIT', '');

  // nat: base chains always; per-service chains when new or changed; stale ones deleted.
  const applied = new Map<string, string>();
  const declare: string[] = [];
  const body: string[] = [];
  for (const [chain, lines] of rs.chains) {
    const text = lines.join('\n');
    applied.set(chain, text);
    if (o.previous?.get(chain) === text && (!o.existing || o.existing.nat.chains.has(chain))) continue;
    declare.push(`:${chain} - [0:0]`);
    body.push(text);
  }
  const stale = new Set<string>();
  for (const c of o.previous?.keys() ?? []) if (!rs.chains.has(c)) stale.add(c);
  for (const c of o.existing?.nat.chains ?? []) if (PER_SERVICE_CHAIN.test(c) && !rs.chains.has(c)) stale.add(c);
  const nat: string[] = ['*nat', ...BASE_CHAINS.nat.map((c) => `:${c} - [0:0]`), ...declare, ...[...stale].map((c) => `:${c} - [0:0]`), ...jumpLines('nat')];
  // Hairpin: a pod that reached itself through a Service must see the node as the source, or its
  // reply would never be un-DNATed. Only DNATed connections: the node's or a pod's traffic to
  // its own address that went through no Service stays as it is.
  for (const ip of rs.hairpinIPs) nat.push(`-A KUBE-POSTROUTING -s ${ip}/32 -d ${ip}/32 -m conntrack --ctstate DNAT -m comment --comment "hairpin traffic" -j MASQUERADE`);
  nat.push(
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
    `-A KUBE-POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`,
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    `-A KUBE-MARK-MASQ -j MARK --or-mark ${MASQ_MARK}`,
  );
  nat.push(...rs.natServices, ...rs.natNodePorts, ...body, ...[...stale].map((c) => `-X ${c}`), 'COMMIT', '');
  return { filter: filter.join('\n'), nat: nat.join('\n'), applied, chainsWritten: declare.length, chainsDeleted: stale.size };
}

/** Every rule for the state, with jumps: the whole picture (tests, first sync). */
export function buildRules(state: ProxyRuleState): { filter: string; nat: string } {
  const r = renderRestore(buildRuleSet(state), { installJumps: true });
  return { filter: r.filter, nat: r.nat };
}

/** A transaction that removes every chain and jump of the proxy, leaving other rules alone. */
export function buildCleanupRules(saved: { nat: string; filter: string }): string {
  const out: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const ours = (c: string) => PER_SERVICE_CHAIN.test(c) || BASE_CHAINS[table].includes(c);
    const present = parseSave(saved[table]).chains;
    const chains = [...present].filter(ours);
    const deletes = saved[table]
      .split('\n')
      .filter((l) => l.startsWith('-A ') && !ours(l.split(' ')[1]) && /-j (\S+)/.test(l) && ours(/-j (\S+)/.exec(l)![1]))
      .map((l) => '-D' + l.slice(2));
    if (!chains.length && !deletes.length) continue;
    out.push(`*${table}`, ...chains.map((c) => `:${c} - [0:0]`), ...deletes, ...chains.map((c) => `-X ${c}`), 'COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}
