// Scheduler framework data: pod and node summaries, the snapshot a cycle reads, statuses and
// the per-cycle state. Everything here is pure data derived from plain Kubernetes JSON.

import type { KubeObject } from '../../api/meta/v1.js';
import { quantityFrom } from '../../machinery/quantity.js';
import { type Labels, type Requirement, Selector, labelSelectorAsSelector, type LabelSelector } from '../../machinery/labels.js';

// ---------------------------------------------------------------------------------------------
// Status

export type Code = 'Success' | 'Error' | 'Unschedulable' | 'UnschedulableAndUnresolvable' | 'Skip';

export class Status {
  constructor(
    readonly code: Code,
    readonly reasons: readonly string[] = [],
    readonly plugin = '',
  ) {}

  static success(): Status {
    return SUCCESS;
  }

  isSuccess(): boolean {
    return this.code === 'Success';
  }

  /** Unschedulable or UnschedulableAndUnresolvable. */
  isRejected(): boolean {
    return this.code === 'Unschedulable' || this.code === 'UnschedulableAndUnresolvable';
  }

  message(): string {
    return this.reasons.join(', ');
  }

  withPlugin(plugin: string): Status {
    return this.plugin === plugin ? this : new Status(this.code, this.reasons, plugin);
  }
}

const SUCCESS = new Status('Success');

export const MAX_NODE_SCORE = 100;
export const DEFAULT_MILLI_CPU_REQUEST = 100;
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Resources

/** Requested or allocatable amounts: cpu in millicores, everything else in units (bytes). */
export interface Resource {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  /** Allowed pod number (allocatable) — unused for requests. */
  pods: number;
  /** Extended resources, hugepages and attachable volumes; null when none. */
  scalar: Record<string, number> | null;
}

export function emptyResource(): Resource {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalar: null };
}

export function cloneResource(r: Resource): Resource {
  return { ...r, scalar: r.scalar ? { ...r.scalar } : null };
}

/** Names the scheduler accounts for besides cpu, memory, ephemeral-storage and pods. */
export function isScalarResourceName(name: string): boolean {
  if (name.startsWith('hugepages-') || name.startsWith('attachable-volumes-')) return true;
  // Extended resources: domain-prefixed and outside kubernetes.io, not "requests."-prefixed.
  const slash = name.indexOf('/');
  if (slash < 0) return false;
  const domain = name.slice(0, slash);
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) return false;
  return !name.startsWith('requests.');
}

function quantityValue(v: unknown, milli: boolean): number {
  try {
    const q = quantityFrom(v);
    return milli ? q.milliValue() : q.value();
  } catch {
    return 0;
  }
}

type ResourceList = Record<string, unknown> | undefined | null;

function eachResource(rl: ResourceList, fn: (field: 'milliCPU' | 'memory' | 'ephemeralStorage' | 'pods' | null, name: string, v: number) => void): void {
  if (!rl || typeof rl !== 'object') return;
  for (const name of Object.keys(rl)) {
    switch (name) {
      case 'cpu':
        fn('milliCPU', name, quantityValue(rl[name], true));
        break;
      case 'memory':
        fn('memory', name, quantityValue(rl[name], false));
        break;
      case 'ephemeral-storage':
        fn('ephemeralStorage', name, quantityValue(rl[name], false));
        break;
      case 'pods':
        fn('pods', name, quantityValue(rl[name], false));
        break;
      default:
        if (isScalarResourceName(name)) fn(null, name, quantityValue(rl[name], false));
    }
  }
}

export function resourceFromList(rl: ResourceList): Resource {
  const r = emptyResource();
  addList(r, rl);
  return r;
}

function addList(r: Resource, rl: ResourceList): void {
  eachResource(rl, (f, name, v) => {
    if (f) r[f] += v;
    else (r.scalar ??= Object.create(null) as Record<string, number>)[name] = (r.scalar[name] ?? 0) + v;
  });
}

