// NodeResourcesBalancedAllocation: favours nodes whose cpu and memory utilisation (with the pod)
// stay close to each other: score = (1 − std deviation of the fractions) × 100.

import { MAX_NODE_SCORE, type Plugin, Status } from '../framework/types.js';
import { allocatableAndRequested, DEFAULT_RESOURCES, type ResourceSpec } from './node-resources-fit.js';

export const BALANCED_ALLOCATION = 'NodeResourcesBalancedAllocation';
const SKIP = new Status('Skip');

export function balancedAllocationPlugin(resources: ResourceSpec[] = DEFAULT_RESOURCES): Plugin {
  const fractions = new Float64Array(resources.length);
  return {
    name: BALANCED_ALLOCATION,
    preScore(_state, pod) {
      // A pod requesting none of the resources (best effort) is not scored.
      const r = pod.requests;
      const any = resources.some((x) =>
        x.name === 'cpu' ? r.milliCPU > 0 : x.name === 'memory' ? r.memory > 0 : x.name === 'ephemeral-storage' ? r.ephemeralStorage > 0 : (r.scalar?.[x.name] ?? 0) > 0,
      );
      return any ? null : SKIP;
    },
    score(_state, pod, node) {
      let n = 0;
      let sum = 0;
      for (const r of resources) {
        const [alloc, req] = allocatableAndRequested(node, pod, r.name, false);
        if (alloc === 0) continue;
        const f = Math.min(req / alloc, 1);
        fractions[n++] = f;
        sum += f;
      }
      let std = 0;
      if (n === 2) std = Math.abs((fractions[0] - fractions[1]) / 2);
      else if (n > 2) {
        const mean = sum / n;
        let v = 0;
        for (let i = 0; i < n; i++) v += (fractions[i] - mean) ** 2;
        std = Math.sqrt(v / n);
      }
      return Math.trunc((1 - std) * MAX_NODE_SCORE);
    },
  };
}
