// NetworkPolicy semantics (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
// from the policies, pods and namespaces of the cluster, the ingress and egress allow-lists of
// each pod on this node. A pod is isolated for a direction when any policy selecting it has that
// policyType; its allow-list is the union of the rules of those policies. Pure: no I/O.

import type { KubeObject } from '../../api/meta/v1.js';
import { labelSelectorAsSelector, Selector, type LabelSelector } from '../../machinery/labels.js';
import { cidrContainsIP, formatCidr, formatIPv4, parseCidr, parseIPv4, subtractCidrs, type Cidr } from './ipv4.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

/** One allowed flow: from/to `peer` (a CIDR; none = anywhere), over `protocol` (none = any) to `port`..`endPort` (none = any). */
export interface AllowEntry {
  peer?: string;
  protocol?: Protocol;
  port?: number;
  endPort?: number;
}

export interface PodPolicy {
  namespace: string;
  name: string;
  /** The pod's IPv4 address (one PodPolicy per address). */
  ip: string;
  /** Absent: not isolated for ingress. Empty: isolated, nothing allowed. */
  ingress?: AllowEntry[];
  egress?: AllowEntry[];
  /** namespace/name of the policies that select the pod. */
  policies: string[];
}

export interface PolicyState {
  nodeName: string;
  pods: readonly KubeObject[];
  namespaces: readonly KubeObject[];
  policies: readonly KubeObject[];
}

interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol: string;
}

interface ActivePod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  nodeName?: string;
  ips: number[];
  ports: ContainerPort[];
}

type PortSpec = { protocol: Protocol; port?: number; endPort?: number } | { protocol: Protocol; name: string };
/** `any`: every address (no `from`/`to`); else the CIDRs of ipBlocks and the selected pods. */
type Peers = { any: true } | { any: false; cidrs: Cidr[]; pods: ActivePod[] };

interface CompiledRule {
  peers: Peers;
  /** Absent: every port and protocol. */
  ports?: PortSpec[];
}

interface CompiledPolicy {
  key: string;
  namespace: string;
  selector: Selector;
  ingress?: CompiledRule[];
  egress?: CompiledRule[];
}

type Report = (message: string) => void;

