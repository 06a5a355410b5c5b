// The Job controller (upstream pkg/controller/job): runs pods from spec.template until
// spec.completions of them succeed (NonIndexed) or every index in [0, completions) has a succeeded
// pod (Indexed), at most spec.parallelism at a time; fails the Job past spec.backoffLimit failed
// pods or spec.activeDeadlineSeconds; honours spec.suspend.
//
// Pods are tracked with the batch.kubernetes.io/job-tracking finalizer: a finished pod is first
// recorded in .status.uncountedTerminatedPods, then its finalizer is removed, then it moves into
// the succeeded/failed counters. A Job that has met its success or failure criteria first gets
// the interim SuccessCriteriaMet or FailureTarget condition and gets Complete or Failed only once
// no pod is uncounted or terminating (upstream v1.32 with JobPodReplacementPolicy and
// JobManagedBy on).
//
// Not implemented: podFailurePolicy, backoffLimitPerIndex/maxFailedIndexes, successPolicy, and
// adoption/release of pods by selector (only pods whose controllerRef is the Job are managed).

import type { KubeObject, OwnerReference } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { byControllerUID, keyOf, splitKey, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext, Logger } from '../context.js';
import { EarliestDelay } from './delay.js';
import { COMPLETION_INDEX_ANNOTATION, completionIndexOf, formatIndexes, parseIndexes } from './indexes.js';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const JOB_CONTROLLER_NAME = 'kubernetes.io/job-controller';
const POD_INDEX = 'jobController';
const MAX_UNCOUNTED_PODS = 500;
const MAX_POD_CREATE_DELETE_PER_SYNC = 500;
const EXPECTATIONS_TTL_MS = 5 * 60_000;

export interface JobControllerOptions {
  /** Delay before re-creating a pod after the first failure (upstream DefaultJobPodFailureBackOff, 10s); doubles per failure. */
  podFailureBackoffBaseMs?: number;
  /** Cap of that delay (upstream MaxJobPodFailureBackOff, 6 minutes). */
  podFailureBackoffMaxMs?: number;
  /** How long pod events are batched before a Job syncs (upstream syncJobBatchPeriod, 1s). */
  syncBatchPeriodMs?: number;
}

type Obj = KubeObject;
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
}

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function isJobFinished(job: Obj): boolean {
  return finishedConditionType(job) !== undefined;
}

