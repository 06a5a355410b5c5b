// A scheduling profile: the ordered plugins and score weights, and one scheduling cycle over a
// snapshot — PreFilter, Filter (sampling feasible nodes as upstream does), PreScore, Score,
// NormalizeScore, weighted sum, and a random pick among the best.

import type { KubeObject } from '../../api/meta/v1.js';
import { balancedAllocationPlugin, BALANCED_ALLOCATION } from '../plugins/balanced-allocation.js';
import { interPodAffinityPlugin, INTER_POD_AFFINITY, type InterPodAffinityOptions } from '../plugins/inter-pod-affinity.js';
import { nodeAffinityPlugin, NODE_AFFINITY } from '../plugins/node-affinity.js';
import { nodeNamePlugin } from '../plugins/node-name.js';
import { nodePortsPlugin } from '../plugins/node-ports.js';
import { nodeResourcesFitPlugin, NODE_RESOURCES_FIT, type ScoringStrategy } from '../plugins/node-resources-fit.js';
import { nodeUnschedulablePlugin } from '../plugins/node-unschedulable.js';
import { podTopologySpreadPlugin, POD_TOPOLOGY_SPREAD, type PodTopologySpreadOptions } from '../plugins/pod-topology-spread.js';
import { taintTolerationPlugin, TAINT_TOLERATION } from '../plugins/taint-toleration.js';
import { volumeBindingPlugin, type PVCLookup } from '../plugins/volume-binding.js';
import { CycleState, type NodeInfo, type Plugin, type PodInfo, podInfoOf, type Snapshot, Status } from './types.js';

export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/** Score weights of upstream's default profile (ImageLocality is not implemented). */
export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = {
  [TAINT_TOLERATION]: 3,
  [NODE_AFFINITY]: 2,
  [NODE_RESOURCES_FIT]: 1,
  [POD_TOPOLOGY_SPREAD]: 2,
  [INTER_POD_AFFINITY]: 2,
  [BALANCED_ALLOCATION]: 1,
};

export interface ProfileOptions {
  /** Replaces the default plugin list (order = extension point order). */
  plugins?: Plugin[];
  /** Overrides per plugin score weights (0 disables scoring for that plugin). */
  weights?: Record<string, number>;
  scoringStrategy?: ScoringStrategy;
  /** 0 or unset: adaptive (50% − nodes/125, at least 5%); 100: every node. */
  percentageOfNodesToScore?: number;
  /** Random source in [0, 1) for tie breaking and preemption's start offset; `seed` builds one. */
  random?: () => number;
  seed?: number;
  pvcLookup?: PVCLookup;
  podTopologySpread?: PodTopologySpreadOptions;
  interPodAffinity?: InterPodAffinityOptions;
}

export function defaultPlugins(o: ProfileOptions = {}): Plugin[] {
  return [
    nodeUnschedulablePlugin(),
    nodeNamePlugin(),
    taintTolerationPlugin(),
    nodeAffinityPlugin(),
    nodePortsPlugin(),
    nodeResourcesFitPlugin(o.scoringStrategy),
    volumeBindingPlugin(o.pvcLookup),
    podTopologySpreadPlugin(o.podTopologySpread),
    interPodAffinityPlugin(o.interPodAffinity),
    balancedAllocationPlugin(o.scoringStrategy?.resources),
  ];
}

/** mulberry32: a small seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Diagnosis {
  /** Per evaluated node, why it was rejected. */
  nodeToStatus: Map<string, Status>;
  /** Status of nodes absent from nodeToStatus (PreFilter narrowing or failure). */
  absentStatus: Status | null;
  unschedulablePlugins: Set<string>;
  preFilterMsg: string;
  postFilterMsg: string;
}

/** upstream's FitError: why no node fits, in the exact FailedScheduling message form. */
export class FitError extends Error {
  constructor(
    readonly pod: KubeObject,
    readonly numAllNodes: number,
    readonly diagnosis: Diagnosis,
    /** @internal The cycle state after PreFilter, for preemption. */
    readonly state: CycleState | null = null,
  ) {
    super('');
    this.name = 'FitError';
    Object.defineProperty(this, 'message', { get: () => this.describe(), configurable: true });
  }

  /** Status of a node: its explicit one, or the absent-node one. */
  statusOf(name: string): Status | null {
    return this.diagnosis.nodeToStatus.get(name) ?? this.diagnosis.absentStatus;
  }

