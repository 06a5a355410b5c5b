// PodTopologySpread: DoNotSchedule constraints filter nodes whose domain would exceed maxSkew
// (honouring minDomains and the node inclusion policies); ScheduleAnyway constraints — or the
// system default constraints for pods owned by a Service/RC/RS/StatefulSet — score.

import type { Selector } from '../../machinery/labels.js';
import { type Requirement } from '../../machinery/labels.js';
import { MAX_NODE_SCORE, type NodeInfo, type Plugin, type Snapshot, type PodInfo, safeSelector, Status, type StateData } from '../framework/types.js';
import { matchesRequiredNodeAffinity, requiredNodeAffinity, toleratedBy } from './helpers.js';

export const POD_TOPOLOGY_SPREAD = 'PodTopologySpread';
export const ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints";
export const ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + ' (missing required label)';
const REJECT_SKEW = new Status('Unschedulable', [ERR_REASON_CONSTRAINTS_NOT_MATCH]);
const REJECT_LABEL = new Status('UnschedulableAndUnresolvable', [ERR_REASON_NODE_LABEL_NOT_MATCH]);
const SKIP = new Status('Skip');
const HOSTNAME = 'kubernetes.io/hostname';

export interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: Selector;
  minDomains: number;
  nodeAffinityPolicy: 'Honor' | 'Ignore';
  nodeTaintsPolicy: 'Honor' | 'Ignore';
}

export interface PodTopologySpreadOptions {
  /**
   * For system default spreading: the selector of the Services/RCs/RSs/StatefulSets the pod
   * belongs to (merged), or null/empty when none. Without it, no default constraints apply.
   */
  defaultSelector?: (pod: PodInfo) => Selector | null | undefined;
  /** Overrides upstream's system defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway). */
  defaultConstraints?: { maxSkew: number; topologyKey: string }[];
}

const SYSTEM_DEFAULTS = [
  { maxSkew: 3, topologyKey: HOSTNAME },
  { maxSkew: 5, topologyKey: 'topology.kubernetes.io/zone' },
];

interface ConstraintJSON {
  maxSkew?: number;
  topologyKey?: string;
  whenUnsatisfiable?: string;
  labelSelector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | null;
  minDomains?: number;
  nodeAffinityPolicy?: string;
  nodeTaintsPolicy?: string;
  matchLabelKeys?: string[];
}

function constraintsOf(pod: PodInfo, action: 'DoNotSchedule' | 'ScheduleAnyway'): Constraint[] {
  const key = `spread:${action}`;
  let out = pod.memo[key] as Constraint[] | undefined;
  if (out) return out;
  out = [];
  for (const c of (pod.pod.spec?.topologySpreadConstraints ?? []) as ConstraintJSON[]) {
    if ((c.whenUnsatisfiable ?? 'DoNotSchedule') !== action) continue;
    let selector = safeSelector(c.labelSelector);
    if (c.matchLabelKeys?.length) {
      const extra: Requirement[] = [];
      for (const k of c.matchLabelKeys) if (k in pod.labels) extra.push({ key: k, operator: 'in', values: [pod.labels[k]] });
      if (extra.length) selector = selector.add(...extra);
    }
    out.push({
      maxSkew: c.maxSkew ?? 1,
      topologyKey: c.topologyKey ?? '',
      selector,
      minDomains: c.minDomains ?? 1,
      nodeAffinityPolicy: c.nodeAffinityPolicy === 'Ignore' ? 'Ignore' : 'Honor',
      nodeTaintsPolicy: c.nodeTaintsPolicy === 'Honor' ? 'Honor' : 'Ignore',
    });
  }
  pod.memo[key] = out;
  return out;
}

function hasAllKeys(node: NodeInfo, constraints: Constraint[]): boolean {
  for (const c of constraints) if (!(c.topologyKey in node.labels)) return false;
  return true;
}

function includesNode(c: Constraint, pod: PodInfo, node: NodeInfo): boolean {
  if (c.nodeAffinityPolicy === 'Honor' && !matchesRequiredNodeAffinity(requiredNodeAffinity(pod), node.name, node.labels)) return false;
  if (c.nodeTaintsPolicy === 'Honor') {
    for (const t of node.taints) {
      if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !toleratedBy(t, pod.tolerations)) return false;
    }
  }
  return true;
}

/** A label key=value every pod the selector matches must carry (for the snapshot's label index). */
function exactPair(selector: Selector): [string, string] | undefined {
  for (const r of selector.requirements) {
    if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) return [r.key, r.values[0]];
  }
  return undefined;
}

