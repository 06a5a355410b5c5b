import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { NamespaceController } from './namespace.js';

describe('namespace controller', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new NamespaceController()]);
  });
  after(() => cp.stop());

  test('deleting a namespace deletes its contents, reports what remains, then the namespace', async () => {
    const c = cp.client;
    await c.resource(R.namespaces).create(undefined, { metadata: { name: 'doomed' } });
    await c.resource(R.configmaps).create('doomed', { metadata: { name: 'a' } });
    await c.resource(R.secrets).create('doomed', { metadata: { name: 's' } });
    // A finalizer keeps one object (and so the namespace) until it is released.
    await c.resource(R.configmaps).create('doomed', { metadata: { name: 'held', finalizers: ['test/hold'] } });
    await c.resource(R.namespaces).delete(undefined, 'doomed');
    const ns = await eventually(async () => {
      const n = await c.resource(R.namespaces).get(undefined, 'doomed');
      const cond = (n.status?.conditions ?? []).find((x: { type: string }) => x.type === 'NamespaceContentRemaining');
      return cond?.status === 'True' ? n : undefined;
    }, 'NamespaceContentRemaining condition');
    assert.equal(ns.status.phase, 'Terminating');
    const remaining = ns.status.conditions.find((x: { type: string }) => x.type === 'NamespaceContentRemaining');
    assert.equal(remaining.message, 'Some resources are remaining: configmaps has 1 resource instances');
    await assert.rejects(c.resource(R.secrets).get('doomed', 's'), isNotFound);
    await c.resource(R.configmaps).patch('doomed', 'held', 'merge', { metadata: { finalizers: null } });
    await eventually(() => c.resource(R.namespaces).get(undefined, 'doomed').then(() => false, isNotFound), 'namespace gone');
  });
});
