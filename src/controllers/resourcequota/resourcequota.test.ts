import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { ResourceQuotaController } from './resourcequota.js';

describe('resource quota controller', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new ResourceQuotaController()]);
  });
  after(() => cp.stop());

  test('status.used follows creates and deletes', async () => {
    const c = cp.client;
    await c.resource(R.resourcequotas).create('default', { metadata: { name: 'q' }, spec: { hard: { pods: '10', 'requests.cpu': '4', 'requests.memory': '8Gi', configmaps: '5', 'count/deployments.apps': '3' } } });
    const pod = (name: string, cpu: string, memory: string) =>
      c.resource(R.pods).create('default', { metadata: { name }, spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu, memory } } }] } });
    await pod('a', '250m', '128Mi');
    await pod('b', '500m', '256Mi');
    await c.resource(R.configmaps).create('default', { metadata: { name: 'cm' } });
    const q = await eventually(async () => {
      const x = await c.resource(R.resourcequotas).get('default', 'q');
      return x.status?.used?.pods === '2' && x.status.used.configmaps === '1' ? x : undefined;
    }, 'used counts');
    assert.deepEqual(q.status.used, { pods: '2', 'requests.cpu': '750m', 'requests.memory': '384Mi', configmaps: '1', 'count/deployments.apps': '0' });
    assert.deepEqual(q.status.hard, q.spec.hard);
    await c.resource(R.pods).patch('default', 'b', 'merge', { status: { phase: 'Succeeded' } }, { subresource: 'status' });
    await c.resource(R.pods).delete('default', 'a', { gracePeriodSeconds: 0 });
    await eventually(async () => {
      const x = await c.resource(R.resourcequotas).get('default', 'q');
      return x.status?.used?.pods === '0' && x.status.used['requests.cpu'] === '0';
    }, 'terminal and deleted pods no longer counted');
  });
});
