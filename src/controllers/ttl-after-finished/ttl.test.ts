import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { TTLAfterFinishedController } from './index.js';

const NS = 'default';

async function until(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ttl-after-finished controller', () => {
  let cp: ControlPlane;
  let client: Client;
  let clock = Date.now();

  before(async () => {
    cp = await startControlPlane([new TTLAfterFinishedController()], { now: () => new Date(clock) });
    client = cp.client;
  });

  after(async () => {
    await cp.stop();
  });

  const createJob = (name: string, ttl: number | undefined) =>
    client.resource(R.jobs).create(NS, {
      metadata: { name, namespace: NS },
      spec: { ttlSecondsAfterFinished: ttl, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } },
    });
  const complete = (name: string, at: number) => {
    const t = new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return client.resource(R.jobs).patch(
      NS,
      name,
      'merge',
      { status: { startTime: t, completionTime: t, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: t }, { type: 'Complete', status: 'True', lastTransitionTime: t }] } },
      { subresource: 'status' },
    );
  };
  const exists = (name: string) =>
    client
      .resource(R.jobs)
      .get(NS, name)
      .then(
        () => true,
        (e) => (isNotFound(e) ? false : Promise.reject(e)),
      );

  test('deletes a finished Job once its TTL has passed, not before, and leaves others alone', async () => {
    clock = Date.now();
    await createJob('zero', 0);
    await createJob('hour', 3600);
    await createJob('keep', undefined);
    await createJob('running', 0);
    await complete('zero', clock);
    await complete('hour', clock);
    await complete('keep', clock);
    await until('ttl 0 deleted', async () => !(await exists('zero')));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await exists('hour'), true);
    assert.equal(await exists('keep'), true);
    assert.equal(await exists('running'), true, 'an unfinished Job stays');

    clock += 3601_000;
    await client.resource(R.jobs).patch(NS, 'hour', 'merge', { metadata: { labels: { poke: '1' } } });
    await until('ttl 3600 deleted after the clock moved', async () => !(await exists('hour')));
    assert.equal(await exists('keep'), true);
  });
});