function addResource(r: Resource, o: Resource, sign = 1): void {
  r.milliCPU += sign * o.milliCPU;
  r.memory += sign * o.memory;
  r.ephemeralStorage += sign * o.ephemeralStorage;
  if (o.scalar) {
    const s = (r.scalar ??= Object.create(null) as Record<string, number>);
    for (const k in o.scalar) s[k] = (s[k] ?? 0) + sign * o.scalar[k];
  }
}

function maxResource(r: Resource, o: Resource): void {
  r.milliCPU = Math.max(r.milliCPU, o.milliCPU);
  r.memory = Math.max(r.memory, o.memory);
  r.ephemeralStorage = Math.max(r.ephemeralStorage, o.ephemeralStorage);
  if (o.scalar) {
    const s = (r.scalar ??= Object.create(null) as Record<string, number>);
    for (const k in o.scalar) s[k] = Math.max(s[k] ?? 0, o.scalar[k]);
  }
}

interface Container {
  name?: string;
  restartPolicy?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  ports?: { hostPort?: number; hostIP?: string; protocol?: string; containerPort?: number }[];
}

/** A container's requests; limits stand in for missing requests, as API defaulting would set. */
function containerRequests(c: Container): ResourceList {
  const req = c.resources?.requests;
  const lim = c.resources?.limits;
  if (!lim) return req;
  if (!req) return lim;
  const out: Record<string, unknown> = { ...lim, ...req };
  return out;
}

/**
 * The pod's effective requests: max(sum of containers + restartable init containers, each
 * regular init container + the restartable ones started before it) + overhead. With
 * `nonMissing`, a container without a cpu/memory request counts the scheduler's defaults.
 */
export function computePodRequests(pod: KubeObject, nonMissing: boolean): Resource {
  const spec = pod.spec ?? {};
  const reqs = emptyResource();
  const withDefaults = (c: Container): Resource => {
    const rl = containerRequests(c);
    const r = resourceFromList(rl);
    if (nonMissing) {
      if (!rl || !('cpu' in rl)) r.milliCPU = DEFAULT_MILLI_CPU_REQUEST;
      if (!rl || !('memory' in rl)) r.memory = DEFAULT_MEMORY_REQUEST;
    }
    return r;
  };
  for (const c of (spec.containers ?? []) as Container[]) addResource(reqs, withDefaults(c));
  const restartable = emptyResource();
  const initMax = emptyResource();
  for (const c of (spec.initContainers ?? []) as Container[]) {
    const r = withDefaults(c);
    if (c.restartPolicy === 'Always') {
      addResource(reqs, r);
      addResource(restartable, r);
      maxResource(initMax, restartable);
    } else {
      const tmp = cloneResource(r);
      addResource(tmp, restartable);
      maxResource(initMax, tmp);
    }
  }
  maxResource(reqs, initMax);
  if (spec.overhead) addList(reqs, spec.overhead);
  return reqs;
}

// ---------------------------------------------------------------------------------------------
// Pods

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

export interface AffinityTerm {
  namespaces: ReadonlySet<string>;
  selector: Selector;
  topologyKey: string;
  namespaceSelector: Selector;
}

export interface WeightedAffinityTerm extends AffinityTerm {
  weight: number;
}

/** Whether `term` (owned by some pod) selects `pod`; nsLabels are the labels of `pod`'s namespace. */
export function termMatches(term: AffinityTerm, pod: PodInfo, nsLabels: Labels | undefined): boolean {
  if (term.namespaces.has(pod.namespace) || term.namespaceSelector.matches(nsLabels ?? {})) {
    return term.selector.matches(pod.labels);
  }
  return false;
}

export function safeSelector(ps: LabelSelector | undefined | null): Selector {
  try {
    return labelSelectorAsSelector(ps);
  } catch {
    return Selector.nothing();
  }
}

interface PodAffinityTermJSON {
  labelSelector?: LabelSelector | null;
  namespaces?: string[];
  namespaceSelector?: LabelSelector | null;
  topologyKey?: string;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}

