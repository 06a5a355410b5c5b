// NodeAffinity: spec.nodeSelector and required node affinity filter; preferred terms score.
// PreFilter narrows the candidate nodes when every required term pins metadata.name.

import { type Plugin, Status, type StateData } from '../framework/types.js';
import { type CompiledTerm, compileTerm, defaultNormalizeScore, matchesRequiredNodeAffinity, type NodeSelectorTermJSON, requiredNodeAffinity, termMatchesNode } from './helpers.js';

export const NODE_AFFINITY = 'NodeAffinity';
export const ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector";
const REJECT = new Status('UnschedulableAndUnresolvable', [ERR_REASON_POD]);

interface Preferred {
  weight: number;
  term: CompiledTerm;
}

class PreScoreState implements StateData {
  constructor(readonly preferred: Preferred[]) {}
  clone() {
    return this;
  }
}

export function nodeAffinityPlugin(): Plugin {
  return {
    name: NODE_AFFINITY,
    preFilter(_state, pod) {
      const r = requiredNodeAffinity(pod);
      if (!r.terms || r.terms.length === 0) return null;
      // Only when every term has a metadata.name In field can the node set be narrowed.
      let names: Set<string> | null = null;
      for (const t of r.terms) {
        const inName = t.fields?.find((f) => f.key === 'metadata.name' && f.operator === 'in');
        if (!inName) return null;
        names ??= new Set();
        for (const v of inName.values) names.add(v);
      }
      return names;
    },
    filter(_state, pod, node) {
      return matchesRequiredNodeAffinity(requiredNodeAffinity(pod), node.name, node.labels) ? null : REJECT;
    },
    preScore(state, pod) {
      const pref = pod.pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution as
        | { weight?: number; preference?: NodeSelectorTermJSON }[]
        | undefined;
      if (!pref || pref.length === 0) return new Status('Skip');
      const list: Preferred[] = [];
      for (const p of pref) if (p.weight) list.push({ weight: p.weight, term: compileTerm(p.preference ?? {}) });
      state.write(NODE_AFFINITY, new PreScoreState(list));
      return null;
    },
    score(state, _pod, node) {
      const s = state.read<PreScoreState>(NODE_AFFINITY);
      let total = 0;
      for (const p of s?.preferred ?? []) if (termMatchesNode(p.term, node.name, node.labels)) total += p.weight;
      return total;
    },
    normalizeScore(_state, _pod, _nodes, scores) {
      defaultNormalizeScore(scores, false);
    },
  };
}
