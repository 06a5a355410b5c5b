// The CronJob controller (upstream pkg/controller/cronjob, "v2"): at each time of
// spec.schedule (in spec.timeZone) it creates a Job named <cronjob>-<scheduled minutes since the
// epoch> from spec.jobTemplate, honouring concurrencyPolicy, startingDeadlineSeconds and suspend;
// it tracks its running Jobs in .status.active, records lastScheduleTime/lastSuccessfulTime,
// and keeps only the newest successfulJobsHistoryLimit/failedJobsHistoryLimit finished Jobs.
// Each CronJob is requeued for its next schedule time (plus 100ms); all time comes from
// settings.now().

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { byNamespace, keyOf, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext, Logger } from '../context.js';
import { EarliestDelay } from '../job/delay.js';
import { finishedConditionType } from '../job/index.js';
import { formatRFC3339InZone, isValidTimeZone, parseSchedule, type Schedule } from './schedule.js';

export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
const NEXT_SCHEDULE_DELTA_MS = 100;

type Obj = KubeObject;
interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

type Missed = 'none' | 'few' | 'many';

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const parseTime = (s: string | undefined | null) => (s ? Date.parse(s) : undefined);

/** Go's RFC1123Z in UTC: "Mon, 02 Jan 2006 15:04:05 +0000". */
function rfc1123z(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  return `${day}, ${p(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The Job name for a scheduled time: <cronjob>-<minutes since the epoch>. */
export function jobNameFor(cronJobName: string, scheduled: number): string {
  return `${cronJobName}-${Math.floor(scheduled / 60_000)}`;
}

/**
 * The most recent schedule time at or before `now` that is after the last schedule time (or the
 * CronJob's creation, or now - startingDeadlineSeconds when asked), and a rough count of missed
 * schedules (the distance between two consecutive times fitted into the gap), as upstream.
 */
export function mostRecentScheduleTime(
  cj: Obj,
  now: number,
  sched: Schedule,
  includeStartingDeadline: boolean,
): { earliest: number; mostRecent?: number; missed: Missed; error?: string } {
  let earliest = parseTime(cj.status?.lastScheduleTime) ?? parseTime(cj.metadata.creationTimestamp) ?? now;
  const sds = cj.spec?.startingDeadlineSeconds;
  if (includeStartingDeadline && sds !== undefined && sds !== null) {
    const deadline = now - sds * 1000;
    if (deadline > earliest) earliest = deadline;
  }
  const t1 = sched.next(new Date(earliest))?.getTime();
  if (t1 === undefined || now < t1) return { earliest, missed: 'none' };
  const t2 = sched.next(new Date(t1))?.getTime();
  if (t2 === undefined || now < t2) return { earliest, mostRecent: t1, missed: 'none' };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) return { earliest, missed: 'none', error: 'time difference between two schedules is less than 1 second' };
  const elapsed = Math.floor((now - t1) / 1000);
  const missedCount = Math.floor(elapsed / between) + 1;
  let mostRecent: number | undefined;
  const from = t1 + (missedCount - 2) * between * 1000;
  for (let t = sched.next(new Date(from))?.getTime(); t !== undefined && t <= now; t = sched.next(new Date(t))?.getTime()) mostRecent = t;
  const missed: Missed = missedCount > 100 ? 'many' : missedCount > 0 ? 'few' : 'none';
  return { earliest, mostRecent, missed };
}

/** How long until the next schedule time (plus 100ms), or undefined if there is none. */
export function nextScheduleDelay(cj: Obj, now: number, sched: Schedule): number | undefined {
  const r = mostRecentScheduleTime(cj, now, sched, false);
  let base: number;
  if (r.error) base = now;
  else if (r.mostRecent === undefined) base = r.missed === 'none' ? r.earliest : now;
  else base = r.mostRecent;
  const next = sched.next(new Date(base))?.getTime();
  return next === undefined ? undefined : next + NEXT_SCHEDULE_DELTA_MS - now;
}

const inActive = (cj: Obj, uid: string | undefined) => ((cj.status?.active ?? []) as ObjectReference[]).some((r) => r.uid === uid);
function removeFromActive(cj: Obj, uid: string | undefined): void {
  cj.status ??= {};
  cj.status.active = ((cj.status.active ?? []) as ObjectReference[]).filter((r) => r.uid !== uid);
}

/** Oldest first: by status.startTime (Jobs without one last), then by name. */
function byJobStartTime(a: Obj, b: Obj): number {
  const sa = parseTime(a.status?.startTime);
  const sb = parseTime(b.status?.startTime);
  if (sa === undefined && sb !== undefined) return 1;
  if (sa !== undefined && sb === undefined) return -1;
  if (sa === sb) return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0;
  return sa! - sb!;
}

export class CronJobController implements Controller {
  readonly name = 'cronjob';
  private ctx!: ControllerContext;
  private log!: Logger;
  private recorder!: EventRecorder;
  private cronjobs!: SharedInformer;
  private jobs!: SharedInformer;
  private readonly queue = new WorkQueue<string>();
  private delay!: EarliestDelay<string>;

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.log = ctx.log;
    this.recorder = ctx.recorder('cronjob-controller');
    this.delay = new EarliestDelay(this.queue, ctx.signal);
    this.cronjobs = ctx.informers.for(R.cronjobs);
    this.jobs = ctx.informers.for(R.jobs).addIndex('namespace', byNamespace);

    this.cronjobs.addEventHandler({
      add: (cj) => this.queue.add(keyOf(cj)),
      update: (old, cj) => this.onCronJobUpdate(old, cj),
    });
    const onJob = (j: Obj) => {
      const cj = this.controllingCronJob(j);
      if (cj) this.queue.add(keyOf(cj));
    };
    this.jobs.addEventHandler({
      add: onJob,
      update: (old, j) => {
        const a = old.metadata.ownerReferences?.find((r) => r.controller);
        const b = j.metadata.ownerReferences?.find((r) => r.controller);
        if (a && JSON.stringify(a) !== JSON.stringify(b)) onJob(old);
        onJob(j);
      },
      delete: onJob,
    });

    ctx.signal.addEventListener('abort', () => this.queue.shutdown());
    void (async () => {
      await ctx.informers.waitForSync();
      await runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (key, err) => this.log.warn({ key, err: String(err) }, 'cronjob sync failed'));
    })();
  }

  private now(): number {
    return this.ctx.settings.now().getTime();
  }

  private controllingCronJob(j: Obj): Obj | undefined {
    const ref = j.metadata.ownerReferences?.find((r) => r.controller);
    if (!ref || ref.kind !== 'CronJob') return undefined;
    const cj = this.cronjobs.indexer.getByName(j.metadata.namespace, ref.name);
    return cj && cj.metadata.uid === ref.uid ? cj : undefined;
  }

  private onCronJobUpdate(old: Obj, cj: Obj): void {
    if (old.spec?.schedule !== cj.spec?.schedule || old.spec?.timeZone !== cj.spec?.timeZone) {
      let sched: Schedule;
      try {
        sched = parseSchedule(cj.spec?.schedule ?? '', cj.spec?.timeZone ?? undefined);
      } catch {
        this.recorder.event(cj, 'Warning', 'UnParseableCronJobSchedule', `unparseable schedule for cronjob: ${cj.spec?.schedule}`);
        return;
      }
      const d = nextScheduleDelay(cj, this.now(), sched);
      if (d !== undefined) this.delay.add(keyOf(cj), d);
      return;
    }
    this.queue.add(keyOf(cj));
  }

  private jobsOf(cj: Obj): Obj[] {
    return this.jobs.indexer.byIndex('namespace', cj.metadata.namespace!).filter((j) => {
      const ref = j.metadata.ownerReferences?.find((r) => r.controller);
      return ref?.kind === 'CronJob' && ref.name === cj.metadata.name;
    });
  }

  async sync(key: string): Promise<void> {
    const cached = this.cronjobs.indexer.get(key);
    if (!cached) return;
    const jobs = this.jobsOf(cached);
    let cj: Obj = structuredClone(cached);
    cj.status ??= {};
    const cleaned = await this.cleanupFinishedJobs(cj, jobs);
    const r = await this.syncCronJob(cj, jobs);
    cj = r.cj;
    if (cleaned || r.updateStatus) await this.ctx.client.resource(R.cronjobs).updateStatus(cj);
    if (r.requeueAfter !== undefined) {
      this.delay.add(key, r.requeueAfter);
      return;
    }
    if (r.error) throw r.error;
  }

  private async syncCronJob(cjIn: Obj, jobs: Obj[]): Promise<{ cj: Obj; requeueAfter?: number; updateStatus: boolean; error?: unknown }> {
    let cj = cjIn;
    const now = this.now();
    let updateStatus = false;
    const jobClient = this.ctx.client.resource(R.jobs);
    const children = new Set<string>();

    for (const j of jobs) {
      children.add(j.metadata.uid!);
      const found = inActive(cj, j.metadata.uid);
      const finished = finishedConditionType(j);
      if (!found && !finished) {
        const fresh = await this.ctx.client.resource(R.cronjobs).get(cj.metadata.namespace, cj.metadata.name!);
        if (inActive(fresh, j.metadata.uid)) {
          cj = fresh;
          continue;
        }
        this.recorder.event(cj, 'Warning', 'UnexpectedJob', `Saw a job that the controller did not create or forgot: ${j.metadata.name}`);
      } else if (finished) {
        if (found) {
          removeFromActive(cj, j.metadata.uid);
          this.recorder.event(cj, 'Normal', 'SawCompletedJob', `Saw completed job: ${j.metadata.name}, condition: ${finished}`);
          updateStatus = true;
        }
        if (finished === 'Complete') {
          const ct = j.status?.completionTime;
          const last = parseTime(cj.status.lastSuccessfulTime);
          if (ct && (last === undefined || Date.parse(ct) > last)) {
            cj.status.lastSuccessfulTime = ct;
            updateStatus = true;
          }
        }
      }
    }

    // Active references whose Job is gone (checked against the API, the cache may lag).
    for (const ref of [...((cj.status?.active ?? []) as ObjectReference[])]) {
      if (children.has(ref.uid ?? '')) continue;
      try {
        await jobClient.get(ref.namespace, ref.name ?? '');
      } catch (e) {
        if (!isNotFound(e)) return { cj, updateStatus, error: e };
        this.recorder.event(cj, 'Normal', 'MissingJob', `Active job went missing: ${ref.name}`);
        removeFromActive(cj, ref.uid);
        updateStatus = true;
      }
    }

    if (cj.metadata.deletionTimestamp) return { cj, updateStatus };

    const tz: string | undefined = cj.spec?.timeZone ?? undefined;
    if (tz !== undefined && !isValidTimeZone(tz)) {
      this.recorder.event(cj, 'Warning', 'UnknownTimeZone', `invalid timeZone: "${tz}": unknown time zone ${tz}`);
      return { cj, updateStatus };
    }
    if (cj.spec?.suspend) return { cj, updateStatus };

    let sched: Schedule;
    try {
      sched = parseSchedule(cj.spec?.schedule ?? '', tz);
    } catch (e) {
      this.recorder.event(cj, 'Warning', 'UnparseableSchedule', `unparseable schedule: ${JSON.stringify(cj.spec?.schedule ?? '')} : ${(e as Error).message}`);
      return { cj, updateStatus };
    }

    const requeue = () => nextScheduleDelay(cj, now, sched);
    const mr = mostRecentScheduleTime(cj, now, sched, true);
    if (mr.error) {
      this.recorder.event(cj, 'Warning', 'InvalidSchedule', `invalid schedule: ${cj.spec?.schedule} : ${mr.error}`);
      return { cj, updateStatus };
    }
    const scheduled = mr.mostRecent !== undefined && mr.mostRecent <= now ? mr.mostRecent : undefined;
    if (scheduled === undefined) return { cj, updateStatus, requeueAfter: requeue() };
    if (mr.missed === 'many') {
      this.recorder.event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
      this.log.info({ cronjob: keyOf(cj) }, 'too many missed times');
    }

    const sds = cj.spec?.startingDeadlineSeconds;
    if (sds !== undefined && sds !== null && scheduled + sds * 1000 < now) {
      this.recorder.event(cj, 'Warning', 'MissSchedule', `Missed scheduled time to start a job: ${rfc1123z(scheduled)}`);
      return { cj, updateStatus, requeueAfter: requeue() };
    }
    const name = jobNameFor(cj.metadata.name!, scheduled);
    const active = (cj.status?.active ?? []) as ObjectReference[];
    if (active.some((r) => r.name === name && r.namespace === cj.metadata.namespace) || parseTime(cj.status?.lastScheduleTime) === scheduled) {
      return { cj, updateStatus, requeueAfter: requeue() };
    }
    if (cj.spec?.concurrencyPolicy === 'Forbid' && active.length > 0) {
      this.recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return { cj, updateStatus, requeueAfter: requeue() };
    }
    if (cj.spec?.concurrencyPolicy === 'Replace') {
      for (const ref of [...active]) {
        let job: Obj;
        try {
          job = await jobClient.get(ref.namespace, ref.name ?? '');
        } catch (e) {
          this.recorder.event(cj, 'Warning', 'FailedGet', `Get job: ${(e as Error).message}`);
          return { cj, updateStatus, error: e };
        }
        if (!(await this.deleteJob(cj, job))) return { cj, updateStatus, error: new Error(`could not replace job ${job.metadata.namespace}/${job.metadata.name}`) };
        updateStatus = true;
      }
    }

    const tpl = cj.spec?.jobTemplate ?? {};
    const req: Obj = {
      metadata: {
        name,
        namespace: cj.metadata.namespace,
        labels: { ...(tpl.metadata?.labels ?? {}) },
        annotations: { ...(tpl.metadata?.annotations ?? {}), [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: formatRFC3339InZone(new Date(scheduled), tz ?? 'UTC') },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cj.metadata.name!, uid: cj.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(tpl.spec ?? {}),
    };
    let created: Obj;
    try {
      created = await jobClient.create(cj.metadata.namespace, req);
      this.recorder.event(cj, 'Normal', 'SuccessfulCreate', `Created job ${created.metadata.name}`);
    } catch (e) {
      if (!isAlreadyExists(e)) {
        if (!/namespace .* is being terminated|NamespaceTerminating/i.test(String((e as Error).message))) {
          this.recorder.event(cj, 'Warning', 'FailedCreate', `Error creating job: ${(e as Error).message}`);
        }
        return { cj, updateStatus, error: e };
      }
      // Made before but not recorded (or by someone else): record it if it is ours.
      try {
        created = await jobClient.get(cj.metadata.namespace, name);
      } catch (e2) {
        return { cj, updateStatus, error: e2 };
      }
      const ref = created.metadata.ownerReferences?.find((r) => r.controller);
      if (!ref || ref.uid !== cj.metadata.uid) return { cj, updateStatus };
      if (inActive(cj, created.metadata.uid)) return { cj, updateStatus };
      this.log.info({ cronjob: keyOf(cj), job: name }, 'Job already exists');
    }
    cj.status.active = [
      ...((cj.status.active ?? []) as ObjectReference[]),
      { kind: 'Job', namespace: created.metadata.namespace, name: created.metadata.name, uid: created.metadata.uid, apiVersion: 'batch/v1', resourceVersion: created.metadata.resourceVersion },
    ];
    cj.status.lastScheduleTime = rfc3339(scheduled);
    return { cj, updateStatus: true, requeueAfter: requeue() };
  }

  /** Deletes the oldest finished Jobs beyond the history limits; true if the status changed. */
  private async cleanupFinishedJobs(cj: Obj, jobs: Obj[]): Promise<boolean> {
    const succeededLimit = cj.spec?.successfulJobsHistoryLimit;
    const failedLimit = cj.spec?.failedJobsHistoryLimit;
    if ((succeededLimit === undefined || succeededLimit === null) && (failedLimit === undefined || failedLimit === null)) return false;
    const succeeded = jobs.filter((j) => finishedConditionType(j) === 'Complete');
    const failed = jobs.filter((j) => finishedConditionType(j) === 'Failed');
    let changed = false;
    for (const [list, limit] of [
      [succeeded, succeededLimit],
      [failed, failedLimit],
    ] as const) {
      if (limit === undefined || limit === null) continue;
      const n = list.length - limit;
      if (n <= 0) continue;
      const sorted = [...list].sort(byJobStartTime);
      for (let i = 0; i < n; i++) if (await this.deleteJob(cj, sorted[i]!)) changed = true;
    }
    return changed;
  }

  /** Deletes a Job (its pods follow in the background) and drops it from the active list. */
  private async deleteJob(cj: Obj, job: Obj): Promise<boolean> {
    try {
      await this.ctx.client.resource(R.jobs).delete(job.metadata.namespace, job.metadata.name!, { propagationPolicy: 'Background' });
    } catch (e) {
      this.recorder.event(cj, 'Warning', 'FailedDelete', `Deleted job: ${(e as Error).message}`);
      return false;
    }
    removeFromActive(cj, job.metadata.uid);
    this.recorder.event(cj, 'Normal', 'SuccessfulDelete', `Deleted job ${job.metadata.name}`);
    return true;
  }
}