function affinityTerm(ns: string, labels: Labels, t: PodAffinityTermJSON): AffinityTerm {
  let selector = safeSelector(t.labelSelector);
  // matchLabelKeys / mismatchLabelKeys merge the pod's own label values into the selector.
  const extra: Requirement[] = [];
  for (const k of t.matchLabelKeys ?? []) if (k in labels) extra.push({ key: k, operator: 'in', values: [labels[k]] });
  for (const k of t.mismatchLabelKeys ?? []) if (k in labels) extra.push({ key: k, operator: 'notin', values: [labels[k]] });
  if (extra.length && t.labelSelector) selector = selector.add(...extra);
  const namespaces = new Set<string>(t.namespaces?.length || t.namespaceSelector ? (t.namespaces ?? []) : [ns]);
  return { namespaces, selector, topologyKey: t.topologyKey ?? '', namespaceSelector: safeSelector(t.namespaceSelector) };
}

export interface PodInfo {
  readonly pod: KubeObject;
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly labels: Labels;
  readonly priority: number;
  /** status.startTime (or creation) in ms; +Infinity when unknown. */
  readonly startTime: number;
  readonly terminating: boolean;
  /** Effective requests (no defaults) — for fitting. */
  readonly requests: Resource;
  /** cpu/memory with the scheduler's non-zero defaults — for scoring. */
  readonly nonZeroCPU: number;
  readonly nonZeroMemory: number;
  readonly hostPorts: readonly HostPort[];
  readonly tolerations: readonly Toleration[];
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
  /** Plugin-private memo slots (computed once per pod object). */
  memo: Record<string, unknown>;
}

const podInfoCache = new WeakMap<object, PodInfo>();

/** The scheduler's summary of a pod; memoised per pod object, so treat pod objects as immutable. */
export function podInfoOf(pod: KubeObject): PodInfo {
  let pi = podInfoCache.get(pod);
  if (!pi) {
    pi = buildPodInfo(pod);
    podInfoCache.set(pod, pi);
  }
  return pi;
}

function timeOf(s: unknown): number {
  if (typeof s !== 'string') return Number.POSITIVE_INFINITY;
  const t = Date.parse(s);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function buildPodInfo(pod: KubeObject): PodInfo {
  const meta = pod.metadata ?? {};
  const spec = pod.spec ?? {};
  const ns = meta.namespace ?? 'default';
  const labels: Labels = meta.labels ?? {};
  const requests = computePodRequests(pod, false);
  const nz = computePodRequests(pod, true);
  const hostPorts: HostPort[] = [];
  for (const c of (spec.containers ?? []) as Container[]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort || p.hostPort <= 0) continue;
      hostPorts.push({ ip: p.hostIP || '0.0.0.0', protocol: p.protocol || 'TCP', port: p.hostPort });
    }
  }
  const aff = spec.affinity ?? {};
  const req = (x: { requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTermJSON[] } | undefined) =>
    (x?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => affinityTerm(ns, labels, t));
  const pref = (x: { preferredDuringSchedulingIgnoredDuringExecution?: { weight?: number; podAffinityTerm?: PodAffinityTermJSON }[] } | undefined) =>
    (x?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => ({ ...affinityTerm(ns, labels, w.podAffinityTerm ?? {}), weight: w.weight ?? 0 }));
  const status = pod.status ?? {};
  return {
    pod,
    name: meta.name ?? '',
    namespace: ns,
    uid: meta.uid ?? `${ns}/${meta.name ?? ''}`,
    labels,
    priority: typeof spec.priority === 'number' ? spec.priority : 0,
    startTime: timeOf(status.startTime ?? meta.creationTimestamp),
    terminating: !!meta.deletionTimestamp,
    requests,
    nonZeroCPU: nz.milliCPU,
    nonZeroMemory: nz.memory,
    hostPorts,
    tolerations: Array.isArray(spec.tolerations) ? spec.tolerations : [],
    requiredAffinityTerms: req(aff.podAffinity),
    requiredAntiAffinityTerms: req(aff.podAntiAffinity),
    preferredAffinityTerms: pref(aff.podAffinity),
    preferredAntiAffinityTerms: pref(aff.podAntiAffinity),
    memo: {},
  };
}

