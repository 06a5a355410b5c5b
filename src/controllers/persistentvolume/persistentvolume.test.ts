import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseServerFlags } from '../../cli/flags.js';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { PersistentVolumeController } from './persistentvolume.js';

describe('local-path provisioning root', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new PersistentVolumeController()], { localStoragePath: '/srv/k8ts-storage' });
  });
  after(() => cp.stop());

  test('a provisioned PV lies under settings.localStoragePath and is bound', async () => {
    const claim = await cp.client.resource(R.persistentvolumeclaims).create('default', {
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    });
    const pv = await eventually(async () => (await cp.client.resource(R.persistentvolumes).list()).items[0], 'a provisioned PV');
    assert.deepEqual(pv.spec.hostPath, { path: `/srv/k8ts-storage/pvc-${claim.metadata.uid}_default_data`, type: 'DirectoryOrCreate' });
    await eventually(async () => (await cp.client.resource(R.persistentvolumeclaims).get('default', 'data')).status?.phase === 'Bound', 'the claim bound');
  });

  test('k8ts server --default-local-storage-path, default <data-dir>/storage', () => {
    const d = parseServerFlags(['--data-dir', '/var/lib/x']);
    assert.ok(d !== 'help');
    assert.equal(d.defaultLocalStoragePath, '/var/lib/x/storage');
    const f = parseServerFlags(['--default-local-storage-path', '/mnt/disk']);
    assert.ok(f !== 'help');
    assert.equal(f.defaultLocalStoragePath, '/mnt/disk');
  });
});
