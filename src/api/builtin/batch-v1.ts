// batch/v1: jobs and cronjobs.

import { randomUUID } from 'node:crypto';
import { type FieldError, fieldErr, FieldPath } from '../../machinery/field-errors.js';
import { selectorToString } from '../../machinery/labels.js';
import { labelSelector, objectMeta, type KubeObject } from '../meta/v1.js';
import { age, col, humanDuration } from '../printing.js';
import type { ResourceDef } from '../resource.js';
import { arr, bool, enumOf, int32, int64, named, obj, str, time, type Schema } from '../schema.js';
import { defineKind } from './define.js';
import { defaultPodSpec, objectReference, podTemplateSpec, validatePodTemplateSpec } from './pod-spec.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const PKG = 'io.k8s.api.batch.v1';
const n = (name: string, s: Schema) => named(`${PKG}.${name}`, s);
const base = { group: 'batch', version: 'v1', pkg: PKG };
const root = new FieldPath();

export const jobSpec = n(
  'JobSpec',
  obj(
    {
      activeDeadlineSeconds: int64(),
      backoffLimit: int32(),
      backoffLimitPerIndex: int32(),
      completionMode: enumOf(['Indexed', 'NonIndexed']),
      completions: int32(),
      managedBy: str(),
      manualSelector: bool(),
      maxFailedIndexes: int32(),
      parallelism: int32(),
      podFailurePolicy: n(
        'PodFailurePolicy',
        obj({
          rules: arr(
            n(
              'PodFailurePolicyRule',
              obj({
                action: str(),
                onExitCodes: n('PodFailurePolicyOnExitCodesRequirement', obj({ containerName: str(), operator: str(), values: arr(int32(), { listType: 'set' }) })),
                onPodConditions: arr(n('PodFailurePolicyOnPodConditionsPattern', obj({ status: str(), type: str() })), { listType: 'atomic' }),
              }),
            ),
            { listType: 'atomic' },
          ),
        }),
      ),
      podReplacementPolicy: str(),
      selector: labelSelector,
      successPolicy: n('SuccessPolicy', obj({ rules: arr(obj({ succeededCount: int32(), succeededIndexes: str() }), { listType: 'atomic' }) })),
      suspend: bool(),
      template: podTemplateSpec,
      ttlSecondsAfterFinished: int32(),
    },
    { required: ['template'] },
  ),
);

const jobStatus = n(
  'JobStatus',
  obj({
    active: int32(),
    completedIndexes: str(),
    completionTime: time(),
    conditions: arr(n('JobCondition', obj({ lastProbeTime: time(), lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() })), { listType: 'atomic' }),
    failed: int32(),
    failedIndexes: str(),
    ready: int32(),
    startTime: time(),
    succeeded: int32(),
    terminating: int32(),
    uncountedTerminatedPods: n('UncountedTerminatedPods', obj({ failed: arr(str(), { listType: 'set' }), succeeded: arr(str(), { listType: 'set' }) })),
  }),
);

/** Job defaults (pkg/apis/batch/v1/defaults.go). */
export function defaultJobSpec(s: Obj | undefined): void {
  if (!s) return;
  if (s.completions === undefined && s.parallelism === undefined) {
    s.completions = 1;
    s.parallelism = 1;
  }
  s.parallelism ??= 1;
  s.backoffLimit ??= s.backoffLimitPerIndex !== undefined ? 2147483647 : 6;
  s.completionMode ??= 'NonIndexed';
  s.suspend ??= false;
  s.manualSelector ??= undefined;
  if (s.manualSelector === undefined) delete s.manualSelector;
  s.podReplacementPolicy ??= s.podFailurePolicy ? 'Failed' : 'TerminatingOrFailed';
  defaultPodSpec(s.template?.spec);
}

/** The job controller's generated selector and labels (upstream's job strategy). */
function generateSelector(o: KubeObject): void {
  const s = o.spec ?? {};
  if (s.manualSelector) return;
  const uid = o.metadata.uid ?? randomUUID();
  s.template ??= {};
  s.template.metadata ??= {};
  s.template.metadata.labels = { ...(s.template.metadata.labels ?? {}), 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': o.metadata.name ?? '', 'controller-uid': uid, 'job-name': o.metadata.name ?? '' };
  s.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
}

function validateJobSpec(s: Obj | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!s) return [fieldErr.required(p, '')];
  for (const f of ['parallelism', 'completions', 'backoffLimit']) {
    if (typeof s[f] === 'number' && s[f] < 0) errs.push(fieldErr.invalid(p.child(f), s[f], 'must be greater than or equal to 0'));
  }
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds <= 0) errs.push(fieldErr.invalid(p.child('activeDeadlineSeconds'), s.activeDeadlineSeconds, 'must be greater than 0'));
  if (s.ttlSecondsAfterFinished !== undefined && s.ttlSecondsAfterFinished < 0) errs.push(fieldErr.invalid(p.child('ttlSecondsAfterFinished'), s.ttlSecondsAfterFinished, 'must be greater than or equal to 0'));
  if (s.completionMode && !['NonIndexed', 'Indexed'].includes(s.completionMode)) errs.push(fieldErr.notSupported(p.child('completionMode'), s.completionMode, ['NonIndexed', 'Indexed']));
  if (s.completionMode === 'Indexed' && s.completions === undefined) errs.push(fieldErr.required(p.child('completions'), 'when completion mode is Indexed'));
  const rp = s.template?.spec?.restartPolicy;
  if (rp !== 'OnFailure' && rp !== 'Never') {
    if (rp === undefined || rp === 'Always') {
      errs.push(rp === undefined ? fieldErr.required(p.child('template', 'spec', 'restartPolicy'), 'valid values: "OnFailure", "Never"') : fieldErr.notSupported(p.child('template', 'spec', 'restartPolicy'), rp, ['OnFailure', 'Never']));
    }
  }
  const tplErrs = validatePodTemplateSpec(s.template, p.child('template'), { restartPolicies: ['OnFailure', 'Never'] }).filter((e) => !e.field.endsWith('.restartPolicy'));
  errs.push(...tplErrs);
  return errs;
}

