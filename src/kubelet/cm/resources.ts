// Resource figures for cgroups (pkg/kubelet/cm/helpers_linux.go, kuberuntime's Linux container
// resources): pod requests and limits as upstream's PodRequests/PodLimits (init containers,
// sidecars, overhead), CFS shares and quota, and the CRI resources of one container.

import type { KubeObject } from '../../api/meta/v1.js';
import type { LinuxContainerResources } from '../runtime/runtime.js';
import { containerOOMScoreAdj, effectiveRequests, getPodQOS, quantityOf, type QOSClass } from './qos.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const MIN_SHARES = 2;
export const MAX_SHARES = 262144;
export const SHARES_PER_CPU = 1024;
export const QUOTA_PERIOD = 100000;
export const MIN_QUOTA_PERIOD = 1000;

/** cpu in millicores, other resources in their base unit. */
export type ResourceAmounts = Map<string, number>;

function amounts(list: Record<string, unknown> | undefined): ResourceAmounts {
  const out: ResourceAmounts = new Map();
  for (const [k, v] of Object.entries(list ?? {})) {
    const q = quantityOf(v);
    if (q) out.set(k, k === 'cpu' ? q.milliValue() : q.value());
  }
  return out;
}
const addInto = (to: ResourceAmounts, from: ResourceAmounts) => {
  for (const [k, v] of from) to.set(k, (to.get(k) ?? 0) + v);
};
const maxInto = (to: ResourceAmounts, from: ResourceAmounts) => {
  for (const [k, v] of from) if (!to.has(k) || v > to.get(k)!) to.set(k, v);
};

function podAmounts(pod: KubeObject, which: 'requests' | 'limits', each?: (own: ResourceAmounts) => void): ResourceAmounts {
  const of = (c: Obj) => {
    const own = amounts(which === 'requests' ? effectiveRequests(c) : c.resources?.limits);
    each?.(own);
    return own;
  };
  const total: ResourceAmounts = new Map();
  for (const c of (pod.spec?.containers ?? []) as Obj[]) addInto(total, of(c));
  const restartable: ResourceAmounts = new Map();
  const initMax: ResourceAmounts = new Map();
  for (const c of (pod.spec?.initContainers ?? []) as Obj[]) {
    const own = of(c);
    if (c.restartPolicy === 'Always') {
      addInto(total, own);
      addInto(restartable, own);
      maxInto(initMax, restartable);
    } else {
      const eff = new Map(own);
      addInto(eff, restartable);
      maxInto(initMax, eff);
    }
  }
  maxInto(total, initMax);
  for (const [k, v] of amounts(pod.spec?.overhead)) if (which === 'requests' || total.has(k)) total.set(k, (total.get(k) ?? 0) + v);
  return total;
}

/** upstream resourcehelper.PodRequests. */
export const podRequests = (pod: KubeObject): ResourceAmounts => podAmounts(pod, 'requests');
/** upstream resourcehelper.PodLimits. */
export const podLimits = (pod: KubeObject): ResourceAmounts => podAmounts(pod, 'limits');

export function milliCPUToShares(milliCPU: number): number {
  if (milliCPU <= 0) return MIN_SHARES;
  const shares = Math.trunc((milliCPU * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, shares));
}

export function milliCPUToQuota(milliCPU: number, period = QUOTA_PERIOD): number {
  if (milliCPU <= 0) return 0;
  return Math.max(MIN_QUOTA_PERIOD, Math.trunc((milliCPU * period) / 1000));
}

/** A cgroup's settings; absent fields are left as they are (unlimited when created). */
export interface ResourceConfig {
  cpuShares?: number;
  /** -1 is unlimited. */
  cpuQuota?: number;
  cpuPeriod?: number;
  /** Bytes; -1 is unlimited. */
  memoryLimit?: number;
  /** -1 is unlimited. */
  pidsLimit?: number;
}

/** upstream ResourceConfigForPod: the pod-level cgroup's settings by QoS class. */
export function podResourceConfig(pod: KubeObject, opts: { podPidsLimit?: number; enforceCPULimits?: boolean } = {}): ResourceConfig {
  let cpuLimitsDeclared = true;
  let memoryLimitsDeclared = true;
  const limits = podAmounts(pod, 'limits', (own) => {
    if (!own.get('cpu')) cpuLimitsDeclared = false;
    if (!own.get('memory')) memoryLimitsDeclared = false;
  });
  const reqs = podRequests(pod);
  const cpuShares = milliCPUToShares(reqs.get('cpu') ?? 0);
  const cpuQuota = opts.enforceCPULimits === false ? -1 : milliCPUToQuota(limits.get('cpu') ?? 0);
  const memoryLimit = limits.get('memory') ?? 0;
  const qos: QOSClass = getPodQOS(pod);
  const cfg: ResourceConfig = {};
  if (qos === 'Guaranteed') Object.assign(cfg, { cpuShares, cpuQuota, cpuPeriod: QUOTA_PERIOD, memoryLimit });
  else if (qos === 'Burstable') {
    cfg.cpuShares = cpuShares;
    if (cpuLimitsDeclared) Object.assign(cfg, { cpuQuota, cpuPeriod: QUOTA_PERIOD });
    if (memoryLimitsDeclared) cfg.memoryLimit = memoryLimit;
  } else cfg.cpuShares = MIN_SHARES;
  if (opts.podPidsLimit !== undefined && opts.podPidsLimit !== 0) cfg.pidsLimit = opts.podPidsLimit;
  return cfg;
}

/**
 * The CRI LinuxContainerResources of one container (kuberuntime generateLinuxContainerResources):
 * cpu_shares from the cpu request (or the limit when there is no request; at least 2), cpu_quota
 * and cpu_period from the cpu limit, memory_limit_in_bytes from the memory limit, and the QoS's
 * oom_score_adj. `memoryCapacity` is the node's memory in bytes.
 */
export function containerResources(pod: KubeObject, container: Obj, memoryCapacity: number): LinuxContainerResources {
  const req = quantityOf(container.resources?.requests?.cpu);
  const limit = quantityOf(container.resources?.limits?.cpu);
  const memLimit = quantityOf(container.resources?.limits?.memory)?.value() ?? 0;
  const shares = milliCPUToShares((req ?? limit)?.milliValue() ?? 0);
  const r: LinuxContainerResources = {
    cpu_shares: String(shares),
    oom_score_adj: String(containerOOMScoreAdj(pod, container, memoryCapacity)),
  };
  if (memLimit > 0) r.memory_limit_in_bytes = String(memLimit);
  if (limit) {
    r.cpu_period = String(QUOTA_PERIOD);
    r.cpu_quota = String(milliCPUToQuota(limit.milliValue()));
  }
  return r;
}
