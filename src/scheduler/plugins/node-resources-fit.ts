// NodeResourcesFit: the pod's requests (cpu, memory, ephemeral-storage, extended resources) must
// fit the node's allocatable minus what its pods request, and the pod count must stay within
// allocatable pods. Scores by LeastAllocated (default), MostAllocated or RequestedToCapacityRatio.

import { MAX_NODE_SCORE, type NodeInfo, type Plugin, type PodInfo, Status } from '../framework/types.js';

export const NODE_RESOURCES_FIT = 'NodeResourcesFit';
const TOO_MANY_PODS = 'Too many pods';

export interface ResourceSpec {
  name: string;
  weight: number;
}

export interface ScoringStrategy {
  type: 'LeastAllocated' | 'MostAllocated' | 'RequestedToCapacityRatio';
  /** Defaults to cpu and memory, weight 1 each. */
  resources?: ResourceSpec[];
  /** RequestedToCapacityRatio's shape: utilization (0..100) → score (0..10), as upstream's args. */
  shape?: { utilization: number; score: number }[];
}

export const DEFAULT_RESOURCES: ResourceSpec[] = [
  { name: 'cpu', weight: 1 },
  { name: 'memory', weight: 1 },
];

/** Insufficient resources of `pod` on `node`, as reasons; empty when it fits. */
export function insufficientResources(pod: PodInfo, node: NodeInfo): string[] | null {
  let out: string[] | null = null;
  if (node.pods.length + 1 > node.allocatable.pods) (out ??= []).push(TOO_MANY_PODS);
  const r = pod.requests;
  if (r.milliCPU === 0 && r.memory === 0 && r.ephemeralStorage === 0 && !r.scalar) return out;
  const a = node.allocatable;
  const u = node.requested;
  if (r.milliCPU > 0 && r.milliCPU > a.milliCPU - u.milliCPU) (out ??= []).push('Insufficient cpu');
  if (r.memory > 0 && r.memory > a.memory - u.memory) (out ??= []).push('Insufficient memory');
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > a.ephemeralStorage - u.ephemeralStorage) (out ??= []).push('Insufficient ephemeral-storage');
  if (r.scalar) {
    for (const name in r.scalar) {
      const q = r.scalar[name];
      if (q === 0) continue;
      if (q > (a.scalar?.[name] ?? 0) - (u.scalar?.[name] ?? 0)) (out ??= []).push(`Insufficient ${name}`);
    }
  }
  return out;
}

/** The (allocatable, requested-including-pod) pair for one resource; `nonZero` uses scoring defaults for cpu/memory. */
export function allocatableAndRequested(node: NodeInfo, pod: PodInfo, resource: string, nonZero: boolean): [number, number] {
  switch (resource) {
    case 'cpu':
      return nonZero ? [node.allocatable.milliCPU, node.nonZeroCPU + pod.nonZeroCPU] : [node.allocatable.milliCPU, node.requested.milliCPU + pod.requests.milliCPU];
    case 'memory':
      return nonZero ? [node.allocatable.memory, node.nonZeroMemory + pod.nonZeroMemory] : [node.allocatable.memory, node.requested.memory + pod.requests.memory];
    case 'ephemeral-storage':
      return [node.allocatable.ephemeralStorage, node.requested.ephemeralStorage + pod.requests.ephemeralStorage];
    default: {
      const podReq = pod.requests.scalar?.[resource] ?? 0;
      // Extended resources the pod does not ask for are not scored.
      if (podReq === 0) return [0, 0];
      return [node.allocatable.scalar?.[resource] ?? 0, (node.requested.scalar?.[resource] ?? 0) + podReq];
    }
  }
}

function leastRequested(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

function mostRequested(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  if (requested > capacity) requested = capacity;
  return Math.trunc((requested * MAX_NODE_SCORE) / capacity);
}

/** Piecewise-linear function over the shape points (x ascending). */
function brokenLinear(shape: { utilization: number; score: number }[], p: number): number {
  for (let i = 0; i < shape.length; i++) {
    if (p <= shape[i].utilization) {
      if (i === 0) return shape[0].score;
      const a = shape[i - 1];
      const b = shape[i];
      return a.score + Math.trunc(((b.score - a.score) * (p - a.utilization)) / (b.utilization - a.utilization));
    }
  }
  return shape[shape.length - 1].score;
}

export function nodeResourcesFitPlugin(strategy: ScoringStrategy = { type: 'LeastAllocated' }): Plugin {
  const resources = strategy.resources ?? DEFAULT_RESOURCES;
  const shape = (strategy.shape ?? [
    { utilization: 0, score: 10 },
    { utilization: 100, score: 0 },
  ]).map((p) => ({ utilization: p.utilization, score: (p.score * MAX_NODE_SCORE) / 10 }));
  const per =
    strategy.type === 'MostAllocated'
      ? mostRequested
      : strategy.type === 'RequestedToCapacityRatio'
        ? (req: number, cap: number) => (cap === 0 || req > cap ? brokenLinear(shape, 100) : brokenLinear(shape, Math.trunc((req * 100) / cap)))
        : leastRequested;
  return {
    name: NODE_RESOURCES_FIT,
    filter(_state, pod, node) {
      const reasons = insufficientResources(pod, node);
      return reasons ? new Status('Unschedulable', reasons) : null;
    },
    score(_state, pod, node) {
      let total = 0;
      let weights = 0;
      for (const r of resources) {
        const [alloc, req] = allocatableAndRequested(node, pod, r.name, true);
        if (alloc === 0) continue;
        total += per(req, alloc) * r.weight;
        weights += r.weight;
      }
      if (weights === 0) return 0;
      if (strategy.type === 'RequestedToCapacityRatio') return Math.round(total / weights);
      return Math.trunc(total / weights);
    },
  };
}