/**
 * Calls `add(node)` once per pod in `ns` matching `selector` on a node of the snapshot, through
 * the label index when the selector pins a label; undefined when there is no index to use.
 */
function eachMatchingPod(snapshot: Snapshot, selector: Selector, ns: string, add: (node: NodeInfo) => void): boolean {
  const pair = snapshot.podsByLabel ? exactPair(selector) : undefined;
  if (!pair) return false;
  for (const { info, node } of snapshot.podsByLabel!(pair[0], pair[1])) {
    if (info.terminating || info.namespace !== ns || !selector.matches(info.labels)) continue;
    const ni = snapshot.get(node);
    if (ni) add(ni);
  }
  return true;
}

function countMatching(pods: readonly PodInfo[], selector: Selector, ns: string): number {
  let n = 0;
  for (const p of pods) if (!p.terminating && p.namespace === ns && selector.matches(p.labels)) n++;
  return n;
}

class FilterState implements StateData {
  constructor(
    readonly constraints: Constraint[],
    /** Per constraint: topology value → matching pods. */
    readonly counts: Map<string, number>[],
    private mins: number[] | null = null,
  ) {}

  min(i: number): number {
    if (!this.mins) {
      this.mins = this.counts.map((m) => {
        let min = Number.POSITIVE_INFINITY;
        for (const v of m.values()) if (v < min) min = v;
        return min;
      });
    }
    return this.mins[i];
  }

  update(pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
    if (other.namespace !== pod.namespace || !hasAllKeys(node, this.constraints)) return;
    this.constraints.forEach((c, i) => {
      if (!includesNode(c, pod, node) || !c.selector.matches(other.labels)) return;
      const v = node.labels[c.topologyKey];
      this.counts[i].set(v, (this.counts[i].get(v) ?? 0) + delta);
    });
    this.mins = null;
  }

  clone(): FilterState {
    return new FilterState(this.constraints, this.counts.map((m) => new Map(m)), this.mins);
  }
}

class ScoreState implements StateData {
  constructor(
    readonly constraints: Constraint[],
    readonly ignored: Set<string>,
    readonly pairCounts: Map<string, number>,
    readonly weights: number[],
  ) {}
  clone() {
    return this;
  }
}

const pairKey = (k: string, v: string) => `${k}\u0000${v}`;

