// The resource quota controller (upstream's pkg/controller/resourcequota with the evaluators of
// pkg/quota/v1/evaluator/core): keeps each ResourceQuota's status.hard (= spec.hard) and
// status.used for exactly the resources it limits:
// - object counts: pods (pods not yet terminal), services, services.nodeports,
//   services.loadbalancers, configmaps, secrets, persistentvolumeclaims, replicationcontrollers,
//   resourcequotas, and count/<resource>[.<group>] for any namespaced resource the API serves;
// - compute of the pods quota counts (requests.cpu/cpu, requests.memory/memory, limits.*,
//   ephemeral-storage, hugepages-*, requests.<extended>), as upstream's PodRequests/PodLimits
//   (init containers, sidecars, overhead);
// - storage of claims: requests.storage, and per storage class
//   <class>.storageclass.storage.k8s.io/{requests.storage,persistentvolumeclaims}.
// Pod scopes (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
// CrossNamespacePodAffinity; spec.scopes and spec.scopeSelector) narrow which pods count.
// Usage is recomputed when objects in the namespace are added, deleted or changed in a way that
// matters, and every resync period (5 min). Enforcement at admission is not part of this.

import type { KubeObject } from '../../api/meta/v1.js';
import { byNamespace, keyOf } from '../../client/informer.js';
import { R, type GVR } from '../../client/resources.js';
import { isConflict, isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import { Quantity, quantityFrom } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';

type ResourceList = Map<string, Quantity>;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Legacy object-count names and the resource each counts. */
const LEGACY_COUNTS: Record<string, GVR> = {
  services: R.services,
  configmaps: R.configmaps,
  secrets: R.secrets,
  persistentvolumeclaims: R.persistentvolumeclaims,
  replicationcontrollers: R.replicationcontrollers,
  resourcequotas: R.resourcequotas,
};

const STORAGE_CLASS_SUFFIX = '.storageclass.storage.k8s.io/';
const POD_COMPUTE = /^(requests\.|limits\.)?(cpu|memory|ephemeral-storage|hugepages-.+)$/;

function q(v: unknown): Quantity | undefined {
  try {
    return quantityFrom(v);
  } catch {
    return undefined;
  }
}

function addTo(list: ResourceList, name: string, v: Quantity): void {
  const cur = list.get(name);
  list.set(name, cur ? cur.add(v) : v);
}

function toList(r: Obj | undefined): ResourceList {
  const out: ResourceList = new Map();
  for (const [k, v] of Object.entries(r ?? {})) {
    const x = q(v);
    if (x) out.set(k, x);
  }
  return out;
}

function maxInto(into: ResourceList, from: ResourceList): void {
  for (const [k, v] of from) {
    const cur = into.get(k);
    if (!cur || v.cmp(cur) > 0) into.set(k, v);
  }
}

/** Upstream's resourcehelper.PodRequests / PodLimits: containers plus sidecars, at least any init container, plus overhead. */
export function podResources(pod: KubeObject, which: 'requests' | 'limits'): ResourceList {
  const total: ResourceList = new Map();
  for (const c of (pod.spec?.containers ?? []) as Obj[]) for (const [k, v] of toList(c.resources?.[which])) addTo(total, k, v);
  const restartable: ResourceList = new Map();
  const initMax: ResourceList = new Map();
  for (const c of (pod.spec?.initContainers ?? []) as Obj[]) {
    const own = toList(c.resources?.[which]);
    let effective: ResourceList;
    if (c.restartPolicy === 'Always') {
      for (const [k, v] of own) {
        addTo(total, k, v);
        addTo(restartable, k, v);
      }
      effective = new Map(restartable);
    } else {
      effective = new Map(own);
      for (const [k, v] of restartable) addTo(effective, k, v);
    }
    maxInto(initMax, effective);
  }
  maxInto(total, initMax);
  for (const [k, v] of toList(pod.spec?.overhead)) {
    if (which === 'requests' || total.has(k)) addTo(total, k, v);
  }
  return total;
}

/** Upstream's QuotaV1Pod: not terminal, and not past its deletion grace period. */
function podCountsForQuota(pod: KubeObject, now: number): boolean {
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return false;
  if (pod.metadata.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds !== undefined) {
    if (now > Date.parse(pod.metadata.deletionTimestamp) + pod.metadata.deletionGracePeriodSeconds * 1000) return false;
  }
  return true;
}

function isBestEffort(pod: KubeObject): boolean {
  for (const c of [...((pod.spec?.containers ?? []) as Obj[]), ...((pod.spec?.initContainers ?? []) as Obj[])]) {
    for (const which of ['requests', 'limits']) {
      for (const res of ['cpu', 'memory']) {
        const v = q(c.resources?.[which]?.[res]);
        if (v && v.sign() > 0) return false;
      }
    }
  }
  return true;
}

function usesCrossNamespaceAffinity(pod: KubeObject): boolean {
  const a = pod.spec?.affinity ?? {};
  for (const kind of [a.podAffinity, a.podAntiAffinity]) {
    if (!kind) continue;
    const terms: Obj[] = [
      ...(kind.requiredDuringSchedulingIgnoredDuringExecution ?? []),
      ...((kind.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[]).map((w) => w.podAffinityTerm ?? {}),
    ];
    if (terms.some((t) => t.namespaceSelector || (t.namespaces ?? []).length > 0)) return true;
  }
  return false;
}

interface ScopeRequirement {
  scopeName: string;
  operator: string;
  values?: string[];
}

/** spec.scopes and spec.scopeSelector as one list of requirements (upstream's getScopeSelectorsFromQuota). */
function scopeRequirements(quota: KubeObject): ScopeRequirement[] {
  const out: ScopeRequirement[] = ((quota.spec?.scopes ?? []) as string[]).map((s) => ({ scopeName: s, operator: 'Exists' }));
  out.push(...((quota.spec?.scopeSelector?.matchExpressions ?? []) as ScopeRequirement[]));
  return out;
}

/** Whether a pod falls within a quota's scopes (upstream's podMatchesScopeFunc). */
function podMatchesScopes(pod: KubeObject, reqs: ScopeRequirement[]): boolean {
  for (const r of reqs) {
    let matches: boolean;
    switch (r.scopeName) {
      case 'Terminating':
        matches = pod.spec?.activeDeadlineSeconds !== undefined && pod.spec?.activeDeadlineSeconds !== null && pod.spec.activeDeadlineSeconds >= 0;
        break;
      case 'NotTerminating':
        matches = pod.spec?.activeDeadlineSeconds === undefined || pod.spec?.activeDeadlineSeconds === null;
        break;
      case 'BestEffort':
        matches = isBestEffort(pod);
        break;
      case 'NotBestEffort':
        matches = !isBestEffort(pod);
        break;
      case 'CrossNamespacePodAffinity':
        matches = usesCrossNamespaceAffinity(pod);
        break;
      case 'PriorityClass': {
        const pc: string | undefined = pod.spec?.priorityClassName || undefined;
        const values = r.values ?? [];
        if (r.operator === 'In') matches = pc !== undefined && values.includes(pc);
        else if (r.operator === 'NotIn') matches = pc === undefined || !values.includes(pc);
        else if (r.operator === 'Exists') matches = pc !== undefined;
        else matches = pc === undefined;
        // For PriorityClass the requirement is on the pod's value, so it is already complete.
        if (!matches) return false;
        continue;
      }
      default:
        return false;
    }
    if (r.operator === 'DoesNotExist' ? matches : !matches) return false;
  }
  return true;
}

function pvcStorageClass(pvc: KubeObject): string {
  return pvc.spec?.storageClassName ?? pvc.metadata.annotations?.['volume.beta.kubernetes.io/storage-class'] ?? '';
}

function serviceUsage(svc: KubeObject): { nodePorts: number; loadBalancers: number } {
  const ports = (svc.spec?.ports ?? []) as Obj[];
  if (svc.spec?.type === 'NodePort') return { nodePorts: ports.length, loadBalancers: 0 };
  if (svc.spec?.type === 'LoadBalancer') {
    const nodePorts = svc.spec?.allocateLoadBalancerNodePorts === false ? ports.filter((p) => p.nodePort).length : ports.length;
    return { nodePorts, loadBalancers: 1 };
  }
  return { nodePorts: 0, loadBalancers: 0 };
}

/** What about an object can change a quota's usage without an add or delete. */
function usageSignature(gvr: GVR, o: KubeObject): string {
  if (gvr === R.pods) {
    const s = o.spec ?? {};
    return JSON.stringify([
      o.status?.phase === 'Succeeded' || o.status?.phase === 'Failed',
      o.metadata.deletionTimestamp ?? null,
      (s.containers ?? []).map((c: Obj) => c.resources ?? null),
      (s.initContainers ?? []).map((c: Obj) => [c.resources ?? null, c.restartPolicy ?? null]),
      s.overhead ?? null,
      s.activeDeadlineSeconds ?? null,
      s.priorityClassName ?? null,
    ]);
  }
  if (gvr === R.services) return JSON.stringify([o.spec?.type, o.spec?.allocateLoadBalancerNodePorts ?? null, (o.spec?.ports ?? []).map((p: Obj) => p.nodePort ?? null)]);
  if (gvr === R.persistentvolumeclaims) return JSON.stringify([o.spec?.resources?.requests?.storage ?? null, pvcStorageClass(o)]);
  return '';
}

export interface ResourceQuotaOptions {
  /** --resource-quota-sync-period (default 5 min). */
  resyncMs?: number;
}

export class ResourceQuotaController implements Controller {
  readonly name = 'resourcequota';
  private readonly queue = new WorkQueue<string>();
  private readonly resyncMs: number;
  private readonly watched = new Set<string>();
  /** count/<resource>.<group> → the resource, from discovery (undefined: not served). */
  private readonly discovered = new Map<string, Promise<GVR | undefined>>();

  constructor(opts: ResourceQuotaOptions = {}) {
    this.resyncMs = opts.resyncMs ?? 5 * 60_000;
  }

  start(ctx: ControllerContext): void {
    const quotas = ctx.informers.for(R.resourcequotas).addIndex('namespace', byNamespace);
    quotas.addEventHandler({
      add: (x) => this.queue.add(keyOf(x)),
      update: (o, x) => JSON.stringify(o.spec) !== JSON.stringify(x.spec) && this.queue.add(keyOf(x)),
    });
    // Quotas count each other; the own status writes do not change other quotas' usage.
    quotas.addEventHandler({ add: (o) => this.bump(ctx, o), delete: (o) => this.bump(ctx, o) });
    for (const gvr of [R.pods, ...Object.values(LEGACY_COUNTS)]) if (gvr !== R.resourcequotas) this.watch(ctx, gvr);
    const timer = setInterval(() => quotas.indexer.list().forEach((x) => this.queue.add(keyOf(x))), this.resyncMs);
    timer.unref();
    ctx.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
    startWorkers(ctx, this.queue, 'resourcequota', (k) => this.sync(ctx, k));
  }

  /** Requeues every quota of the object's namespace. */
  private bump(ctx: ControllerContext, o: KubeObject): void {
    for (const x of ctx.informers.for(R.resourcequotas).indexer.byIndex('namespace', o.metadata.namespace ?? '')) this.queue.add(keyOf(x));
  }

  private watch(ctx: ControllerContext, gvr: GVR): void {
    const k = `${gvr.group}/${gvr.version}/${gvr.plural}`;
    if (this.watched.has(k)) return;
    this.watched.add(k);
    ctx.informers
      .for(gvr)
      .addIndex('namespace', byNamespace)
      .addEventHandler({
        add: (o) => this.bump(ctx, o),
        delete: (o) => this.bump(ctx, o),
        update: (o, n) => usageSignature(gvr, o) !== usageSignature(gvr, n) && this.bump(ctx, n),
      });
  }

  /** The resource a count/<plural>[.<group>] name stands for, from R or API discovery. */
  private resolveCount(ctx: ControllerContext, name: string): Promise<GVR | undefined> {
    const rest = name.slice('count/'.length);
    const dot = rest.indexOf('.');
    const plural = dot < 0 ? rest : rest.slice(0, dot);
    const group = dot < 0 ? '' : rest.slice(dot + 1);
    const known = Object.values(R).find((g) => g.plural === plural && g.group === group);
    if (known) return Promise.resolve(known.namespaced ? known : undefined);
    let p = this.discovered.get(rest);
    if (!p) {
      p = (async () => {
        try {
          let version = 'v1';
          if (group) {
            const g = await ctx.client.request<Obj>('GET', `/apis/${group}`);
            version = g.preferredVersion?.version ?? g.versions?.[0]?.version;
          }
          const list = await ctx.client.request<Obj>('GET', group ? `/apis/${group}/${version}` : '/api/v1');
          const r = ((list.resources ?? []) as Obj[]).find((x) => x.name === plural);
          if (!r || !r.namespaced) return undefined;
          return { group, version, plural, kind: r.kind, namespaced: true } as GVR;
        } catch (e) {
          if (!isNotFound(e)) this.discovered.delete(rest);
          return undefined;
        }
      })();
      this.discovered.set(rest, p);
    }
    return p;
  }

  private objects(ctx: ControllerContext, gvr: GVR, ns: string): KubeObject[] {
    return ctx.informers.for(gvr).indexer.byIndex('namespace', ns);
  }

  private async sync(ctx: ControllerContext, key: string): Promise<void> {
    const quota = ctx.informers.for(R.resourcequotas).indexer.get(key);
    if (!quota) return;
    const ns = quota.metadata.namespace!;
    const hard = (quota.spec?.hard ?? {}) as Record<string, string>;
    const now = ctx.settings.now().getTime();
    const used = new Map<string, Quantity>();
    const count = (name: string, n: number) => used.set(name, Quantity.fromInt(n));
    const scopes = scopeRequirements(quota);
    let pods: KubeObject[] | undefined;
    const quotaPods = () => (pods ??= this.objects(ctx, R.pods, ns).filter((p) => podCountsForQuota(p, now) && podMatchesScopes(p, scopes)));
    const computeUse = new Map<string, ResourceList>();
    const podSum = (which: 'requests' | 'limits', res: string) => {
      let lists = computeUse.get(which);
      if (!lists) {
        lists = new Map();
        for (const p of quotaPods()) for (const [k, v] of podResources(p, which)) addTo(lists, k, v);
        computeUse.set(which, lists);
      }
      return lists.get(res) ?? Quantity.fromInt(0);
    };
    const claims = () => this.objects(ctx, R.persistentvolumeclaims, ns);
    const claimStorage = (cs: KubeObject[]) => cs.reduce((a, c) => a.add(q(c.spec?.resources?.requests?.storage) ?? Quantity.fromInt(0)), Quantity.fromInt(0));

    for (const name of Object.keys(hard)) {
      const compute = POD_COMPUTE.exec(name);
      if (name === 'pods') count(name, quotaPods().length);
      else if (name === 'count/pods') count(name, this.objects(ctx, R.pods, ns).filter((p) => podMatchesScopes(p, scopes)).length);
      else if (compute) used.set(name, podSum(compute[1] === 'limits.' ? 'limits' : 'requests', compute[2]!));
      else if (name.startsWith('requests.') && name.includes('/')) used.set(name, podSum('requests', name.slice('requests.'.length)));
      else if (name === 'services.nodeports') count(name, this.objects(ctx, R.services, ns).reduce((a, s) => a + serviceUsage(s).nodePorts, 0));
      else if (name === 'services.loadbalancers') count(name, this.objects(ctx, R.services, ns).reduce((a, s) => a + serviceUsage(s).loadBalancers, 0));
      else if (name in LEGACY_COUNTS) count(name, this.objects(ctx, LEGACY_COUNTS[name]!, ns).length);
      else if (name === 'requests.storage') used.set(name, claimStorage(claims()));
      else if (name.includes(STORAGE_CLASS_SUFFIX)) {
        const [cls, what] = name.split(STORAGE_CLASS_SUFFIX) as [string, string];
        const mine = claims().filter((c) => pvcStorageClass(c) === cls);
        if (what === 'requests.storage') used.set(name, claimStorage(mine));
        else if (what === 'persistentvolumeclaims') count(name, mine.length);
      } else if (name.startsWith('count/')) {
        const gvr = await this.resolveCount(ctx, name);
        if (!gvr) continue;
        this.watch(ctx, gvr);
        const inf = ctx.informers.for(gvr);
        if (!inf.hasSynced) await inf.waitForSync();
        count(name, this.objects(ctx, gvr, ns).length);
      }
    }
    const usedOut: Record<string, string> = {};
    for (const [k, v] of used) usedOut[k] = v.toString();
    const hardOut: Record<string, string> = {};
    for (const [k, v] of Object.entries(hard)) hardOut[k] = q(v)?.toString() ?? v;
    // Compare semantically, as upstream's quota.Equals: formats may differ.
    const same = (a: Record<string, string> | undefined, b: Record<string, string>) => {
      const ak = Object.keys(a ?? {});
      if (ak.length !== Object.keys(b).length) return false;
      return ak.every((k) => b[k] !== undefined && q(a![k]) !== undefined && q(b[k]) !== undefined && q(a![k])!.cmp(q(b[k])!) === 0);
    };
    if (quota.status?.hard && quota.status?.used && same(quota.status.hard, hardOut) && same(quota.status.used, usedOut)) return;
    try {
      await ctx.client.resource(R.resourcequotas).updateStatus({ ...quota, status: { hard: hardOut, used: usedOut } });
    } catch (e) {
      if (isNotFound(e)) return;
      if (isConflict(e)) {
        // The informer will deliver the newer quota; sync again then.
        this.queue.addAfter(key, 100);
        return;
      }
      throw e;
    }
  }
}
