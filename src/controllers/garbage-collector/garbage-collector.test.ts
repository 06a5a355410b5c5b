import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { GarbageCollector } from './garbage-collector.js';

const gone = (p: Promise<unknown>) => p.then(() => false, (e) => isNotFound(e));

describe('garbage collector', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new GarbageCollector()]);
  });
  after(() => cp.stop());

  const cms = () => cp.client.resource(R.configmaps);
  const owned = async (name: string, owner: KubeObject, block = false) =>
    cms().create('default', {
      metadata: { name, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.metadata.name!, uid: owner.metadata.uid!, ...(block ? { blockOwnerDeletion: true } : {}) }] },
    });

  test('background: dependents of a deleted owner are deleted', async () => {
    const owner = await cms().create('default', { metadata: { name: 'bg-owner' } });
    await owned('bg-a', owner);
    await owned('bg-b', owner);
    await cms().delete('default', 'bg-owner');
    await eventually(async () => (await gone(cms().get('default', 'bg-a'))) && (await gone(cms().get('default', 'bg-b'))), 'dependents deleted');
  });

  test('a dependent whose owner never existed (uid mismatch) is deleted; one with a live owner stays', async () => {
    const live = await cms().create('default', { metadata: { name: 'live-owner' } });
    await owned('keeps', live);
    await cms().create('default', { metadata: { name: 'dangling', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'live-owner', uid: 'not-the-uid' }] } });
    await eventually(() => gone(cms().get('default', 'dangling')), 'dangling dependent deleted');
    assert.equal((await cms().get('default', 'keeps')).metadata.name, 'keeps');
  });

  test('orphan: dependents stay, without the owner reference, and the owner goes', async () => {
    const owner = await cms().create('default', { metadata: { name: 'or-owner' } });
    await owned('or-a', owner);
    await cms().delete('default', 'or-owner', { propagationPolicy: 'Orphan' });
    await eventually(() => gone(cms().get('default', 'or-owner')), 'owner deleted');
    const a = await cms().get('default', 'or-a');
    assert.equal(a.metadata.ownerReferences, undefined);
  });

  test('foreground: the owner waits for blocking dependents, then goes', async () => {
    const owner = await cms().create('default', { metadata: { name: 'fg-owner' } });
    const dep = await owned('fg-a', owner, true);
    // A finalizer on the dependent holds it (and so the owner) until we release it.
    await cms().patch('default', 'fg-a', 'merge', { metadata: { finalizers: ['test/hold'] } });
    await cms().delete('default', 'fg-owner', { propagationPolicy: 'Foreground' });
    const waiting = await eventually(async () => {
      const a = await cms().get('default', 'fg-a');
      return a.metadata.deletionTimestamp ? a : undefined;
    }, 'dependent marked for deletion');
    assert.equal(waiting.metadata.uid, dep.metadata.uid);
    const o = await cms().get('default', 'fg-owner');
    assert.ok(o.metadata.deletionTimestamp);
    assert.deepEqual(o.metadata.finalizers, ['foregroundDeletion']);
    await cms().patch('default', 'fg-a', 'merge', { metadata: { finalizers: null } });
    await eventually(() => gone(cms().get('default', 'fg-owner')), 'owner deleted after its dependent');
  });

  test('cluster-scoped owner of namespaced dependents (Node owns a Lease)', async () => {
    const node = await cp.client.resource(R.nodes).create(undefined, { metadata: { name: 'gc-node' } });
    await cp.client.resource(R.leases).create('kube-node-lease', {
      metadata: { name: 'gc-node', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'gc-node', uid: node.metadata.uid! }] },
      spec: { holderIdentity: 'gc-node' },
    });
    await cp.client.resource(R.nodes).delete(undefined, 'gc-node');
    await eventually(() => gone(cp.client.resource(R.leases).get('kube-node-lease', 'gc-node')), 'lease deleted with its node');
  });
});