/** "Complete" or "Failed" when the Job has that condition True. */
export function finishedConditionType(job: Obj): 'Complete' | 'Failed' | undefined {
  for (const c of (job.status?.conditions ?? []) as Condition[]) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

const hasFinalizer = (p: Obj) => (p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
const isTerminal = (p: Obj) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
const isActive = (p: Obj) => !isTerminal(p) && !p.metadata.deletionTimestamp;
const isTerminating = (p: Obj) => !!p.metadata.deletionTimestamp && !isTerminal(p);
const isReady = (p: Obj) => ((p.status?.conditions ?? []) as Condition[]).some((c) => c.type === 'Ready' && c.status === 'True');
const isIndexed = (job: Obj) => job.spec?.completionMode === 'Indexed';
const isSuspended = (job: Obj) => job.spec?.suspend === true;

/** Only failed (not merely terminating) pods are replaced. */
function onlyReplaceFailedPods(job: Obj): boolean {
  return job.spec?.podReplacementPolicy === 'Failed' || !!job.spec?.podFailurePolicy;
}

function isPodFailed(p: Obj, job: Obj): boolean {
  if (p.status?.phase === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  // A deleted pod that never reached a terminal phase counts as failed.
  return !!p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded';
}

function newCondition(type: string, status: string, reason: string, message: string, now: Date): Condition {
  const t = rfc3339(now);
  return { type, status, reason, message, lastProbeTime: t, lastTransitionTime: t };
}

/** Appends or updates a condition; a False condition is never added from nothing. */
function ensureCondition(list: Condition[], type: string, status: string, reason: string, message: string, now: Date): boolean {
  const i = list.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = list[i]!;
    if (c.status !== status || c.reason !== reason || c.message !== message) {
      list[i] = newCondition(type, status, reason, message, now);
      return true;
    }
    return false;
  }
  if (status !== 'False') {
    list.push(newCondition(type, status, reason, message, now));
    return true;
  }
  return false;
}

/** When the pod finished: its containers' last finish, else its Ready=False transition, else deletion or creation. */
function podFinishedTime(p: Obj): number {
  let latest = 0;
  for (const cs of [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])]) {
    const f = cs?.state?.terminated?.finishedAt;
    if (f) latest = Math.max(latest, Date.parse(f));
  }
  if (latest) return latest;
  const ready = ((p.status?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready' && c.status === 'False');
  if (ready?.lastTransitionTime) return Date.parse(ready.lastTransitionTime);
  if (p.metadata.deletionTimestamp) return Date.parse(p.metadata.deletionTimestamp);
  return Date.parse(p.metadata.creationTimestamp ?? '') || 0;
}

/** Order for removal: unscheduled < scheduled, Pending < Unknown < Running, not ready < ready, then newer first. */
function removalOrder(a: Obj, b: Obj): number {
  const sched = (p: Obj) => (p.spec?.nodeName ? 1 : 0);
  if (sched(a) !== sched(b)) return sched(a) - sched(b);
  const rank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const ra = rank[a.status?.phase ?? 'Pending'] ?? 0;
  const rb = rank[b.status?.phase ?? 'Pending'] ?? 0;
  if (ra !== rb) return ra - rb;
  if (isReady(a) !== isReady(b)) return isReady(a) ? 1 : -1;
  const restarts = (p: Obj) => ((p.status?.containerStatuses ?? []) as { restartCount?: number }[]).reduce((s, c) => Math.max(s, c.restartCount ?? 0), 0);
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  return (Date.parse(b.metadata.creationTimestamp ?? '') || 0) - (Date.parse(a.metadata.creationTimestamp ?? '') || 0);
}

/** Upstream's backoff record: failures since the last success and when the last one happened. */
interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureTime?: number;
}

function newBackoffRecord(prev: BackoffRecord | undefined, newSucceeded: Obj[], newFailed: Obj[]): BackoffRecord {
  const rec: BackoffRecord = prev ? { ...prev } : { failuresAfterLastSuccess: 0 };
  const failTimes = newFailed.map(podFinishedTime).sort((a, b) => a - b);
  if (newSucceeded.length === 0) {
    if (failTimes.length === 0) return rec;
    rec.failuresAfterLastSuccess += failTimes.length;
    rec.lastFailureTime = failTimes[failTimes.length - 1];
    return rec;
  }
  const lastSuccess = Math.max(...newSucceeded.map(podFinishedTime));
  rec.failuresAfterLastSuccess = 0;
  rec.lastFailureTime = undefined;
  for (let i = failTimes.length - 1; i >= 0; i--) {
    if (failTimes[i]! <= lastSuccess) break;
    rec.lastFailureTime ??= failTimes[i];
    rec.failuresAfterLastSuccess++;
  }
  return rec;
}

function backoffRemaining(rec: BackoffRecord, now: number, base: number, max: number): number {
  if (rec.failuresAfterLastSuccess === 0 || rec.lastFailureTime === undefined) return 0;
  let d = base;
  for (let i = 1; i < rec.failuresAfterLastSuccess; i++) {
    d *= 2;
    if (d >= max) {
      d = max;
      break;
    }
  }
  const elapsed = now - rec.lastFailureTime;
  return d < elapsed ? 0 : d - elapsed;
}

/** In-memory expectations of pod creations and deletions (upstream ControllerExpectations). */
class Expectations {
  private readonly m = new Map<string, { adds: number; dels: Set<string>; at: number }>();

  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    return (e.adds <= 0 && e.dels.size === 0) || Date.now() - e.at > EXPECTATIONS_TTL_MS;
  }
  expectCreations(key: string, n: number): void {
    const e = this.m.get(key);
    this.m.set(key, { adds: n, dels: e?.dels ?? new Set(), at: Date.now() });
  }
  expectDeletions(key: string, uids: string[]): void {
    const e = this.m.get(key);
    this.m.set(key, { adds: e?.adds ?? 0, dels: new Set([...(e?.dels ?? []), ...uids]), at: Date.now() });
  }
  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.adds--;
  }
  deletionObserved(key: string, uid: string): void {
    this.m.get(key)?.dels.delete(uid);
  }
  delete(key: string): void {
    this.m.delete(key);
  }
}

interface SyncCtx {
  job: Obj;
  pods: Obj[];
  activePods: Obj[];
  ready: number;
  terminating: number;
  uncountedSucceeded: Set<string>;
  uncountedFailed: Set<string>;
  expectedRmFinalizers: Set<string>;
  succeeded: number;
  failed: number;
  finishedCondition?: Condition;
  prevSucceededIndexes?: Set<number>;
  succeededIndexes?: Set<number>;
  newBackoff: BackoffRecord;
}