  describe(): string {
    const d = this.diagnosis;
    if (this.numAllNodes === 0) return 'no nodes available to schedule pods';
    let msg = `0/${this.numAllNodes} nodes are available:`;
    if (d.preFilterMsg) msg += ` ${d.preFilterMsg}.`;
    else {
      const counts = new Map<string, number>();
      for (const st of d.nodeToStatus.values()) for (const r of st.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
      const absent = this.numAllNodes - d.nodeToStatus.size;
      if (absent > 0 && d.absentStatus) for (const r of d.absentStatus.reasons) counts.set(r, (counts.get(r) ?? 0) + absent);
      const parts = [...counts].map(([r, n]) => `${n} ${r}`).sort(byBytes);
      if (parts.length) msg += ` ${parts.join(', ')}.`;
    }
    if (d.postFilterMsg) msg += ` ${d.postFilterMsg}`;
    return msg;
  }
}

/** Go's sort.Strings order (byte-wise; these strings are ASCII). */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface ScheduleResult {
  node: string;
  /** Nodes evaluated (feasible + rejected) and found feasible in this cycle. */
  evaluated: number;
  feasible: number;
}

export class Profile {
  readonly plugins: Plugin[];
  readonly weights: Record<string, number>;
  readonly random: () => number;
  private readonly percentage: number;
  private readonly preFilterPlugins: Plugin[];
  private readonly filterPlugins: Plugin[];
  private readonly scorePlugins: Plugin[];
  /** Where the next cycle's node iteration starts (upstream's nextStartNodeIndex). */
  nextStartNodeIndex = 0;

  constructor(o: ProfileOptions = {}) {
    this.plugins = o.plugins ?? defaultPlugins(o);
    this.weights = { ...DEFAULT_WEIGHTS, ...o.weights };
    this.random = o.random ?? (o.seed !== undefined ? seededRandom(o.seed) : Math.random);
    this.percentage = o.percentageOfNodesToScore ?? 0;
    this.preFilterPlugins = this.plugins.filter((p) => p.preFilter);
    this.filterPlugins = this.plugins.filter((p) => p.filter);
    this.scorePlugins = this.plugins.filter((p) => p.score && (this.weights[p.name] ?? 1) > 0);
  }