function jobStatusCell(o: Obj): string {
  const conds = (o.status?.conditions ?? []) as Obj[];
  const has = (t: string) => conds.some((c) => c.type === t && c.status === 'True');
  if (has('Complete')) return 'Complete';
  if (has('Failed')) return 'Failed';
  if (o.metadata?.deletionTimestamp) return 'Terminating';
  if (has('SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  if (has('FailureTarget')) return 'FailureTarget';
  if (has('Suspended') || o.spec?.suspend) return 'Suspended';
  return 'Running';
}

function jobCompletions(o: Obj): string {
  const c = o.spec?.completions;
  if (c !== undefined && c !== null) return `${o.status?.succeeded ?? 0}/${c}`;
  const p = o.spec?.parallelism ?? 0;
  return p > 1 ? `${o.status?.succeeded ?? 0}/1 of ${p}` : `${o.status?.succeeded ?? 0}/1`;
}

function jobDuration(o: Obj, now: number): string {
  const start = o.status?.startTime ? Date.parse(o.status.startTime) : undefined;
  if (!start) return '';
  const end = o.status?.completionTime ? Date.parse(o.status.completionTime) : now;
  return humanDuration(end - start);
}

const jobs = defineKind({
  ...base,
  kind: 'Job',
  plural: 'jobs',
  namespaced: true,
  categories: ['all'],
  status: true,
  properties: { spec: jobSpec, status: jobStatus },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      defaultJobSpec(o.spec);
    },
    prepareForCreate(o) {
      o.status = {};
      generateSelector(o);
    },
    validate(o) {
      return validateJobSpec(o.spec, root.child('spec'));
    },
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      const errs = validateJobSpec(o.spec, root.child('spec'));
      if (JSON.stringify(o.spec?.selector ?? null) !== JSON.stringify(old.spec?.selector ?? null)) errs.push(fieldErr.invalid('spec.selector', o.spec?.selector, 'field is immutable'));
      if (o.spec?.completions !== old.spec?.completions && old.spec?.completionMode !== 'Indexed') errs.push(fieldErr.invalid('spec.completions', o.spec?.completions, 'field is immutable'));
      if (!old.spec?.suspend && JSON.stringify(o.spec?.template) !== JSON.stringify(old.spec?.template)) {
        errs.push(fieldErr.invalid('spec.template', o.spec?.template, 'field is immutable'));
      }
      return errs;
    },
  },
  columns: [col('Status'), col('Completions'), col('Duration'), col('Age'), col('Containers', { priority: 1 }), col('Images', { priority: 1 }), col('Selector', { priority: 1 })],
  cells: (o, now) => {
    const cs = (o.spec?.template?.spec?.containers ?? []) as Obj[];
    let sel = '<none>';
    try {
      sel = selectorToString(o.spec?.selector ?? {}) || '<none>';
    } catch {
      // keep <none>
    }
    return [jobStatusCell(o), jobCompletions(o), jobDuration(o, now), age(o.metadata.creationTimestamp, now), cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(','), sel];
  },
  fieldSelectors: { 'status.successful': (o) => String(o.status?.succeeded ?? 0) },
});

