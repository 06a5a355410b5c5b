// TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated PreferNoSchedule
// taints lower the score.

import { type Plugin, Status, type Taint, type Toleration, type StateData } from '../framework/types.js';
import { defaultNormalizeScore, toleratedBy } from './helpers.js';

export const TAINT_TOLERATION = 'TaintToleration';

class PreScoreState implements StateData {
  constructor(readonly tolerations: Toleration[]) {}
  clone() {
    return this;
  }
}

export function taintTolerationPlugin(): Plugin {
  return {
    name: TAINT_TOLERATION,
    filter(_state, pod, node) {
      for (const taint of node.taints) {
        if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
        if (!toleratedBy(taint, pod.tolerations)) {
          return new Status('UnschedulableAndUnresolvable', [`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`]);
        }
      }
      return null;
    },
    preScore(state, pod) {
      const tols = pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
      state.write(TAINT_TOLERATION, new PreScoreState(tols));
      return null;
    },
    score(state, _pod, node) {
      const tols = state.read<PreScoreState>(TAINT_TOLERATION)?.tolerations ?? [];
      let n = 0;
      for (const t of node.taints as Taint[]) if (t.effect === 'PreferNoSchedule' && !toleratedBy(t, tols)) n++;
      return n;
    },
    normalizeScore(_state, _pod, _nodes, scores) {
      defaultNormalizeScore(scores, true);
    },
  };
}