export function hasAffinity(p: PodInfo): boolean {
  return (
    p.requiredAffinityTerms.length + p.requiredAntiAffinityTerms.length + p.preferredAffinityTerms.length + p.preferredAntiAffinityTerms.length > 0
  );
}

/** util.MoreImportantPod: higher priority, then earlier start. */
export function moreImportant(a: PodInfo, b: PodInfo): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.startTime < b.startTime;
}

// ---------------------------------------------------------------------------------------------
// Nodes

export class NodeInfo {
  readonly node: KubeObject;
  readonly name: string;
  readonly labels: Labels;
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly allocatable: Resource;
  pods: PodInfo[] = [];
  podsWithAffinity: PodInfo[] = [];
  podsWithRequiredAntiAffinity: PodInfo[] = [];
  requested: Resource = emptyResource();
  nonZeroCPU = 0;
  nonZeroMemory = 0;
  /** "protocol/port" → ip → count of pods using it. */
  usedPorts = new Map<string, Map<string, number>>();

  constructor(node: KubeObject, pods: Iterable<KubeObject | PodInfo> = []) {
    this.node = node;
    this.name = node.metadata?.name ?? '';
    this.labels = node.metadata?.labels ?? {};
    this.taints = Array.isArray(node.spec?.taints) ? node.spec.taints : [];
    this.unschedulable = !!node.spec?.unschedulable;
    this.allocatable = resourceFromList(node.status?.allocatable);
    for (const p of pods) this.addPod(isPodInfo(p) ? p : podInfoOf(p));
  }

  addPod(p: PodInfo): void {
    this.pods.push(p);
    if (hasAffinity(p)) this.podsWithAffinity.push(p);
    if (p.requiredAntiAffinityTerms.length) this.podsWithRequiredAntiAffinity.push(p);
    this.account(p, 1);
  }

  /** Removes a pod (by uid); false when it was not there. */
  removePod(p: PodInfo): boolean {
    const i = this.pods.findIndex((x) => x.uid === p.uid);
    if (i < 0) return false;
    const old = this.pods[i];
    this.pods.splice(i, 1);
    const j = this.podsWithAffinity.findIndex((x) => x.uid === p.uid);
    if (j >= 0) this.podsWithAffinity.splice(j, 1);
    const k = this.podsWithRequiredAntiAffinity.findIndex((x) => x.uid === p.uid);
    if (k >= 0) this.podsWithRequiredAntiAffinity.splice(k, 1);
    this.account(old, -1);
    return true;
  }

  private account(p: PodInfo, sign: 1 | -1): void {
    addResource(this.requested, p.requests, sign);
    this.nonZeroCPU += sign * p.nonZeroCPU;
    this.nonZeroMemory += sign * p.nonZeroMemory;
    for (const hp of p.hostPorts) {
      const key = `${hp.protocol}/${hp.port}`;
      let ips = this.usedPorts.get(key);
      if (!ips) this.usedPorts.set(key, (ips = new Map()));
      const n = (ips.get(hp.ip) ?? 0) + sign;
      if (n <= 0) ips.delete(hp.ip);
      else ips.set(hp.ip, n);
      if (ips.size === 0) this.usedPorts.delete(key);
    }
  }

  /** Whether a wanted host port conflicts with one in use (0.0.0.0 conflicts with every IP). */
  portConflicts(hp: HostPort): boolean {
    const ips = this.usedPorts.get(`${hp.protocol}/${hp.port}`);
    if (!ips) return false;
    if (hp.ip === '0.0.0.0') return ips.size > 0;
    return ips.has('0.0.0.0') || ips.has(hp.ip);
  }