export class JobController implements Controller {
  readonly name = 'job';
  private ctx!: ControllerContext;
  private log!: Logger;
  private recorder!: EventRecorder;
  private jobs!: SharedInformer;
  private pods!: SharedInformer;
  private readonly queue = new WorkQueue<string>();
  private readonly orphanQueue = new WorkQueue<string>();
  private delay!: EarliestDelay<string>;
  private readonly expectations = new Expectations();
  private readonly finalizerExpectations = new Map<string, Set<string>>();
  /**
   * The resourceVersion of our last status write per Job. A pod informer that is ahead of the
   * Job informer shows finalizers gone whose counts the cached Job does not have yet; syncing
   * then would undercount failures and create a pod too many, so the sync waits for the cache.
   */
  private readonly lastStatusWrite = new Map<string, { uid: string; rv: bigint }>();
  private readonly backoff = new Map<string, BackoffRecord>();
  private readonly backoffBase: number;
  private readonly backoffMax: number;
  private readonly batchPeriod: number;

  constructor(opts: JobControllerOptions = {}) {
    this.backoffBase = opts.podFailureBackoffBaseMs ?? 10_000;
    this.backoffMax = opts.podFailureBackoffMaxMs ?? 360_000;
    this.batchPeriod = opts.syncBatchPeriodMs ?? 1_000;
  }

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log;
    this.recorder = ctx.recorder('job-controller');
    this.delay = new EarliestDelay(this.queue, ctx.signal);
    this.jobs = ctx.informers.for(R.jobs);
    this.pods = ctx.informers.for(R.pods).addIndex(POD_INDEX, byControllerUID);

    this.jobs.addEventHandler({
      add: (j) => this.queue.add(keyOf(j)),
      // Spec changes sync at once; status-only changes (mostly our own writes) are batched.
      update: (o, j) => (o.metadata.generation !== j.metadata.generation ? this.queue.add(keyOf(j)) : this.delay.add(keyOf(j), this.batchPeriod)),
      delete: (j) => {
        // Pods of a deleted Job must not keep the tracking finalizer.
        for (const p of this.pods.indexer.byIndex(POD_INDEX, j.metadata.uid!)) if (hasFinalizer(p)) this.orphanQueue.add(keyOf(p));
        this.queue.add(keyOf(j));
      },
    });
    this.pods.addEventHandler({
      add: (p) => this.onPod(undefined, p, false),
      update: (o, p) => this.onPod(o, p, false),
      delete: (p) => this.onPod(undefined, p, true),
    });

