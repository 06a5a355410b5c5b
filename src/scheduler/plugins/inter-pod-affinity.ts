// InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, and required
// anti-affinity of existing pods against it, per topology domain; preferred terms (and existing
// pods' terms) score.

import type { Labels } from '../../machinery/labels.js';
import { type AffinityTerm, MAX_NODE_SCORE, type NodeInfo, type Plugin, type PodInfo, Status, type StateData, termMatches, type WeightedAffinityTerm } from '../framework/types.js';

export const INTER_POD_AFFINITY = 'InterPodAffinity';
export const ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";
export const ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
const REJECT_AFFINITY = new Status('UnschedulableAndUnresolvable', [ERR_REASON_AFFINITY]);
const REJECT_ANTI = new Status('Unschedulable', [ERR_REASON_ANTI_AFFINITY]);
const REJECT_EXISTING = new Status('Unschedulable', [ERR_REASON_EXISTING_ANTI_AFFINITY]);
const SKIP = new Status('Skip');

export interface InterPodAffinityOptions {
  /** Weight of existing pods' required affinity terms in scoring (upstream default 1). */
  hardPodAffinityWeight?: number;
}

const pairKey = (k: string, v: string) => `${k}\u0000${v}`;

type Counts = Map<string, number>;

function bump(m: Counts, node: NodeInfo, key: string, delta: number): void {
  const v = node.labels[key];
  if (v === undefined) return;
  const k = pairKey(key, v);
  const n = (m.get(k) ?? 0) + delta;
  if (n === 0) m.delete(k);
  else m.set(k, n);
}

function matchesAll(terms: readonly AffinityTerm[], pod: PodInfo, nsLabels: Labels | undefined): boolean {
  if (terms.length === 0) return false;
  for (const t of terms) if (!termMatches(t, pod, nsLabels)) return false;
  return true;
}

class FilterState implements StateData {
  constructor(
    /** Domains where an existing pod's required anti-affinity selects the incoming pod. */
    readonly existingAnti: Counts,
    /** Domains with pods matching all of the incoming pod's required affinity terms. */
    readonly affinity: Counts,
    /** Domains with pods matching one of the incoming pod's required anti-affinity terms. */
    readonly anti: Counts,
    readonly podNsLabels: Labels | undefined,
    readonly nsLabels: (ns: string) => Labels | undefined,
  ) {}

  update(pod: PodInfo, other: PodInfo, node: NodeInfo, delta: number): void {
    for (const t of other.requiredAntiAffinityTerms) if (termMatches(t, pod, this.podNsLabels)) bump(this.existingAnti, node, t.topologyKey, delta);
    const otherNs = this.nsLabels(other.namespace);
    if (matchesAll(pod.requiredAffinityTerms, other, otherNs)) for (const t of pod.requiredAffinityTerms) bump(this.affinity, node, t.topologyKey, delta);
    for (const t of pod.requiredAntiAffinityTerms) if (termMatches(t, other, otherNs)) bump(this.anti, node, t.topologyKey, delta);
  }

  clone(): FilterState {
    return new FilterState(new Map(this.existingAnti), new Map(this.affinity), new Map(this.anti), this.podNsLabels, this.nsLabels);
  }
}

class ScoreState implements StateData {
  constructor(readonly scores: Map<string, number>) {}
  clone() {
    return this;
  }
}