  /** upstream's numFeasibleNodesToFind. */
  numFeasibleNodesToFind(numAllNodes: number): number {
    if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
    let pct = this.percentage;
    if (pct <= 0) pct = Math.max(50 - Math.trunc(numAllNodes / 125), MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    if (pct >= 100) return numAllNodes;
    const n = Math.trunc((numAllNodes * pct) / 100);
    return n < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : n;
  }

  /** Runs PreFilter; returns the narrowed node set (null = all) or a rejection. */
  runPreFilter(state: CycleState, pod: PodInfo, snapshot: Snapshot): { status: Status | null; nodeNames: Set<string> | null; narrowedBy: string[] } {
    let nodeNames: Set<string> | null = null;
    const narrowedBy: string[] = [];
    for (const pl of this.preFilterPlugins) {
      const r = pl.preFilter!(state, pod, snapshot);
      if (r === null) continue;
      if (r instanceof Set) {
        narrowedBy.push(pl.name);
        const names: Set<string> = r;
        if (nodeNames) {
          const both = new Set<string>();
          for (const n of nodeNames) if (names.has(n)) both.add(n);
          nodeNames = both;
        } else nodeNames = names;
        if (nodeNames.size === 0) {
          const msg = narrowedBy.length === 1 ? `node(s) didn't satisfy plugin ${narrowedBy[0]}` : `node(s) didn't satisfy plugin(s) [${narrowedBy.join(' ')}] simultaneously`;
          return { status: new Status('Unschedulable', [msg], pl.name), nodeNames, narrowedBy };
        }
        continue;
      }
      if (r.code === 'Skip') {
        state.skipFilter.add(pl.name);
        continue;
      }
      if (r.code === 'Error') throw new Error(`running PreFilter plugin "${pl.name}": ${r.message()}`);
      return { status: r.withPlugin(pl.name), nodeNames, narrowedBy };
    }
    return { status: null, nodeNames, narrowedBy };
  }

  /** All filter plugins on one node; the first rejection wins, as upstream. */
  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status | null {
    const skip = state.skipFilter;
    for (const pl of this.filterPlugins) {
      if (skip.size && skip.has(pl.name)) continue;
      const st = pl.filter!(state, pod, node);
      if (st === null || st.code === 'Success') continue;
      if (st.code === 'Error') throw new Error(`running "${pl.name}" filter plugin: ${st.message()}`);
      return st.withPlugin(pl.name);
    }
    return null;
  }

  /** Runs the PreFilter AddPod/RemovePod extensions (used by preemption). */
  runAddPod(state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo): void {
    for (const pl of this.preFilterPlugins) if (pl.addPod && !state.skipFilter.has(pl.name)) pl.addPod(state, pod, added, node);
  }

  runRemovePod(state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo): void {
    for (const pl of this.preFilterPlugins) if (pl.removePod && !state.skipFilter.has(pl.name)) pl.removePod(state, pod, removed, node);
  }

  /** One scheduling cycle. */
  schedule(podObj: KubeObject, snapshot: Snapshot): ScheduleResult | { error: FitError } {
    const pod = podInfoOf(podObj);
    const all = snapshot.nodeInfoList;
    const state = new CycleState();
    const diagnosis: Diagnosis = { nodeToStatus: new Map(), absentStatus: null, unschedulablePlugins: new Set(), preFilterMsg: '', postFilterMsg: '' };
    if (all.length === 0) {
      return { error: new FitError(podObj, 0, diagnosis, state) };
    }

    const pre = this.runPreFilter(state, pod, snapshot);
    if (pre.status) {
      diagnosis.absentStatus = pre.status;
      diagnosis.preFilterMsg = pre.status.message();
      if (pre.status.plugin) diagnosis.unschedulablePlugins.add(pre.status.plugin);
      return { error: new FitError(podObj, all.length, diagnosis, state) };
    }
    let nodes = all;
    if (pre.nodeNames) {
      nodes = [];
      for (const n of pre.nodeNames) {
        const ni = snapshot.get(n);
        if (ni) nodes.push(ni);
      }
      diagnosis.absentStatus = new Status('UnschedulableAndUnresolvable', [`node(s) didn't satisfy plugin(s) [${[...pre.narrowedBy].sort().join(' ')}]`]);
      for (const p of pre.narrowedBy) diagnosis.unschedulablePlugins.add(p);
    }

    // Filter, stopping once enough feasible nodes are found, starting where the last cycle stopped.
    const want = this.numFeasibleNodesToFind(nodes.length);
    const feasible: NodeInfo[] = [];
    const n = nodes.length;
    const start = this.nextStartNodeIndex % Math.max(n, 1);
    let rejected = 0;
    for (let i = 0; i < n && feasible.length < want; i++) {
      const ni = nodes[(start + i) % n];
      const st = this.runFilters(state, pod, ni);
      if (st === null) feasible.push(ni);
      else {
        diagnosis.nodeToStatus.set(ni.name, st);
        diagnosis.unschedulablePlugins.add(st.plugin);
        rejected++;
      }
    }
    const processed = feasible.length + rejected;
    this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % all.length;

    if (feasible.length === 0) return { error: new FitError(podObj, all.length, diagnosis, state) };
    if (feasible.length === 1) return { node: feasible[0].name, evaluated: processed, feasible: 1 };

    const totals = this.prioritize(state, pod, feasible, snapshot);
    return { node: this.selectHost(feasible, totals), evaluated: processed, feasible: feasible.length };
  }

  /** PreScore, Score, NormalizeScore and the weighted sum per feasible node. */
  prioritize(state: CycleState, pod: PodInfo, nodes: NodeInfo[], snapshot: Snapshot): Float64Array {
    const totals = new Float64Array(nodes.length);
    const active: Plugin[] = [];
    for (const pl of this.scorePlugins) {
      if (pl.preScore) {
        const st = pl.preScore(state, pod, nodes, snapshot);
        if (st && st.code === 'Skip') continue;
        if (st && !st.isSuccess()) throw new Error(`running PreScore plugin "${pl.name}": ${st.message()}`);
      }
      active.push(pl);
    }
    const scores: number[] = new Array(nodes.length);
    for (const pl of active) {
      for (let i = 0; i < nodes.length; i++) scores[i] = pl.score!(state, pod, nodes[i]);
      pl.normalizeScore?.(state, pod, nodes, scores);
      const w = this.weights[pl.name] ?? 1;
      for (let i = 0; i < nodes.length; i++) totals[i] += scores[i] * w;
    }
    return totals;
  }

  /** The highest total; ties broken uniformly at random (reservoir sampling). */
  selectHost(nodes: NodeInfo[], totals: Float64Array): string {
    let best = 0;
    let ties = 1;
    for (let i = 1; i < nodes.length; i++) {
      if (totals[i] > totals[best]) {
        best = i;
        ties = 1;
      } else if (totals[i] === totals[best]) {
        ties++;
        if (Math.floor(this.random() * ties) === 0) best = i;
      }
    }
    return nodes[best].name;
  }
}