export function podTopologySpreadPlugin(opts: PodTopologySpreadOptions = {}): Plugin {
  const defaults = opts.defaultConstraints ?? SYSTEM_DEFAULTS;
  return {
    name: POD_TOPOLOGY_SPREAD,
    preFilter(state, pod, snapshot) {
      const constraints = constraintsOf(pod, 'DoNotSchedule');
      if (constraints.length === 0) return SKIP;
      const counts = constraints.map(() => new Map<string, number>());
      // Indexed: every eligible domain starts at 0, then each matching pod counts once.
      const indexed = constraints.map((c) => !!snapshot.podsByLabel && !!exactPair(c.selector));
      for (const node of snapshot.nodeInfoList) {
        if (!hasAllKeys(node, constraints)) continue;
        for (let i = 0; i < constraints.length; i++) {
          const c = constraints[i];
          if (!includesNode(c, pod, node)) continue;
          const v = node.labels[c.topologyKey];
          counts[i].set(v, (counts[i].get(v) ?? 0) + (indexed[i] ? 0 : countMatching(node.pods, c.selector, pod.namespace)));
        }
      }
      constraints.forEach((c, i) => {
        if (!indexed[i]) return;
        eachMatchingPod(snapshot, c.selector, pod.namespace, (node) => {
          if (!hasAllKeys(node, constraints) || !includesNode(c, pod, node)) return;
          const v = node.labels[c.topologyKey];
          counts[i].set(v, (counts[i].get(v) ?? 0) + 1);
        });
      });
      state.write(POD_TOPOLOGY_SPREAD, new FilterState(constraints, counts));
      return null;
    },
    addPod(state, pod, added, node) {
      state.read<FilterState>(POD_TOPOLOGY_SPREAD)?.update(pod, added, node, 1);
    },
    removePod(state, pod, removed, node) {
      state.read<FilterState>(POD_TOPOLOGY_SPREAD)?.update(pod, removed, node, -1);
    },
    filter(state, pod, node) {
      const s = state.read<FilterState>(POD_TOPOLOGY_SPREAD);
      if (!s) return null;
      for (let i = 0; i < s.constraints.length; i++) {
        const c = s.constraints[i];
        const v = node.labels[c.topologyKey];
        if (v === undefined) return REJECT_LABEL;
        const min = s.counts[i].size < c.minDomains ? 0 : s.min(i);
        const self = c.selector.matches(pod.labels) ? 1 : 0;
        const skew = (s.counts[i].get(v) ?? 0) + self - min;
        if (skew > c.maxSkew) return REJECT_SKEW;
      }
      return null;
    },
    preScore(state, pod, nodes, snapshot) {
      const own = pod.pod.spec?.topologySpreadConstraints;
      let constraints: Constraint[];
      let requireAll = true;
      if (Array.isArray(own) && own.length > 0) {
        constraints = constraintsOf(pod, 'ScheduleAnyway');
      } else {
        const sel = opts.defaultSelector?.(pod);
        if (!sel || sel.empty()) return SKIP;
        requireAll = false;
        constraints = defaults.map((d) => ({ ...d, selector: sel, minDomains: 1, nodeAffinityPolicy: 'Honor', nodeTaintsPolicy: 'Ignore' }));
      }
      if (constraints.length === 0 || nodes.length === 0) return SKIP;
      const ignored = new Set<string>();
      const pairCounts = new Map<string, number>();
      const sizes = constraints.map(() => 0);
      for (const node of nodes) {
        if (requireAll && !hasAllKeys(node, constraints)) {
          ignored.add(node.name);
          continue;
        }
        constraints.forEach((c, i) => {
          if (c.topologyKey === HOSTNAME) return;
          const k = pairKey(c.topologyKey, node.labels[c.topologyKey] ?? '');
          if (!pairCounts.has(k)) {
            pairCounts.set(k, 0);
            sizes[i]++;
          }
        });
      }
      if (pairCounts.size > 0) {
        const rest: Constraint[] = [];
        for (const c of constraints) {
          if (c.topologyKey === HOSTNAME) continue;
          const done = eachMatchingPod(snapshot, c.selector, pod.namespace, (node) => {
            if ((requireAll && !hasAllKeys(node, constraints)) || !includesNode(c, pod, node)) return;
            const k = pairKey(c.topologyKey, node.labels[c.topologyKey] ?? '');
            const cur = pairCounts.get(k);
            if (cur !== undefined) pairCounts.set(k, cur + 1);
          });
          if (!done) rest.push(c);
        }
        if (rest.length) {
          for (const node of snapshot.nodeInfoList) {
            if (requireAll && !hasAllKeys(node, constraints)) continue;
            for (const c of rest) {
              if (!includesNode(c, pod, node)) continue;
              const k = pairKey(c.topologyKey, node.labels[c.topologyKey] ?? '');
              const cur = pairCounts.get(k);
              if (cur === undefined) continue;
              pairCounts.set(k, cur + countMatching(node.pods, c.selector, pod.namespace));
            }
          }
        }
      }
      const weights = constraints.map((c, i) => Math.log((c.topologyKey === HOSTNAME ? nodes.length - ignored.size : sizes[i]) + 2));
      state.write(POD_TOPOLOGY_SPREAD + '/score', new ScoreState(constraints, ignored, pairCounts, weights));
      return null;
    },
    score(state, pod, node) {
      const s = state.read<ScoreState>(POD_TOPOLOGY_SPREAD + '/score');
      if (!s || s.ignored.has(node.name)) return 0;
      let score = 0;
      for (let i = 0; i < s.constraints.length; i++) {
        const c = s.constraints[i];
        const v = node.labels[c.topologyKey];
        if (v === undefined) continue;
        const cnt = c.topologyKey === HOSTNAME ? countMatching(node.pods, c.selector, pod.namespace) : (s.pairCounts.get(pairKey(c.topologyKey, v)) ?? 0);
        score += cnt * s.weights[i] + (c.maxSkew - 1);
      }
      return Math.round(score);
    },
    normalizeScore(state, _pod, nodes, scores) {
      const s = state.read<ScoreState>(POD_TOPOLOGY_SPREAD + '/score');
      if (!s) return;
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      for (let i = 0; i < scores.length; i++) {
        if (s.ignored.has(nodes[i].name)) continue;
        if (scores[i] < min) min = scores[i];
        if (scores[i] > max) max = scores[i];
      }
      for (let i = 0; i < scores.length; i++) {
        if (s.ignored.has(nodes[i].name)) scores[i] = 0;
        else if (max === 0) scores[i] = MAX_NODE_SCORE;
        else scores[i] = Math.trunc((MAX_NODE_SCORE * (max + min - scores[i])) / max);
      }
    },
  };
}
