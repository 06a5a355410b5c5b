import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION, CronJobController } from './index.js';

const NS = 'default';
const MIN = 60_000;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cronjob controller', () => {
  let cp: ControlPlane;
  let client: Client;
  let clock = Date.now();
  let pokes = 0;

  before(async () => {
    cp = await startControlPlane([new CronJobController()], { now: () => new Date(clock) });
    client = cp.client;
  });

  after(async () => {
    await cp.stop();
  });

  beforeEach(() => {
    clock = Date.now();
  });

  async function createCronJob(name: string, spec: Record<string, unknown>): Promise<{ cj: KubeObject; minute: (n: number) => number }> {
    const cj = await client.resource(R.cronjobs).create(NS, {
      metadata: { name, namespace: NS },
      spec: {
        schedule: '* * * * *',
        jobTemplate: {
          metadata: { labels: { app: name }, annotations: { note: 'from-template' } },
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
        },
        ...spec,
      },
    });
    const created = Date.parse(cj.metadata.creationTimestamp!);
    // The n-th minute boundary after creation.
    return { cj, minute: (n) => Math.floor(created / MIN) * MIN + n * MIN };
  }

  /** Moves the controller's clock and makes it look at the CronJob (as its timer would). */
  async function advanceTo(ms: number, ...names: string[]) {
    clock = ms;
    for (const name of names) await client.resource(R.cronjobs).patch(NS, name, 'merge', { metadata: { annotations: { 'test/poke': String(++pokes) } } });
  }

  const jobsOf = async (cj: string) =>
    (await client.resource(R.jobs).list(NS)).items.filter((j) => j.metadata.ownerReferences?.some((r) => r.kind === 'CronJob' && r.name === cj)).map((j) => j.metadata.name!).sort();
  const getCJ = (name: string) => client.resource(R.cronjobs).get(NS, name);
  const events = async (name: string) =>
    (await client.resource(R.events).list(NS)).items.filter((e) => e.involvedObject?.name === name && e.involvedObject?.kind === 'CronJob');
  const finish = (job: string, type: 'Complete' | 'Failed', at: number) => {
    const t = new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const conditions =
      type === 'Complete'
        ? [
            { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: t },
            { type: 'Complete', status: 'True', lastTransitionTime: t },
          ]
        : [
            { type: 'FailureTarget', status: 'True', lastTransitionTime: t },
            { type: 'Failed', status: 'True', lastTransitionTime: t },
          ];
    return client.resource(R.jobs).patch(NS, job, 'merge', { status: { startTime: t, conditions, ...(type === 'Complete' ? { completionTime: t, succeeded: 1 } : { failed: 1 }) } }, { subresource: 'status' });
  };
  const name = (cj: string, at: number) => `${cj}-${at / MIN}`;

  test('creates <name>-<minutes> at each minute boundary from the template', async () => {
    const { cj, minute } = await createCronJob('hello', {});
    await advanceTo(minute(1) - 1000, 'hello');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(await jobsOf('hello'), [], 'nothing before the first schedule time');

    await advanceTo(minute(1) + 2000, 'hello');
    await until('first job', async () => (await jobsOf('hello')).length === 1);
    assert.deepEqual(await jobsOf('hello'), [name('hello', minute(1))]);
    const job = await client.resource(R.jobs).get(NS, name('hello', minute(1)));
    assert.equal(job.metadata.labels?.app, 'hello');
    assert.equal(job.metadata.annotations?.note, 'from-template');
    assert.equal(job.metadata.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION], new Date(minute(1)).toISOString().replace('.000Z', 'Z'));
    assert.deepEqual(job.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'hello', uid: cj.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(job.spec.template.spec.containers[0].image, 'busybox');
    const s1 = await until('status', async () => {
      const x = await getCJ('hello');
      return x.status?.active?.length === 1 ? x : undefined;
    });
    assert.equal(s1.status.active[0].name, job.metadata.name);
    assert.equal(s1.status.active[0].uid, job.metadata.uid);
    assert.equal(Date.parse(s1.status.lastScheduleTime), minute(1));

    await advanceTo(minute(2) + 1000, 'hello');
    await until('second job', async () => (await jobsOf('hello')).length === 2);
    assert.deepEqual(await jobsOf('hello'), [name('hello', minute(1)), name('hello', minute(2))].sort());
    await until('2 active (Allow)', async () => (await getCJ('hello')).status?.active?.length === 2);
    const evs = await until('events', async () => {
      const e = (await events('hello')).filter((x) => x.reason === 'SuccessfulCreate');
      return e.length === 2 ? e : undefined;
    });
    assert.deepEqual(evs.map((e) => e.message).sort(), [`Created job ${name('hello', minute(1))}`, `Created job ${name('hello', minute(2))}`].sort());
  });

  test('Forbid skips while a job is active; a completed job is seen and recorded', async () => {
    const { minute } = await createCronJob('forbid', { concurrencyPolicy: 'Forbid' });
    await advanceTo(minute(1) + 1000, 'forbid');
    await until('first job', async () => (await jobsOf('forbid')).length === 1);
    await until('active', async () => (await getCJ('forbid')).status?.active?.length === 1);

    await advanceTo(minute(2) + 1000, 'forbid');
    await until('JobAlreadyActive', async () => (await events('forbid')).some((e) => e.reason === 'JobAlreadyActive'));
    assert.deepEqual(await jobsOf('forbid'), [name('forbid', minute(1))]);

    // Once the running job completes, the skipped time (still unmet, no starting deadline) runs late.
    await finish(name('forbid', minute(1)), 'Complete', minute(2) + 500);
    const seen = await until('completion seen and the skipped time started', async () => {
      const x = await getCJ('forbid');
      return x.status?.active?.length === 1 && x.status.active[0].name === name('forbid', minute(2)) && x.status?.lastSuccessfulTime ? x : undefined;
    });
    assert.equal(Date.parse(seen.status.lastSuccessfulTime), Math.floor((minute(2) + 500) / 1000) * 1000);
    assert.equal(Date.parse(seen.status.lastScheduleTime), minute(2));
    await until('SawCompletedJob', async () =>
      (await events('forbid')).some((e) => e.reason === 'SawCompletedJob' && e.message === `Saw completed job: ${name('forbid', minute(1))}, condition: Complete`),
    );

    // Minute 3 comes while the minute-2 job runs: skipped again.
    const skipped = (await events('forbid')).find((e) => e.reason === 'JobAlreadyActive')?.count ?? 0;
    await advanceTo(minute(3) + 1000, 'forbid');
    await until('skipped again', async () => ((await events('forbid')).find((e) => e.reason === 'JobAlreadyActive')?.count ?? 0) > skipped);
    assert.deepEqual(await jobsOf('forbid'), [name('forbid', minute(1)), name('forbid', minute(2))].sort());
  });

  test('Replace deletes the running job and starts the new one', async () => {
    const { minute } = await createCronJob('replace', { concurrencyPolicy: 'Replace' });
    await advanceTo(minute(1) + 1000, 'replace');
    await until('first job', async () => (await jobsOf('replace')).length === 1);
    await until('active', async () => (await getCJ('replace')).status?.active?.length === 1);
    await advanceTo(minute(2) + 1000, 'replace');
    await until('replaced', async () => {
      const js = await jobsOf('replace');
      return js.length === 1 && js[0] === name('replace', minute(2));
    });
    const cj = await until('active is the new job', async () => {
      const x = await getCJ('replace');
      return x.status?.active?.length === 1 && x.status.active[0].name === name('replace', minute(2)) ? x : undefined;
    });
    assert.equal(Date.parse(cj.status.lastScheduleTime), minute(2));
    await until('SuccessfulDelete', async () => (await events('replace')).some((e) => e.reason === 'SuccessfulDelete' && e.message === `Deleted job ${name('replace', minute(1))}`));
  });

  test('history limits delete the oldest finished jobs', async () => {
    const { minute } = await createCronJob('hist', { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1 });
    for (let i = 1; i <= 4; i++) {
      await advanceTo(minute(i) + 1000, 'hist');
      await until(`job ${i}`, async () => (await jobsOf('hist')).includes(name('hist', minute(i))));
    }
    await finish(name('hist', minute(1)), 'Complete', minute(1) + 30_000);
    await finish(name('hist', minute(2)), 'Complete', minute(2) + 30_000);
    await finish(name('hist', minute(3)), 'Failed', minute(3) + 30_000);
    await finish(name('hist', minute(4)), 'Failed', minute(4) + 30_000);
    await advanceTo(minute(4) + 40_000, 'hist');
    await until('cleanup', async () => (await jobsOf('hist')).length === 2);
    assert.deepEqual(await jobsOf('hist'), [name('hist', minute(2)), name('hist', minute(4))].sort());
    const cj = await until('no active', async () => {
      const x = await getCJ('hist');
      return (x.status?.active ?? []).length === 0 ? x : undefined;
    });
    assert.ok(cj.status.lastSuccessfulTime);
  });

  test('suspend and startingDeadlineSeconds skip schedule times', async () => {
    const { minute } = await createCronJob('skip', { suspend: true, startingDeadlineSeconds: 10 });
    await advanceTo(minute(1) + 1000, 'skip');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(await jobsOf('skip'), []);
    // Resumed 30s after minute 1: that time is past the 10s starting deadline.
    clock = minute(1) + 30_000;
    await client.resource(R.cronjobs).patch(NS, 'skip', 'merge', { spec: { suspend: false } });
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(await jobsOf('skip'), []);
    await advanceTo(minute(2) + 5000, 'skip');
    await until('job at minute 2', async () => (await jobsOf('skip')).length === 1);
    assert.deepEqual(await jobsOf('skip'), [name('skip', minute(2))]);
  });

  test('too many missed start times: a warning, and only the latest time runs', async () => {
    const { minute } = await createCronJob('missed', {});
    // Pretend the last run was 3 hours before the next minute boundary.
    await client.resource(R.cronjobs).patch(NS, 'missed', 'merge', { status: { lastScheduleTime: new Date(minute(1) - 180 * MIN).toISOString().replace('.000Z', 'Z') } }, { subresource: 'status' });
    await advanceTo(minute(1) + 1000, 'missed');
    await until('job', async () => (await jobsOf('missed')).length === 1);
    assert.deepEqual(await jobsOf('missed'), [name('missed', minute(1))]);
    await until('TooManyMissedTimes', async () => (await events('missed')).some((e) => e.reason === 'TooManyMissedTimes' && e.type === 'Warning'));
  });

  test('timeZone: "0 * * * *" in Asia/Kolkata fires at half past the UTC hour', async () => {
    const { cj } = await createCronJob('tz', { schedule: '0 * * * *', timeZone: 'Asia/Kolkata' });
    const created = Date.parse(cj.metadata.creationTimestamp!);
    let fire = Math.floor(created / (60 * MIN)) * 60 * MIN + 30 * MIN;
    if (fire <= created) fire += 60 * MIN;
    await advanceTo(fire + 1000, 'tz');
    await until('job', async () => (await jobsOf('tz')).length === 1);
    assert.deepEqual(await jobsOf('tz'), [name('tz', fire)]);
    const job = await client.resource(R.jobs).get(NS, name('tz', fire));
    const ann = job.metadata.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION] ?? '';
    assert.match(ann, /^\d{4}-\d\d-\d\dT\d\d:00:00\+05:30$/);
    assert.equal(Date.parse(ann), fire);
  });
});