function podIPv4s(pod: KubeObject): number[] {
  const raw = [pod.status?.podIP, ...((pod.status?.podIPs ?? []) as { ip?: string }[]).map((p) => p?.ip)];
  const out: number[] = [];
  for (const s of raw) {
    const ip = typeof s === 'string' ? parseIPv4(s) : undefined;
    if (ip !== undefined && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** Pods that own their addresses: not host-network, not finished (their IPs may be reused). */
function activePods(pods: readonly KubeObject[]): ActivePod[] {
  const out: ActivePod[] = [];
  for (const pod of pods) {
    if (pod.spec?.hostNetwork) continue;
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') continue;
    const ips = podIPv4s(pod);
    if (!ips.length) continue;
    const ports: ContainerPort[] = [];
    for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])] as { ports?: unknown[] }[]) {
      for (const p of (c?.ports ?? []) as { name?: string; containerPort?: number; protocol?: string }[]) {
        if (typeof p?.containerPort === 'number') ports.push({ name: p.name, containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' });
      }
    }
    out.push({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', labels: pod.metadata.labels ?? {}, nodeName: pod.spec?.nodeName, ips, ports });
  }
  return out;
}

function compileSelector(s: LabelSelector | undefined, what: string, report: Report): Selector {
  try {
    return labelSelectorAsSelector(s ?? {});
  } catch (e) {
    // An invalid selector selects nothing: better closed than open.
    report(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    return Selector.nothing();
  }
}

function compilePorts(raw: unknown, what: string, report: Report): PortSpec[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const out: PortSpec[] = [];
  for (const p of raw as { protocol?: string; port?: number | string; endPort?: number }[]) {
    const protocol = p?.protocol ?? 'TCP';
    if (!PROTOCOLS.includes(protocol)) {
      report(`${what}: unsupported protocol ${JSON.stringify(protocol)}`);
      continue;
    }
    const proto = protocol as Protocol;
    if (p.port === undefined || p.port === null) out.push({ protocol: proto });
    else if (typeof p.port === 'string') out.push({ protocol: proto, name: p.port });
    else if (Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535) {
      const end = p.endPort;
      if (end !== undefined && end !== null && !(Number.isInteger(end) && end >= p.port && end <= 65535)) {
        report(`${what}: endPort ${end} is not between port ${p.port} and 65535`);
        continue;
      }
      out.push(end !== undefined && end !== null && end !== p.port ? { protocol: proto, port: p.port, endPort: end } : { protocol: proto, port: p.port });
    } else report(`${what}: invalid port ${JSON.stringify(p.port)}`);
  }
  // Every port entry invalid: the rule must match nothing, not everything.
  return out;
}

class PeerResolver {
  private readonly nsLabels = new Map<string, Record<string, string>>();

  constructor(
    namespaces: readonly KubeObject[],
    readonly pods: readonly ActivePod[],
    private readonly report: Report,
  ) {
    for (const ns of namespaces) if (ns.metadata.name) this.nsLabels.set(ns.metadata.name, ns.metadata.labels ?? {});
  }

  /** A namespace's labels, with the immutable name label the API server always sets. */
  labelsOfNamespace(name: string): Record<string, string> {
    return { ...this.nsLabels.get(name), 'kubernetes.io/metadata.name': name };
  }

  resolve(raw: unknown, namespace: string, what: string): Peers {
    if (!Array.isArray(raw) || raw.length === 0) return { any: true };
    const cidrs: Cidr[] = [];
    const pods = new Set<ActivePod>();
    raw.forEach((peer: { ipBlock?: { cidr?: string; except?: string[] }; podSelector?: LabelSelector; namespaceSelector?: LabelSelector }, i) => {
      const at = `${what}[${i}]`;
      if (peer?.ipBlock) {
        const block = parseCidr(String(peer.ipBlock.cidr ?? ''));
        if (!block) return this.report(`${at}: ipBlock.cidr ${JSON.stringify(peer.ipBlock.cidr)} is not an IPv4 CIDR (skipped)`);
        const except: Cidr[] = [];
        for (const e of peer.ipBlock.except ?? []) {
          const c = parseCidr(String(e));
          if (c) except.push(c);
          else this.report(`${at}: ipBlock.except ${JSON.stringify(e)} is not an IPv4 CIDR (skipped)`);
        }
        cidrs.push(...subtractCidrs(block, except));
        return;
      }
      if (!peer?.podSelector && !peer?.namespaceSelector) return this.report(`${at}: a peer needs podSelector, namespaceSelector or ipBlock (matches nothing)`);
      const podSel = compileSelector(peer.podSelector, `${at}.podSelector`, this.report);
      const nsSel = peer.namespaceSelector ? compileSelector(peer.namespaceSelector, `${at}.namespaceSelector`, this.report) : undefined;
      for (const p of this.pods) {
        const inNamespace = nsSel ? nsSel.matches(this.labelsOfNamespace(p.namespace)) : p.namespace === namespace;
        if (inNamespace && podSel.matches(p.labels)) pods.add(p);
      }
    });
    return { any: false, cidrs, pods: [...pods] };
  }
}

function compilePolicy(np: KubeObject, resolver: PeerResolver, report: Report): CompiledPolicy {
  const namespace = np.metadata.namespace ?? 'default';
  const key = `${namespace}/${np.metadata.name}`;
  const spec = np.spec ?? {};
  const types: string[] = Array.isArray(spec.policyTypes) && spec.policyTypes.length ? spec.policyTypes : ['Ingress', ...(Array.isArray(spec.egress) && spec.egress.length ? ['Egress'] : [])];
  const compileRules = (rules: unknown, peersField: 'from' | 'to', dir: string): CompiledRule[] =>
    (Array.isArray(rules) ? rules : []).map((r: Record<string, unknown>, i) => ({
      peers: resolver.resolve(r?.[peersField], namespace, `${key} ${dir}[${i}].${peersField}`),
      ports: compilePorts(r?.ports, `${key} ${dir}[${i}].ports`, report),
    }));
  return {
    key,
    namespace,
    selector: compileSelector(spec.podSelector, `${key} podSelector`, report),
    ingress: types.includes('Ingress') ? compileRules(spec.ingress, 'from', 'ingress') : undefined,
    egress: types.includes('Egress') ? compileRules(spec.egress, 'to', 'egress') : undefined,
  };
}

function namedPort(pod: ActivePod, name: string, protocol: Protocol): number | undefined {
  return pod.ports.find((p) => p.name === name && p.protocol === protocol)?.containerPort;
}

function portFields(spec: PortSpec): Omit<AllowEntry, 'peer'> {
  if ('name' in spec) return { protocol: spec.protocol };
  return { protocol: spec.protocol, ...(spec.port !== undefined ? { port: spec.port } : {}), ...(spec.endPort !== undefined ? { endPort: spec.endPort } : {}) };
}

function peerCidrs(peers: Peers): (string | undefined)[] {
  if (peers.any) return [undefined];
  return [...peers.cidrs.map(formatCidr), ...peers.pods.flatMap((p) => p.ips.map((ip) => `${formatIPv4(ip)}/32`))];
}

/** Ingress: named ports are looked up in the target pod's containers. */
function ingressEntries(rule: CompiledRule, target: ActivePod): AllowEntry[] {
  const sources = peerCidrs(rule.peers);
  const ports: (Omit<AllowEntry, 'peer'> | undefined)[] = [];
  if (!rule.ports) ports.push(undefined);
  else
    for (const spec of rule.ports) {
      if (!('name' in spec)) ports.push(portFields(spec));
      else {
        const n = namedPort(target, spec.name, spec.protocol);
        if (n !== undefined) ports.push({ protocol: spec.protocol, port: n });
      }
    }
  return sources.flatMap((peer) => ports.map((p) => ({ ...(peer ? { peer } : {}), ...p })));
}

/** Egress: named ports are looked up in each destination pod's containers (pods inside an ipBlock count too). */
function egressEntries(rule: CompiledRule, allPods: readonly ActivePod[]): AllowEntry[] {
  const dests = peerCidrs(rule.peers);
  if (!rule.ports) return dests.map((peer) => (peer ? { peer } : {}));
  const out: AllowEntry[] = [];
  for (const spec of rule.ports) {
    if (!('name' in spec)) {
      for (const peer of dests) out.push({ ...(peer ? { peer } : {}), ...portFields(spec) });
      continue;
    }
    const candidates: { pod: ActivePod; ip: number }[] = [];
    if (rule.peers.any) for (const pod of allPods) for (const ip of pod.ips) candidates.push({ pod, ip });
    else {
      for (const pod of rule.peers.pods) for (const ip of pod.ips) candidates.push({ pod, ip });
      const blocks = rule.peers.cidrs;
      for (const pod of allPods) for (const ip of pod.ips) if (blocks.some((c) => cidrContainsIP(c, ip))) candidates.push({ pod, ip });
    }
    for (const { pod, ip } of candidates) {
      const n = namedPort(pod, spec.name, spec.protocol);
      if (n !== undefined) out.push({ peer: `${formatIPv4(ip)}/32`, protocol: spec.protocol, port: n });
    }
  }
  return out;
}

export function entryKey(e: AllowEntry): string {
  return `${e.peer ?? '*'} ${e.protocol ?? '*'} ${e.port ?? '*'}${e.endPort !== undefined ? `:${e.endPort}` : ''}`;
}

function dedupe(entries: AllowEntry[]): AllowEntry[] {
  const m = new Map<string, AllowEntry>();
  for (const e of entries) m.set(entryKey(e), e);
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/** The policy of every pod on `state.nodeName` that some NetworkPolicy selects, sorted by IP. */
export function computePodPolicies(state: PolicyState, report: Report = () => {}): PodPolicy[] {
  const pods = activePods(state.pods);
  const resolver = new PeerResolver(state.namespaces, pods, report);
  const policies = state.policies.map((np) => compilePolicy(np, resolver, report));
  const out: PodPolicy[] = [];
  const seenIPs = new Set<number>();
  for (const pod of pods) {
    if (pod.nodeName !== state.nodeName) continue;
    const selecting = policies.filter((p) => p.namespace === pod.namespace && p.selector.matches(pod.labels));
    if (!selecting.length) continue;
    const ingressPolicies = selecting.filter((p) => p.ingress);
    const egressPolicies = selecting.filter((p) => p.egress);
    const ingress = ingressPolicies.length ? dedupe(ingressPolicies.flatMap((p) => p.ingress!.flatMap((r) => ingressEntries(r, pod)))) : undefined;
    const egress = egressPolicies.length ? dedupe(egressPolicies.flatMap((p) => p.egress!.flatMap((r) => egressEntries(r, pods)))) : undefined;
    if (!ingress && !egress) continue;
    for (const ip of pod.ips) {
      if (seenIPs.has(ip)) {
        report(`pod ${pod.namespace}/${pod.name}: address ${formatIPv4(ip)} is claimed by another pod on this node (skipped)`);
        continue;
      }
      seenIPs.add(ip);
      out.push({ namespace: pod.namespace, name: pod.name, ip: formatIPv4(ip), ingress, egress, policies: selecting.map((p) => p.key).sort() });
    }
  }
  return out.sort((a, b) => (parseIPv4(a.ip) ?? 0) - (parseIPv4(b.ip) ?? 0));
}