export function interPodAffinityPlugin(opts: InterPodAffinityOptions = {}): Plugin {
  const hardWeight = opts.hardPodAffinityWeight ?? 1;
  return {
    name: INTER_POD_AFFINITY,
    preFilter(state, pod, snapshot) {
      const podNs = snapshot.namespaceLabels(pod.namespace);
      const s = new FilterState(new Map(), new Map(), new Map(), podNs, snapshot.namespaceLabels);
      for (const node of snapshot.havePodsWithRequiredAntiAffinityList) {
        for (const other of node.podsWithRequiredAntiAffinity) {
          for (const t of other.requiredAntiAffinityTerms) if (termMatches(t, pod, podNs)) bump(s.existingAnti, node, t.topologyKey, 1);
        }
      }
      if (pod.requiredAffinityTerms.length || pod.requiredAntiAffinityTerms.length) {
        for (const node of snapshot.nodeInfoList) {
          for (const other of node.pods) {
            const otherNs = snapshot.namespaceLabels(other.namespace);
            if (pod.requiredAffinityTerms.length && matchesAll(pod.requiredAffinityTerms, other, otherNs)) {
              for (const t of pod.requiredAffinityTerms) bump(s.affinity, node, t.topologyKey, 1);
            }
            for (const t of pod.requiredAntiAffinityTerms) if (termMatches(t, other, otherNs)) bump(s.anti, node, t.topologyKey, 1);
          }
        }
      }
      if (s.existingAnti.size === 0 && pod.requiredAffinityTerms.length === 0 && pod.requiredAntiAffinityTerms.length === 0) return SKIP;
      state.write(INTER_POD_AFFINITY, s);
      return null;
    },
    addPod(state, pod, added, node) {
      state.read<FilterState>(INTER_POD_AFFINITY)?.update(pod, added, node, 1);
    },
    removePod(state, pod, removed, node) {
      state.read<FilterState>(INTER_POD_AFFINITY)?.update(pod, removed, node, -1);
    },
    filter(state, pod, node) {
      const s = state.read<FilterState>(INTER_POD_AFFINITY);
      if (!s) return null;
      // Required affinity: every term's topology label must exist; each domain must hold a match,
      // unless no pod anywhere matches and the pod matches its own terms (first of a group).
      if (pod.requiredAffinityTerms.length) {
        let podsExist = true;
        for (const t of pod.requiredAffinityTerms) {
          const v = node.labels[t.topologyKey];
          if (v === undefined) return REJECT_AFFINITY;
          if (!((s.affinity.get(pairKey(t.topologyKey, v)) ?? 0) > 0)) podsExist = false;
        }
        if (!podsExist && !(s.affinity.size === 0 && matchesAll(pod.requiredAffinityTerms, pod, s.podNsLabels))) return REJECT_AFFINITY;
      }
      for (const t of pod.requiredAntiAffinityTerms) {
        const v = node.labels[t.topologyKey];
        if (v !== undefined && (s.anti.get(pairKey(t.topologyKey, v)) ?? 0) > 0) return REJECT_ANTI;
      }
      if (s.existingAnti.size) {
        for (const k in node.labels) if ((s.existingAnti.get(pairKey(k, node.labels[k])) ?? 0) > 0) return REJECT_EXISTING;
      }
      return null;
    },
    preScore(state, pod, _nodes, snapshot) {
      const hasConstraints = pod.preferredAffinityTerms.length + pod.preferredAntiAffinityTerms.length > 0;
      const withAffinity = hasConstraints ? null : snapshot.havePodsWithAffinityList;
      if (withAffinity && withAffinity.length === 0) return SKIP;
      const podNs = snapshot.namespaceLabels(pod.namespace);
      const scores = new Map<string, number>();
      const add = (terms: readonly (AffinityTerm & { weight?: number })[], target: PodInfo, nsLabels: Labels | undefined, node: NodeInfo, mult: number, weight?: number) => {
        for (const t of terms) {
          const w = weight ?? (t as WeightedAffinityTerm).weight;
          if (!w) continue;
          const v = node.labels[t.topologyKey];
          if (v === undefined || !termMatches(t, target, nsLabels)) continue;
          const k = pairKey(t.topologyKey, v);
          scores.set(k, (scores.get(k) ?? 0) + w * mult);
        }
      };
      const nodes = withAffinity ?? snapshot.nodeInfoList;
      for (const node of nodes) {
        const pods = hasConstraints ? node.pods : node.podsWithAffinity;
        for (const other of pods) {
          const otherNs = snapshot.namespaceLabels(other.namespace);
          add(pod.preferredAffinityTerms, other, otherNs, node, 1);
          add(pod.preferredAntiAffinityTerms, other, otherNs, node, -1);
          if (hardWeight > 0) add(other.requiredAffinityTerms, pod, podNs, node, 1, hardWeight);
          add(other.preferredAffinityTerms, pod, podNs, node, 1);
          add(other.preferredAntiAffinityTerms, pod, podNs, node, -1);
        }
      }
      state.write(INTER_POD_AFFINITY + '/score', new ScoreState(scores));
      return null;
    },
    score(state, _pod, node) {
      const s = state.read<ScoreState>(INTER_POD_AFFINITY + '/score');
      if (!s || s.scores.size === 0) return 0;
      let total = 0;
      for (const k in node.labels) total += s.scores.get(pairKey(k, node.labels[k])) ?? 0;
      return total;
    },
    normalizeScore(state, _pod, _nodes, scores) {
      const s = state.read<ScoreState>(INTER_POD_AFFINITY + '/score');
      if (!s || s.scores.size === 0) return;
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const v of scores) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const diff = max - min;
      for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc((MAX_NODE_SCORE * (scores[i] - min)) / diff) : 0;
    },
  };
}
