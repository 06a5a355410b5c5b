import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { JobController, JOB_TRACKING_FINALIZER } from './index.js';

const NS = 'default';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function jobSpec(name: string, spec: Record<string, unknown>): KubeObject {
  return {
    metadata: { name, namespace: NS },
    spec: {
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } },
      ...spec,
    },
  };
}

const cond = (job: KubeObject, type: string) => (job.status?.conditions ?? []).find((c: { type: string }) => c.type === type);
const isLive = (p: KubeObject) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';

describe('job controller', () => {
  let cp: ControlPlane;
  let client: Client;

  before(async () => {
    cp = await startControlPlane([new JobController({ podFailureBackoffBaseMs: 20, podFailureBackoffMaxMs: 100, syncBatchPeriodMs: 10 })], {});
    client = cp.client;
  });

  after(async () => {
    await cp.stop();
  });

  function pods(job: string) {
    return client
      .resource(R.pods)
      .list(NS, { labelSelector: `batch.kubernetes.io/job-name=${job}` })
      .then((l) => l.items);
  }
  const getJob = (name: string) => client.resource(R.jobs).get(NS, name);
  const setPhase = (p: KubeObject, phase: string) =>
    client
      .resource(R.pods)
      .patch(NS, p.metadata.name!, 'merge', { status: { phase } }, { subresource: 'status' })
      .catch(() => undefined);
  const events = async (name: string) =>
    (await client.resource(R.events).list(NS)).items.filter((e) => e.involvedObject?.name === name && e.involvedObject?.kind === 'Job');

  test('completions=5 parallelism=2: at most 2 active, Complete after 5 successes', async () => {
    await client.resource(R.jobs).create(NS, jobSpec('five', { completions: 5, parallelism: 2 }));
    let maxLive = 0;
    const seen = new Set<string>();
    const done = await until('Complete', async () => {
      const ps = await pods('five');
      const live = ps.filter(isLive);
      maxLive = Math.max(maxLive, live.length);
      for (const p of live) {
        seen.add(p.metadata.name!);
        await setPhase(p, 'Succeeded');
      }
      const j = await getJob('five');
      return cond(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    assert.ok(maxLive <= 2, `saw ${maxLive} active pods`);
    assert.ok(maxLive >= 1);
    assert.equal(seen.size, 5);
    assert.equal(done.status.succeeded, 5);
    assert.equal(done.status.active, 0);
    assert.equal(done.status.failed ?? 0, 0);
    assert.ok(done.status.startTime && done.status.completionTime);
    const types = done.status.conditions.map((c: { type: string }) => c.type);
    assert.deepEqual(types, ['SuccessCriteriaMet', 'Complete']);
    assert.equal(cond(done, 'Complete').reason, 'CompletionsReached');
    const left = await pods('five');
    assert.equal(left.length, 5);
    for (const p of left) {
      assert.ok(!(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER), 'finalizer removed once counted');
      assert.match(p.metadata.name!, /^five-[a-z0-9]{5}$/);
      assert.equal(p.metadata.labels?.['job-name'], 'five');
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/controller-uid'], done.metadata.uid);
      assert.equal(p.metadata.ownerReferences?.[0]?.uid, done.metadata.uid);
    }
    const evs = await until('events', async () => {
      const e = await events('five');
      return e.some((x) => x.reason === 'Completed') && e.filter((x) => x.reason === 'SuccessfulCreate').length === 5 ? e : undefined;
    });
    assert.ok(evs.some((e) => e.reason === 'SuccessfulCreate' && /^Created pod: five-/.test(e.message)));
    assert.equal(evs.find((e) => e.reason === 'Completed')?.message, 'Job completed');
  });

  test('failing pods stop at backoffLimit with Failed/BackoffLimitExceeded', async () => {
    await client.resource(R.jobs).create(NS, jobSpec('failing', { backoffLimit: 2 }));
    const failed = new Set<string>();
    const done = await until('Failed', async () => {
      for (const p of (await pods('failing')).filter(isLive)) {
        failed.add(p.metadata.name!);
        await setPhase(p, 'Failed');
      }
      const j = await getJob('failing');
      return cond(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    assert.equal(failed.size, 3);
    assert.equal(done.status.failed, 3);
    assert.equal(done.status.active, 0);
    assert.equal(cond(done, 'Failed').reason, 'BackoffLimitExceeded');
    assert.equal(cond(done, 'Failed').message, 'Job has reached the specified backoff limit');
    assert.equal(cond(done, 'FailureTarget')?.reason, 'BackoffLimitExceeded');
    assert.equal(done.status.completionTime, undefined);
    // No pod is created after the Job failed, and none keeps the tracking finalizer.
    await new Promise((r) => setTimeout(r, 200));
    const left = await pods('failing');
    assert.equal(left.length, 3);
    assert.ok(left.every((p) => !(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER)));
    await until('BackoffLimitExceeded event', async () => (await events('failing')).some((e) => e.reason === 'BackoffLimitExceeded' && e.type === 'Warning'));
  });

  test('Indexed job: one pod per index, completedIndexes "0,2" then "0-2"', async () => {
    await client.resource(R.jobs).create(NS, jobSpec('idx', { completions: 3, parallelism: 3, completionMode: 'Indexed' }));
    const ps = await until('3 pods', async () => {
      const l = await pods('idx');
      return l.length === 3 ? l : undefined;
    });
    const byIndex = new Map(ps.map((p) => [p.metadata.annotations?.['batch.kubernetes.io/job-completion-index'], p]));
    assert.deepEqual([...byIndex.keys()].sort(), ['0', '1', '2']);
    for (const [ix, p] of byIndex) {
      assert.match(p.metadata.name!, new RegExp(`^idx-${ix}-[a-z0-9]{5}$`));
      assert.equal(p.metadata.labels?.['batch.kubernetes.io/job-completion-index'], ix);
      assert.equal(p.spec.hostname, `idx-${ix}`);
      const env = p.spec.containers[0].env.find((e: { name: string }) => e.name === 'JOB_COMPLETION_INDEX');
      assert.equal(env.valueFrom.fieldRef.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    }
    await setPhase(byIndex.get('0')!, 'Succeeded');
    await setPhase(byIndex.get('2')!, 'Succeeded');
    const mid = await until('completedIndexes 0,2', async () => {
      const j = await getJob('idx');
      return j.status.completedIndexes === '0,2' ? j : undefined;
    });
    assert.equal(mid.status.succeeded, 2);
    assert.equal(cond(mid, 'Complete'), undefined);
    await setPhase(byIndex.get('1')!, 'Succeeded');
    const done = await until('Complete', async () => {
      const j = await getJob('idx');
      return cond(j, 'Complete')?.status === 'True' ? j : undefined;
    });
    assert.equal(done.status.completedIndexes, '0-2');
    assert.equal(done.status.succeeded, 3);
    assert.equal((await pods('idx')).length, 3);
  });

  test('activeDeadlineSeconds fails the Job with DeadlineExceeded and removes its pods', async () => {
    await client.resource(R.jobs).create(NS, jobSpec('deadline', { activeDeadlineSeconds: 1, parallelism: 2, completions: 4 }));
    await until('2 pods', async () => (await pods('deadline')).filter(isLive).length === 2);
    const done = await until('Failed', async () => {
      const j = await getJob('deadline');
      return cond(j, 'Failed')?.status === 'True' ? j : undefined;
    });
    assert.equal(cond(done, 'Failed').reason, 'DeadlineExceeded');
    assert.equal(cond(done, 'Failed').message, 'Job was active longer than specified deadline');
    assert.equal(done.status.active, 0);
    assert.equal(done.status.failed, 2);
    assert.equal(done.status.terminating ?? 0, 0);
    // The pods had no node, so deleting them and dropping the finalizer removes them.
    await until('pods gone', async () => (await pods('deadline')).length === 0);
  });

  test('suspend: no pods while suspended, Suspended condition, pods on resume', async () => {
    await client.resource(R.jobs).create(NS, jobSpec('susp', { suspend: true, parallelism: 1, completions: 1 }));
    const j = await until('Suspended', async () => {
      const x = await getJob('susp');
      return cond(x, 'Suspended')?.status === 'True' ? x : undefined;
    });
    assert.equal(cond(j, 'Suspended').reason, 'JobSuspended');
    assert.equal(j.status.startTime, undefined);
    assert.equal((await pods('susp')).length, 0);
    await client.resource(R.jobs).patch(NS, 'susp', 'merge', { spec: { suspend: false } });
    await until('pod after resume', async () => (await pods('susp')).length === 1);
    const resumed = await until('Resumed', async () => {
      const x = await getJob('susp');
      return cond(x, 'Suspended')?.status === 'False' ? x : undefined;
    });
    assert.equal(cond(resumed, 'Suspended').reason, 'JobResumed');
    assert.ok(resumed.status.startTime);
  });
});