    ctx.signal.addEventListener('abort', () => {
      this.queue.shutdown();
      this.orphanQueue.shutdown();
    });
    void (async () => {
      await ctx.informers.waitForSync();
      const onErr = (key: string, err: unknown) => this.log.warn({ key, err: String(err) }, 'job sync failed');
      void runWorkers(this.orphanQueue, 1, (k) => this.syncOrphanPod(k), onErr);
      await runWorkers(this.queue, ctx.settings.workers, (k) => this.syncJob(k), onErr);
    })();
  }

  private controllingJob(p: Obj): Obj | undefined {
    const ref = p.metadata.ownerReferences?.find((r) => r.controller);
    if (!ref || ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return undefined;
    const job = this.jobs.indexer.getByName(p.metadata.namespace, ref.name);
    return job && job.metadata.uid === ref.uid ? job : undefined;
  }

  private onPod(old: Obj | undefined, p: Obj, deleted: boolean): void {
    const job = this.controllingJob(p);
    if (!job) {
      if (hasFinalizer(p) && !deleted) this.orphanQueue.add(keyOf(p));
      return;
    }
    const key = keyOf(job);
    const uid = p.metadata.uid!;
    if (!old && !deleted) this.expectations.creationObserved(key);
    if (deleted || (p.metadata.deletionTimestamp && !old?.metadata.deletionTimestamp)) this.expectations.deletionObserved(key, uid);
    if (deleted || !hasFinalizer(p)) this.finalizerExpectations.get(key)?.delete(uid);
    if (isJobFinished(job) && hasFinalizer(p)) this.orphanQueue.add(keyOf(p));
    this.delay.add(key, this.batchPeriod);
  }

  /** Removes the tracking finalizer from a pod whose Job is gone or finished. */
  private async syncOrphanPod(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.pods.indexer.getByName(namespace, name);
    if (!pod || !hasFinalizer(pod)) return;
    const ref = pod.metadata.ownerReferences?.find((r) => r.controller);
    if (ref) {
      if (ref.kind !== 'Job' || ref.apiVersion !== 'batch/v1') return;
      const job = this.controllingJob(pod);
      if (job && !isJobFinished(job)) return;
    }
    await this.removeFinalizer(pod);
  }

  private async removeFinalizer(pod: Obj): Promise<void> {
    try {
      await this.ctx.client
        .resource(R.pods)
        .patch(pod.metadata.namespace, pod.metadata.name!, 'strategic', { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER] } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private now(): Date {
    return this.ctx.settings.now();
  }

  async syncJob(key: string): Promise<void> {
    const shared = this.jobs.indexer.get(key);
    if (!shared) {
      this.expectations.delete(key);
      this.finalizerExpectations.delete(key);
      this.lastStatusWrite.delete(key);
      this.backoff.delete(key);
      return;
    }
    const written = this.lastStatusWrite.get(key);
    if (written && written.uid === shared.metadata.uid && written.rv > rvNumber(shared.metadata.resourceVersion)) {
      this.delay.add(key, 20);
      return;
    }
    const managedBy = shared.spec?.managedBy;
    if (managedBy && managedBy !== JOB_CONTROLLER_NAME) return;
    if (isJobFinished(shared)) {
      this.backoff.delete(key);
      return;
    }
    const mode = shared.spec?.completionMode;
    if (mode && mode !== 'NonIndexed' && mode !== 'Indexed') {
      this.recorder.event(shared, 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }

    const job: Obj = structuredClone(shared);
    job.status ??= {};
    const status = job.status;
    status.uncountedTerminatedPods ??= {};
    status.conditions ??= [];

    const satisfied = this.expectations.satisfied(key);
    const pods = this.pods.indexer.byIndex(POD_INDEX, job.metadata.uid!).filter((p) => p.metadata.namespace === job.metadata.namespace);
    const activePods = pods.filter(isActive);
    const c: SyncCtx = {
      job,
      pods,
      activePods,
      ready: activePods.filter(isReady).length,
      terminating: pods.filter(isTerminating).length,
      uncountedSucceeded: new Set(status.uncountedTerminatedPods.succeeded ?? []),
      uncountedFailed: new Set(status.uncountedTerminatedPods.failed ?? []),
      expectedRmFinalizers: new Set(this.finalizerExpectations.get(key) ?? []),
      succeeded: 0,
      failed: 0,
      newBackoff: { failuresAfterLastSuccess: 0 },
    };
    let active = activePods.length;
    const newSucceeded = this.newFinishedPods(c, c.uncountedSucceeded, (p) => p.status?.phase === 'Succeeded');
    const newFailed = this.newFinishedPods(c, c.uncountedFailed, (p) => isPodFailed(p, job));
    c.succeeded = (status.succeeded ?? 0) + newSucceeded.length + c.uncountedSucceeded.size;
    c.failed = (status.failed ?? 0) + newFailed.length + c.uncountedFailed.size;

    const now = this.now();
    if (!status.startTime && !isSuspended(job)) status.startTime = rfc3339(now);
    c.newBackoff = newBackoffRecord(this.backoff.get(key), newSucceeded, newFailed);

    const conds = status.conditions as Condition[];
    const successMet = conds.find((x) => x.type === 'SuccessCriteriaMet' && x.status === 'True');
    if (successMet) c.finishedCondition = successMet;
    else {
      const target = conds.find((x) => x.type === 'FailureTarget' && x.status === 'True');
      if (target) c.finishedCondition = newCondition('Failed', 'True', target.reason ?? '', target.message ?? '', now);
    }
    if (!c.finishedCondition) {
      if (c.failed > (job.spec?.backoffLimit ?? 6) || this.pastBackoffLimitOnFailure(job, pods)) {
        c.finishedCondition = newCondition('FailureTarget', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now);
      } else if (this.pastActiveDeadline(job)) {
        c.finishedCondition = newCondition('FailureTarget', 'True', 'DeadlineExceeded', 'Job was active longer than specified deadline', now);
      } else if (job.spec?.activeDeadlineSeconds !== undefined && !isSuspended(job) && status.startTime) {
        const left = job.spec.activeDeadlineSeconds * 1000 - (now.getTime() - Date.parse(status.startTime));
        this.delay.add(key, Math.max(left, 0));
      }
    }

    if (isIndexed(job)) {
      const completions = job.spec.completions as number;
      c.prevSucceededIndexes = parseIndexes(status.completedIndexes, completions);
      c.succeededIndexes = new Set(c.prevSucceededIndexes);
      for (const p of pods) {
        const ix = completionIndexOf(p.metadata.annotations);
        if (p.status?.phase === 'Succeeded' && ix !== undefined && ix < completions && hasFinalizer(p)) c.succeededIndexes.add(ix);
      }
      c.succeeded = c.succeededIndexes.size;
    }

    let manageErr: unknown;
    let suspendCondChanged = false;
    if (c.finishedCondition) {
      const { deletedReady, deleted, err } = await this.deleteActivePods(job, activePods);
      if (deleted !== active || !satisfied) c.finishedCondition = undefined;
      active -= deleted;
      c.terminating += deleted;
      c.ready -= deletedReady;
      manageErr = err;
    } else {
      let manageCalled = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        try {
          active = await this.manageJob(key, job, c);
        } catch (e) {
          manageErr = e;
          active = (e as { active?: number }).active ?? active;
        }
        manageCalled = true;
      }
      const completions = job.spec?.completions;
      const complete = completions === undefined || completions === null ? c.succeeded > 0 && active === 0 : c.succeeded >= completions && active === 0;
      if (complete) {
        c.finishedCondition = newCondition('SuccessCriteriaMet', 'True', 'CompletionsReached', 'Reached expected number of succeeded pods', now);
      } else if (manageCalled) {
        if (isSuspended(job)) {
          if (ensureCondition(conds, 'Suspended', 'True', 'JobSuspended', 'Job suspended', now)) {
            suspendCondChanged = true;
            this.recorder.event(job, 'Normal', 'Suspended', 'Job suspended');
          }
        } else if (ensureCondition(conds, 'Suspended', 'False', 'JobResumed', 'Job resumed', now)) {
          suspendCondChanged = true;
          this.recorder.event(job, 'Normal', 'Resumed', 'Job resumed');
          // activeDeadlineSeconds counts from the resume.
          status.startTime = rfc3339(now);
        }
      }
    }

    const needsUpdate = suspendCondChanged || active !== (status.active ?? 0) || c.ready !== status.ready || c.terminating !== status.terminating;
    status.active = active;
    status.ready = c.ready;
    status.terminating = c.terminating;
    await this.trackStatusAndRemoveFinalizers(key, c, needsUpdate);
    if (manageErr) throw manageErr;
  }

  private newFinishedPods(c: SyncCtx, uncounted: Set<string>, filter: (p: Obj) => boolean): Obj[] {
    const out: Obj[] = [];
    for (const p of c.pods) {
      const uid = p.metadata.uid!;
      if (!hasFinalizer(p) || uncounted.has(uid) || c.expectedRmFinalizers.has(uid)) continue;
      if (isIndexed(c.job)) {
        const ix = completionIndexOf(p.metadata.annotations);
        if (ix === undefined || ix >= c.job.spec.completions) continue;
      }
      if (filter(p)) out.push(p);
    }
    return out;
  }

  private pastBackoffLimitOnFailure(job: Obj, pods: Obj[]): boolean {
    if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
    let restarts = 0;
    for (const p of pods) {
      if (p.status?.phase !== 'Running' && p.status?.phase !== 'Pending') continue;
      for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += cs?.restartCount ?? 0;
    }
    const limit = job.spec?.backoffLimit ?? 6;
    return limit === 0 ? restarts > 0 : restarts >= limit;
  }

  private pastActiveDeadline(job: Obj): boolean {
    const ads = job.spec?.activeDeadlineSeconds;
    if (ads === undefined || ads === null || !job.status?.startTime || isSuspended(job)) return false;
    return this.now().getTime() - Date.parse(job.status.startTime) >= ads * 1000;
  }

  /** Deletes active pods keeping their finalizers (they are counted as the Job finishes). */
  private async deleteActivePods(job: Obj, pods: Obj[]): Promise<{ deletedReady: number; deleted: number; err?: unknown }> {
    let deleted = 0;
    let deletedReady = 0;
    let err: unknown;
    await Promise.all(
      pods.map(async (p) => {
        try {
          await this.deletePod(job, p);
          deleted++;
          if (isReady(p)) deletedReady++;
        } catch (e) {
          err = e;
        }
      }),
    );
    return { deletedReady, deleted, err };
  }

  private async deletePod(job: Obj, p: Obj): Promise<void> {
    try {
      await this.ctx.client.resource(R.pods).delete(p.metadata.namespace, p.metadata.name!);
      this.recorder.event(job, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
    } catch (e) {
      if (isNotFound(e)) return;
      this.recorder.event(job, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
      throw e;
    }
  }

  /** Removes pods the Job no longer wants: finalizer first (they need no counting), then delete. */
  private async deleteJobPods(key: string, job: Obj, pods: Obj[]): Promise<{ removedReady: number; removed: number; err?: unknown }> {
    this.expectations.expectDeletions(
      key,
      pods.map((p) => p.metadata.uid!),
    );
    let removed = 0;
    let removedReady = 0;
    let err: unknown;
    await Promise.all(
      pods.map(async (p) => {
        try {
          if (hasFinalizer(p)) await this.removeFinalizer(p);
          await this.deletePod(job, p);
          removed++;
          if (isReady(p)) removedReady++;
        } catch (e) {
          this.expectations.deletionObserved(key, p.metadata.uid!);
          err = e;
        }
      }),
    );
    return { removedReady, removed, err };
  }

  /** Creates or deletes pods toward the wanted number of active pods; returns the new active count. */
  private async manageJob(key: string, job: Obj, c: SyncCtx): Promise<number> {
    let active = c.activePods.length;
    const parallelism: number = job.spec?.parallelism ?? 1;
    if (isSuspended(job)) {
      const { removedReady, removed, err } = await this.deleteJobPods(key, job, this.activePodsForRemoval(job, c.activePods, active));
      c.terminating += removed;
      c.ready -= removedReady;
      if (err) throw Object.assign(err as object, { active: active - removed });
      return active - removed;
    }
    let wantActive: number;
    const completions = job.spec?.completions;
    if (completions === undefined || completions === null) wantActive = c.succeeded > 0 ? active : parallelism;
    else wantActive = Math.max(0, Math.min(completions - c.succeeded, parallelism));

    const rmAtLeast = Math.max(active - wantActive, 0);
    const toDelete = this.activePodsForRemoval(job, c.activePods, rmAtLeast).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (toDelete.length) {
      const { removedReady, removed, err } = await this.deleteJobPods(key, job, toDelete);
      c.terminating += removed;
      c.ready -= removedReady;
      if (err) throw Object.assign(err as object, { active: active - removed });
      return active - removed;
    }

    const terminating = onlyReplaceFailedPods(job) ? c.terminating : 0;
    let diff = wantActive - terminating - active;
    if (diff <= 0) return active;
    const remaining = backoffRemaining(c.newBackoff, this.now().getTime(), this.backoffBase, this.backoffMax);
    if (remaining > 0) {
      this.delay.add(key, Math.max(remaining, this.batchPeriod));
      return active;
    }
    diff = Math.min(diff, MAX_POD_CREATE_DELETE_PER_SYNC);
    let indexes: number[] = [];
    if (isIndexed(job)) {
      indexes = this.firstPendingIndexes(c, diff, completions as number);
      diff = indexes.length;
    }
    if (diff <= 0) return active;

    this.expectations.expectCreations(key, diff);
    let firstErr: unknown;
    // Slow start: batches of 1, 2, 4, ... stop at the first batch with a failure.
    let created = 0;
    let next = 0;
    for (let batch = 1; next < diff; batch = Math.min(batch * 2, diff - next)) {
      const n = Math.min(batch, diff - next);
      const slots = Array.from({ length: n }, (_, i) => next + i);
      next += n;
      let failed = 0;
      await Promise.all(
        slots.map(async (slot) => {
          try {
            await this.createPod(job, isIndexed(job) ? indexes[slot] : undefined);
            created++;
          } catch (e) {
            failed++;
            firstErr ??= e;
            this.expectations.creationObserved(key);
          }
        }),
      );
      if (failed) {
        for (let i = next; i < diff; i++) this.expectations.creationObserved(key);
        break;
      }
    }
    if (firstErr) throw Object.assign(firstErr as object, { active: active + created });
    return active + created;
  }

  private controllerRef(job: Obj): OwnerReference {
    return { apiVersion: 'batch/v1', kind: 'Job', name: job.metadata.name!, uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true };
  }

  private async createPod(job: Obj, index: number | undefined): Promise<void> {
    const tpl = structuredClone(job.spec?.template ?? {});
    const meta = tpl.metadata ?? {};
    const spec = tpl.spec ?? {};
    const annotations: Record<string, string> = { ...(meta.annotations ?? {}) };
    const labels: Record<string, string> = { ...(meta.labels ?? {}) };
    let generateName = `${job.metadata.name}-`;
    if (index !== undefined) {
      annotations[COMPLETION_INDEX_ANNOTATION] = String(index);
      labels[COMPLETION_INDEX_ANNOTATION] = String(index);
      spec.hostname = `${job.metadata.name}-${index}`;
      generateName = `${job.metadata.name}-${index}-`;
      // JOB_COMPLETION_INDEX comes from the annotation (the controller adds it upstream too).
      for (const ct of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        ct.env ??= [];
        if (!ct.env.some((e: { name: string }) => e.name === 'JOB_COMPLETION_INDEX')) {
          ct.env.push({ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } } });
        }
      }
    }
    const finalizers: string[] = [...(meta.finalizers ?? [])];
    if (!finalizers.includes(JOB_TRACKING_FINALIZER)) finalizers.push(JOB_TRACKING_FINALIZER);
    const pod = {
      metadata: {
        generateName,
        namespace: job.metadata.namespace,
        labels,
        annotations,
        finalizers,
        ownerReferences: [this.controllerRef(job)],
      },
      spec,
    };
    try {
      const created = await this.ctx.client.resource(R.pods).create(job.metadata.namespace, pod);
      this.recorder.event(job, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    } catch (e) {
      this.recorder.event(job, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
      throw e;
    }
  }

  /** Pods to remove: for Indexed Jobs, pods with bad or repeated indexes first; then by removal order. */
  private activePodsForRemoval(job: Obj, pods: Obj[], rmAtLeast: number): Obj[] {
    const rm: Obj[] = [];
    let left: Obj[] = pods;
    if (isIndexed(job)) {
      left = [];
      const byIndex = new Map<number, Obj[]>();
      for (const p of pods) {
        const ix = completionIndexOf(p.metadata.annotations);
        if (ix === undefined || ix >= job.spec.completions) rm.push(p);
        else byIndex.set(ix, [...(byIndex.get(ix) ?? []), p]);
      }
      for (const group of byIndex.values()) {
        group.sort(removalOrder);
        rm.push(...group.slice(0, -1));
        left.push(group[group.length - 1]!);
      }
    }
    if (rm.length < rmAtLeast) {
      const sorted = [...left].sort(removalOrder);
      rm.push(...sorted.slice(0, rmAtLeast - rm.length));
    }
    return rm;
  }

  /** The lowest indexes that neither succeeded nor have an active (or, when only failed pods are replaced, terminating) pod. */
  private firstPendingIndexes(c: SyncCtx, count: number, completions: number): number[] {
    const taken = new Set<number>(c.succeededIndexes ?? []);
    const holders = onlyReplaceFailedPods(c.job) ? c.pods.filter((p) => isActive(p) || isTerminating(p)) : c.activePods;
    for (const p of holders) {
      const ix = completionIndexOf(p.metadata.annotations);
      if (ix !== undefined) taken.add(ix);
    }
    const out: number[] = [];
    for (let i = 0; i < completions && out.length < count; i++) if (!taken.has(i)) out.push(i);
    return out;
  }

  /**
   * Records finished pods in .status.uncountedTerminatedPods, removes their finalizers, moves them
   * into the counters, and adds the final condition once nothing is uncounted or terminating.
   */
  private async trackStatusAndRemoveFinalizers(key: string, c: SyncCtx, needsFlushIn: boolean): Promise<void> {
    let needsFlush = needsFlushIn;
    const job = c.job;
    const indexed = isIndexed(job);
    const status = job.status;
    const uncounted = status.uncountedTerminatedPods as { succeeded?: string[]; failed?: string[] };
    uncounted.succeeded ??= [];
    uncounted.failed ??= [];
    const pods = indexed ? [...c.pods].sort((a, b) => (completionIndexOf(a.metadata.annotations) ?? Infinity) - (completionIndexOf(b.metadata.annotations) ?? Infinity)) : c.pods;

    const withFinalizer = new Set<string>();
    for (const p of pods) if (hasFinalizer(p) && !c.expectedRmFinalizers.has(p.metadata.uid!)) withFinalizer.add(p.metadata.uid!);
    if (cleanUncounted(status, withFinalizer)) needsFlush = true;

    const toRemove: Obj[] = [];
    const newSucceededIndexes: number[] = [];
    let reachedMax = false;
    for (const p of pods) {
      const uid = p.metadata.uid!;
      if (!hasFinalizer(p) || c.expectedRmFinalizers.has(uid)) continue;
      const failed = isPodFailed(p, job);
      const canRemove = !!job.metadata.deletionTimestamp || !!c.finishedCondition || p.status?.phase === 'Succeeded' || failed;
      if (!canRemove) continue;
      toRemove.push(p);
      if (p.status?.phase === 'Succeeded' && !c.uncountedFailed.has(uid)) {
        if (indexed) {
          const ix = completionIndexOf(p.metadata.annotations);
          if (ix !== undefined && ix < job.spec.completions && !c.prevSucceededIndexes!.has(ix)) {
            newSucceededIndexes.push(ix);
            needsFlush = true;
          }
        } else if (!c.uncountedSucceeded.has(uid)) {
          needsFlush = true;
          uncounted.succeeded.push(uid);
        }
      } else if (failed || (c.finishedCondition && c.finishedCondition.type !== 'SuccessCriteriaMet')) {
        // Once the Job is failing, every pod not yet terminated counts as failed.
        const ix = completionIndexOf(p.metadata.annotations);
        if (!c.uncountedFailed.has(uid) && (!indexed || (ix !== undefined && ix < job.spec.completions))) {
          needsFlush = true;
          uncounted.failed.push(uid);
        }
      }
      if (newSucceededIndexes.length + uncounted.succeeded.length + uncounted.failed.length >= MAX_UNCOUNTED_PODS) {
        reachedMax = true;
        break;
      }
    }
    if (indexed) {
      const all = new Set([...(c.succeededIndexes ?? []), ...newSucceededIndexes]);
      const s = formatIndexes(all);
      if (s !== (status.completedIndexes ?? '')) needsFlush = true;
      status.succeeded = all.size;
      status.completedIndexes = s;
    }
    if (c.finishedCondition?.type === 'FailureTarget') {
      status.conditions.push(c.finishedCondition);
      needsFlush = true;
      c.finishedCondition = newCondition('Failed', 'True', c.finishedCondition.reason ?? '', c.finishedCondition.message ?? '', this.now());
    }
    if (c.finishedCondition?.type === 'SuccessCriteriaMet') {
      if (!(status.conditions as Condition[]).some((x) => x.type === 'SuccessCriteriaMet' && x.status === 'True')) {
        status.conditions.push(c.finishedCondition);
        needsFlush = true;
      }
      c.finishedCondition = newCondition('Complete', 'True', c.finishedCondition.reason ?? '', c.finishedCondition.message ?? '', this.now());
    }

    // 1. flush the uncounted pods (and interim condition)
    let cur = job;
    if (needsFlush) {
      cur = await this.updateStatus(cur);
      this.backoff.set(key, c.newBackoff);
      needsFlush = false;
    }
    // 2. remove finalizers
    let rmErr: unknown;
    if (toRemove.length) {
      const expected = this.finalizerExpectations.get(key) ?? new Set<string>();
      this.finalizerExpectations.set(key, expected);
      for (const p of toRemove) expected.add(p.metadata.uid!);
      await Promise.all(
        toRemove.map(async (p) => {
          try {
            await this.removeFinalizer(p);
            withFinalizer.delete(p.metadata.uid!);
          } catch (e) {
            expected.delete(p.metadata.uid!);
            rmErr ??= e;
          }
        }),
      );
    }
    // 3. count the pods whose finalizers are gone
    if (cleanUncounted(cur.status, withFinalizer)) needsFlush = true;
    if (rmErr) {
      if (needsFlush) await this.updateStatus(cur);
      throw rmErr;
    }
    // 4. the final condition
    const finished = !reachedMax && this.enactFinished(cur, c);
    if (finished) needsFlush = true;
    if (needsFlush) {
      const updated = await this.updateStatus(cur);
      if (finished) this.recordFinished(updated, c.finishedCondition!);
    }
  }

  private enactFinished(job: Obj, c: SyncCtx): boolean {
    const cond = c.finishedCondition;
    if (!cond) return false;
    const u = job.status.uncountedTerminatedPods ?? {};
    if ((u.succeeded?.length ?? 0) + (u.failed?.length ?? 0) > 0) return false;
    if (c.terminating > 0) return false;
    ensureCondition(job.status.conditions, cond.type, cond.status, cond.reason ?? '', cond.message ?? '', this.now());
    if (cond.type === 'Complete') job.status.completionTime = (job.status.conditions as Condition[]).find((x) => x.type === 'Complete')!.lastTransitionTime;
    return true;
  }

  private recordFinished(job: Obj, cond: Condition): void {
    if (cond.type === 'Complete') {
      const completions = job.spec?.completions;
      if (completions !== undefined && completions !== null && (job.status?.succeeded ?? 0) > completions) {
        this.recorder.event(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
    } else {
      this.recorder.event(job, 'Warning', cond.reason ?? '', cond.message ?? '');
    }
  }

  private async updateStatus(job: Obj): Promise<Obj> {
    const body = structuredClone(job);
    const u = body.status.uncountedTerminatedPods;
    if (u && !u.succeeded?.length) delete u.succeeded;
    if (u && !u.failed?.length) delete u.failed;
    if (body.status.completedIndexes === '') delete body.status.completedIndexes;
    const updated = await this.ctx.client.resource(R.jobs).updateStatus(body);
    // Keep working on our copy of the status (the server may drop empty fields), with the new version.
    job.metadata.resourceVersion = updated.metadata.resourceVersion;
    this.lastStatusWrite.set(`${job.metadata.namespace}/${job.metadata.name}`, { uid: job.metadata.uid!, rv: rvNumber(updated.metadata.resourceVersion) });
    return job;
  }
}

/** k8ts resourceVersions are datastore revisions (decimal); anything else compares as 0. */
function rvNumber(rv: string | undefined): bigint {
  return rv && /^\d{1,20}$/.test(rv) ? BigInt(rv) : 0n;
}

/** Moves uncounted pods whose finalizer is gone into the counters; true when something moved. */
function cleanUncounted(status: Obj['status'], withFinalizer: Set<string>): boolean {
  const u = (status.uncountedTerminatedPods ??= {});
  let changed = false;
  for (const [field, counter] of [
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
  ] as const) {
    const list: string[] = u[field] ?? [];
    const keep = list.filter((uid) => withFinalizer.has(uid));
    if (keep.length !== list.length) {
      changed = true;
      status[counter] = (status[counter] ?? 0) + (list.length - keep.length);
      u[field] = keep;
    }
  }
  return changed;
}
