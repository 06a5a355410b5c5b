// pods/eviction (upstream EvictionREST): delete a pod unless that would break its
// PodDisruptionBudget. A pod that is not running (Pending, Succeeded, Failed, or already being
// deleted) is deleted without looking at budgets. Otherwise the one budget that selects the pod
// must allow a disruption; the API server takes it (disruptionsAllowed - 1, and the pod noted in
// disruptedPods) with a compare-and-swap status update of the budget, then deletes the pod.

import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { labelSelectorAsSelector } from '../../machinery/labels.js';
import type { Store } from '../../storage/store.js';
import type { CreateAction } from '../rest/handler.js';
import { listPrefix } from '../rest/keys.js';
import type { DeleteOptions, ResourceStore } from '../rest/resource-store.js';
import { decodeKV } from '../watch-cache.js';
import { statusSuccess } from './pod-binding.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Upstream refuses evictions while this many approved evictions await the disruption controller. */
const MAX_DISRUPTED_POD_SIZE = 2000;
const EVICTION_VERSIONS = ['policy/v1', 'policy/v1beta1'];

export interface EvictionDeps {
  pods: ResourceStore;
  pdbs: ResourceStore;
  store: Store;
  now?: () => Date;
}

const BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";

function tooManyRequests(cause: string, retryAfterSeconds: number): StatusError {
  const details: Obj = { causes: [{ reason: 'DisruptionBudget', message: cause }] };
  if (retryAfterSeconds) details.retryAfterSeconds = retryAfterSeconds;
  return new StatusError(429, 'TooManyRequests', BUDGET_MESSAGE, details);
}

const stillProcessing = (pdb: string) => tooManyRequests(`The disruption budget ${pdb} is still being processed by the server.`, 10);

function isPodReady(pod: Obj): boolean {
  return ((pod.status?.conditions ?? []) as Obj[]).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Pods whose deletion disrupts nothing more: no budget check. */
function canIgnorePDB(pod: Obj): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata?.deletionTimestamp;
}

/** Whether the delete must be guarded by the resourceVersion read (so a pod turning ready meanwhile is not deleted). */
function shouldEnforceResourceVersion(pod: Obj): boolean {
  const phase = pod.status?.phase;
  return !(phase === 'Succeeded' || phase === 'Failed' || pod.metadata?.deletionTimestamp);
}

function nowRFC3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function toDeleteOptions(o: Obj | undefined, dryRun: boolean): DeleteOptions {
  const out: DeleteOptions = { dryRun };
  if (!o) return out;
  if (typeof o.gracePeriodSeconds === 'number') out.gracePeriodSeconds = o.gracePeriodSeconds;
  if (o.propagationPolicy) out.propagationPolicy = o.propagationPolicy;
  if (typeof o.orphanDependents === 'boolean') out.orphanDependents = o.orphanDependents;
  if (o.preconditions) out.preconditions = { ...o.preconditions };
  return out;
}

export function evictionAction(deps: EvictionDeps): CreateAction {
  const now = deps.now ?? (() => new Date());
  return async (r, body, opts) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw StatusError.badRequest(`not a Eviction object: ${JSON.stringify(body)?.slice(0, 200)}`);
    const ev = body as Obj;
    if (ev.kind !== undefined && ev.kind !== '' && ev.kind !== 'Eviction') {
      throw StatusError.badRequest(`the kind in the data (${ev.kind}) does not match the expected kind (Eviction)`);
    }
    if (ev.apiVersion !== undefined && ev.apiVersion !== '' && !EVICTION_VERSIONS.includes(ev.apiVersion)) {
      throw StatusError.badRequest(`the API version in the data (${ev.apiVersion}) does not match the expected API version (policy/v1)`);
    }
    const ns = r.namespace!;
    const name = r.name!;
    if (ev.metadata?.namespace && ev.metadata.namespace !== ns) throw StatusError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    if ((ev.metadata?.name ?? '') !== name) throw StatusError.badRequest('name in URL does not match name in Eviction object');
    // dryRun may come with the request or inside deleteOptions; both must agree when both are set.
    const bodyDryRun: string[] = ev.deleteOptions?.dryRun ?? [];
    if (opts.dryRun && bodyDryRun.length && !bodyDryRun.includes('All')) {
      throw new StatusError(500, '', `Non-matching dry-run options in request and content: [All] and [${bodyDryRun.join(' ')}]`);
    }
    const dryRun = opts.dryRun || bodyDryRun.includes('All');
    const original = toDeleteOptions(ev.deleteOptions, dryRun);
    const clientRV = !!original.preconditions?.resourceVersion;

    // Pods that may go without a budget check (retried on conflicts unless the client pinned a resourceVersion).
    let pod: KubeObject | undefined;
    for (let attempt = 0; ; attempt++) {
      pod = await deps.pods.get(ns, name);
      if (!canIgnorePDB(pod)) break;
      const del = { ...original, preconditions: original.preconditions ? { ...original.preconditions } : undefined };
      if (shouldEnforceResourceVersion(pod) && !clientRV) del.preconditions = { ...(del.preconditions ?? {}), resourceVersion: pod.metadata.resourceVersion };
      try {
        await deps.pods.delete(ns, name, del);
        return { code: 201, body: statusSuccess(201) };
      } catch (e) {
        if (e instanceof StatusError && e.code === 409 && !clientRV && attempt < 5) continue;
        throw e;
      }
    }

    const pdbs = await matchingBudgets(deps, pod);
    if (pdbs.length > 1) {
      const message = 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.';
      return { code: 500, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code: 500 } };
    }
    let guardWithRV = false;
    let pdbName: string | undefined;
    if (pdbs.length === 1) {
      const pdb = pdbs[0];
      pdbName = pdb.metadata.name!;
      const desired = pdb.status?.desiredHealthy ?? 0;
      const healthy = pdb.status?.currentHealthy ?? 0;
      // An unready pod does not count as healthy: evicting it takes nothing from the budget.
      if (!isPodReady(pod) && (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' || (healthy >= desired && desired > 0))) {
        guardWithRV = true;
      } else {
        await takeDisruption(deps, ns, pdbName, name, dryRun, now, r.ctx);
      }
    }

    const del = { ...original };
    if (guardWithRV) del.preconditions = { ...(original.preconditions ?? {}), resourceVersion: pod.metadata.resourceVersion };
    try {
      await deps.pods.delete(ns, name, del);
    } catch (e) {
      if (e instanceof StatusError && e.code === 409 && guardWithRV && !clientRV) throw stillProcessing(pdbName!);
      throw e;
    }
    return { code: 201, body: statusSuccess(201) };
  };
}