// ---- cronjobs --------------------------------------------------------------------------------

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Validates standard 5-field cron syntax (and @macros); returns an error message or undefined. */
export function cronScheduleError(schedule: string): string | undefined {
  const s = schedule.trim();
  if (s.startsWith('@every ')) return /^@every \d+(ms|s|m|h)+$/.test(s) ? undefined : `unrecognized descriptor: ${s}`;
  if (s.startsWith('@')) return MACROS[s] ? undefined : `unrecognized descriptor: ${s}`;
  if (/^(TZ|CRON_TZ)=/.test(s)) return 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead';
  const fields = s.split(/\s+/);
  if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: ${s}`;
  const ranges: [number, number, Record<string, number>?][] = [
    [0, 59],
    [0, 23],
    [1, 31],
    [1, 12, { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 }],
    [0, 7, { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 }],
  ];
  for (let i = 0; i < 5; i++) {
    const [lo, hi, names] = ranges[i];
    for (const part of fields[i].split(',')) {
      const [rng, step] = part.split('/');
      if (step !== undefined && !/^\d+$/.test(step)) return `failed to parse int from ${step}`;
      if (rng === '*' || rng === '?') continue;
      for (const v of rng.split('-')) {
        const num = names && names[v.toLowerCase()] !== undefined ? names[v.toLowerCase()] : /^\d+$/.test(v) ? Number(v) : NaN;
        if (Number.isNaN(num)) return `failed to parse int from ${v}`;
        if (num < lo) return `beginning of range (${num}) below minimum (${lo}): ${rng}`;
        if (num > hi) return `end of range (${num}) above maximum (${hi}): ${rng}`;
      }
    }
  }
  return undefined;
}

function validateCronJob(o: KubeObject): FieldError[] {
  const p = root.child('spec');
  const s = o.spec ?? {};
  const errs: FieldError[] = [];
  if (!s.schedule) errs.push(fieldErr.required(p.child('schedule'), ''));
  else {
    const e = cronScheduleError(s.schedule);
    if (e) errs.push(fieldErr.invalid(p.child('schedule'), s.schedule, e));
  }
  if (s.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: s.timeZone });
      if (s.timeZone === '' || /^Local$/i.test(s.timeZone)) throw new Error('bad');
    } catch {
      errs.push(fieldErr.invalid(p.child('timeZone'), s.timeZone, 'unknown time zone ' + s.timeZone));
    }
  }
  const cp = s.concurrencyPolicy;
  if (cp !== undefined && !['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(fieldErr.notSupported(p.child('concurrencyPolicy'), cp, ['Allow', 'Forbid', 'Replace']));
  for (const f of ['successfulJobsHistoryLimit', 'failedJobsHistoryLimit', 'startingDeadlineSeconds']) {
    if (typeof s[f] === 'number' && s[f] < 0) errs.push(fieldErr.invalid(p.child(f), s[f], 'must be greater than or equal to 0'));
  }
  errs.push(...validateJobSpec(s.jobTemplate?.spec, p.child('jobTemplate', 'spec')));
  return errs;
}

const cronjobs = defineKind({
  ...base,
  kind: 'CronJob',
  plural: 'cronjobs',
  namespaced: true,
  shortNames: ['cj'],
  categories: ['all'],
  status: true,
  properties: {
    spec: n(
      'CronJobSpec',
      obj(
        {
          concurrencyPolicy: enumOf(['Allow', 'Forbid', 'Replace']),
          failedJobsHistoryLimit: int32(),
          jobTemplate: n('JobTemplateSpec', obj({ metadata: objectMeta, spec: jobSpec })),
          schedule: str(),
          startingDeadlineSeconds: int64(),
          successfulJobsHistoryLimit: int32(),
          suspend: bool(),
          timeZone: str(),
        },
        { required: ['schedule', 'jobTemplate'] },
      ),
    ),
    status: n('CronJobStatus', obj({ active: arr(objectReference, { listType: 'atomic' }), lastScheduleTime: time(), lastSuccessfulTime: time() })),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.concurrencyPolicy ??= 'Allow';
      s.suspend ??= false;
      s.successfulJobsHistoryLimit ??= 3;
      s.failedJobsHistoryLimit ??= 1;
      defaultJobSpec(s.jobTemplate?.spec);
    },
    validate: validateCronJob,
    validateUpdate(o, _old, ctx) {
      if (ctx.subresource === 'status') return [];
      return validateCronJob(o);
    },
  },
  columns: [col('Schedule'), col('Timezone'), col('Suspend'), col('Active', { type: 'integer' }), col('Last Schedule'), col('Age'), col('Containers', { priority: 1 }), col('Images', { priority: 1 }), col('Selector', { priority: 1 })],
  cells: (o, now) => {
    const cs = (o.spec?.jobTemplate?.spec?.template?.spec?.containers ?? []) as Obj[];
    let sel = '<none>';
    try {
      sel = o.spec?.jobTemplate?.spec?.selector ? selectorToString(o.spec.jobTemplate.spec.selector) : '<none>';
    } catch {
      // keep <none>
    }
    return [
      o.spec?.schedule ?? '',
      o.spec?.timeZone ?? '<none>',
      o.spec?.suspend ? 'True' : 'False',
      (o.status?.active ?? []).length,
      o.status?.lastScheduleTime ? age(o.status.lastScheduleTime, now) : '<none>',
      age(o.metadata.creationTimestamp, now),
      cs.map((c) => c.name).join(','),
      cs.map((c) => c.image).join(','),
      sel,
    ];
  },
});

export const batchV1Resources: ResourceDef[] = [jobs, cronjobs];