  clone(): NodeInfo {
    const c = Object.create(NodeInfo.prototype) as NodeInfo;
    Object.assign(c, this);
    c.pods = [...this.pods];
    c.podsWithAffinity = [...this.podsWithAffinity];
    c.podsWithRequiredAntiAffinity = [...this.podsWithRequiredAntiAffinity];
    c.requested = cloneResource(this.requested);
    c.usedPorts = new Map([...this.usedPorts].map(([k, v]) => [k, new Map(v)]));
    return c;
  }
}

function isPodInfo(p: KubeObject | PodInfo): p is PodInfo {
  return (p as PodInfo).memo !== undefined && (p as PodInfo).pod !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Snapshot

export class Snapshot {
  readonly nodeInfoList: NodeInfo[];
  private readonly byName = new Map<string, NodeInfo>();
  /** Labels of namespaces (for namespaceSelector); optional. */
  readonly namespaceLabels: (ns: string) => Labels | undefined;

  /**
   * Pods carrying label key=value, with their node's name: an index the scheduler cache keeps so
   * that counting a selector's pods need not visit every pod. Absent: callers scan the nodes.
   */
  readonly podsByLabel?: (key: string, value: string) => Iterable<{ info: PodInfo; node: string }>;

  constructor(nodeInfos: NodeInfo[], opts: { namespaceLabels?: (ns: string) => Labels | undefined; podsByLabel?: Snapshot['podsByLabel'] } = {}) {
    this.nodeInfoList = nodeInfos;
    for (const n of nodeInfos) this.byName.set(n.name, n);
    this.namespaceLabels = opts.namespaceLabels ?? (() => undefined);
    this.podsByLabel = opts.podsByLabel;
  }

  /** Builds a snapshot from node and pod objects; pods are placed by spec.nodeName, finished pods skipped. */
  static fromObjects(nodes: KubeObject[], pods: KubeObject[], opts: { namespaceLabels?: (ns: string) => Labels | undefined } = {}): Snapshot {
    const infos = nodes.map((n) => new NodeInfo(n));
    const byName = new Map(infos.map((n) => [n.name, n]));
    for (const p of pods) {
      const phase = p.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const ni = byName.get(p.spec?.nodeName ?? '');
      if (ni) ni.addPod(podInfoOf(p));
    }
    return new Snapshot(infos, opts);
  }

  /** Nodes that have pods with any (anti-)affinity (computed on use, so NodeInfo edits show). */
  get havePodsWithAffinityList(): NodeInfo[] {
    return this.nodeInfoList.filter((n) => n.podsWithAffinity.length > 0);
  }

  /** Nodes that have pods with required anti-affinity. */
  get havePodsWithRequiredAntiAffinityList(): NodeInfo[] {
    return this.nodeInfoList.filter((n) => n.podsWithRequiredAntiAffinity.length > 0);
  }

  get(name: string): NodeInfo | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.nodeInfoList.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Cycle state

export interface StateData {
  clone(): StateData;
}

export class CycleState {
  private data = new Map<string, StateData>();
  /** Plugins whose Filter is skipped this cycle (their PreFilter returned Skip). */
  skipFilter = new Set<string>();
  skipScore = new Set<string>();

  read<T extends StateData>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, v: StateData): void {
    this.data.set(key, v);
  }

  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) c.data.set(k, v.clone());
    c.skipFilter = new Set(this.skipFilter);
    c.skipScore = new Set(this.skipScore);
    return c;
  }
}

// ---------------------------------------------------------------------------------------------
// Plugins

export interface Plugin {
  readonly name: string;
  /** Success (null), a rejection, Skip, or a set of node names the pod may only go to. */
  preFilter?(state: CycleState, pod: PodInfo, snapshot: Snapshot): Status | Set<string> | null;
  /** Keeps PreFilter state in step when preemption adds or removes a pod on a node. */
  addPod?(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void;
  removePod?(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void;
  filter?(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null;
  preScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], snapshot: Snapshot): Status | null;
  score?(state: CycleState, pod: PodInfo, node: NodeInfo): number;
  normalizeScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], scores: number[]): void;
}