/** The budgets in the pod's namespace whose (non-empty, valid) selector matches the pod, read from the store. */
async function matchingBudgets(deps: EvictionDeps, pod: KubeObject): Promise<KubeObject[]> {
  const res = await deps.store.list({ prefix: listPrefix(deps.pdbs.def, pod.metadata.namespace) });
  const out: KubeObject[] = [];
  for (const kv of res.items) {
    const pdb = deps.pdbs.fromStorage(decodeKV(kv.value, kv.modRevision));
    try {
      const sel = labelSelectorAsSelector(pdb.spec?.selector);
      if (sel.empty() || !sel.matches(pod.metadata.labels ?? {})) continue;
    } catch {
      continue; // an invalid selector matches nothing
    }
    out.push(pdb);
  }
  return out;
}

/** Upstream checkAndDecrement, as a compare-and-swap update of the budget's status (retried on conflicts). */
async function takeDisruption(deps: EvictionDeps, ns: string, pdbName: string, podName: string, dryRun: boolean, now: () => Date, ctx: Parameters<CreateAction>[0]['ctx']): Promise<void> {
  const check = (pdb: KubeObject) => {
    const st: Obj = (pdb.status ??= {});
    if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw stillProcessing(pdbName);
    const allowed: number = st.disruptionsAllowed ?? 0;
    if (allowed < 0) throw StatusError.forbidden({ group: 'policy', resource: 'poddisruptionbudget' }, pdbName, 'pdb disruptions allowed is negative');
    if (Object.keys(st.disruptedPods ?? {}).length > MAX_DISRUPTED_POD_SIZE) {
      throw StatusError.forbidden({ group: 'policy', resource: 'poddisruptionbudget' }, pdbName, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller');
    }
    if (allowed === 0) throw tooManyRequests(`The disruption budget ${pdbName} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`, 0);
    st.disruptionsAllowed = allowed - 1;
    if (st.disruptionsAllowed === 0) setDisruptionAllowedCondition(st, now());
    st.disruptedPods = { ...(st.disruptedPods ?? {}), [podName]: nowRFC3339(now()) };
    return pdb;
  };
  if (dryRun) {
    check(await deps.pdbs.get(ns, pdbName));
    return;
  }
  await deps.pdbs.guaranteedUpdate(ns, pdbName, { dryRun: false, fieldValidation: 'Ignore', subresource: 'status', managedFieldsHandled: true }, ctx, (cur) => check(cur!));
}

/** upstream pdbhelper.UpdateDisruptionAllowedCondition for a budget with no disruptions left. */
function setDisruptionAllowedCondition(st: Obj, now: Date): void {
  const conds: Obj[] = (st.conditions ??= []);
  const i = conds.findIndex((c) => c.type === 'DisruptionAllowed');
  const prev = i >= 0 ? conds[i] : undefined;
  const next = {
    type: 'DisruptionAllowed',
    status: 'False',
    reason: 'InsufficientPods',
    message: '',
    observedGeneration: st.observedGeneration ?? 0,
    lastTransitionTime: prev && prev.status === 'False' ? prev.lastTransitionTime : nowRFC3339(now),
  };
  if (i >= 0) conds[i] = next;
  else conds.push(next);
}
