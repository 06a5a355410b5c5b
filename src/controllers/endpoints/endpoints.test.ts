import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { EndpointSliceController } from '../endpointslice/endpointslice.js';
import { EndpointsController } from './endpoints.js';

describe('endpoints and endpointslice controllers', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new EndpointsController(), new EndpointSliceController()]);
  });
  after(() => cp.stop());

  const pod = async (name: string, ip: string, ready: boolean, labels = { app: 'web' }) => {
    const pods = cp.client.resource(R.pods);
    await pods.create('default', {
      metadata: { name, labels },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'nginx', ports: [{ name: 'http', containerPort: 8080 }] }] },
    });
    await pods.patch('default', name, 'merge', { status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } }, { subresource: 'status' });
  };

  test('ready pods are addresses, unready ones notReadyAddresses; named target ports resolve', async () => {
    await cp.client.resource(R.services).create('default', {
      metadata: { name: 'web', labels: { tier: 'front' } },
      spec: { selector: { app: 'web' }, ports: [{ name: 'h', port: 80, targetPort: 'http' }] },
    });
    await pod('w1', '10.42.0.10', true);
    await pod('w2', '10.42.0.11', false);
    await pod('other', '10.42.0.12', true, { app: 'db' });
    const ep = await eventually(async () => {
      const e = await cp.client.resource(R.endpoints).get('default', 'web');
      return e.subsets?.[0]?.addresses?.length === 1 && e.subsets[0].notReadyAddresses?.length === 1 ? e : undefined;
    }, 'endpoints with one ready and one unready address');
    assert.deepEqual(ep.subsets[0].ports, [{ name: 'h', port: 8080, protocol: 'TCP' }]);
    assert.equal(ep.subsets[0].addresses[0].ip, '10.42.0.10');
    assert.equal(ep.subsets[0].addresses[0].targetRef.name, 'w1');
    assert.equal(ep.metadata.labels?.tier, 'front');
    const slices = await eventually(async () => {
      const l = await cp.client.resource(R.endpointslices).list('default', { labelSelector: 'kubernetes.io/service-name=web' });
      return l.items.length === 1 && l.items[0].endpoints?.length === 2 ? l.items : undefined;
    }, 'one slice with two endpoints');
    const s = slices[0];
    assert.equal(s.addressType, 'IPv4');
    assert.equal(s.metadata.ownerReferences?.[0]?.kind, 'Service');
    assert.deepEqual(s.ports, [{ name: 'h', port: 8080, protocol: 'TCP' }]);
    const byName = Object.fromEntries(s.endpoints.map((e: { targetRef: { name: string } }) => [e.targetRef.name, e]));
    assert.deepEqual(byName.w1.conditions, { ready: true, serving: true, terminating: false });
    assert.deepEqual(byName.w2.conditions, { ready: false, serving: false, terminating: false });
  });

  test('a pod that becomes ready moves to addresses; a deleted pod leaves', async () => {
    await cp.client.resource(R.pods).patch('default', 'w2', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    await eventually(async () => (await cp.client.resource(R.endpoints).get('default', 'web')).subsets?.[0]?.addresses?.length === 2, 'two ready addresses');
    await cp.client.resource(R.pods).delete('default', 'w1', { gracePeriodSeconds: 0 });
    const ep = await eventually(async () => {
      const e = await cp.client.resource(R.endpoints).get('default', 'web');
      return e.subsets?.[0]?.addresses?.length === 1 ? e : undefined;
    }, 'one address left');
    assert.equal(ep.subsets[0].addresses[0].targetRef.name, 'w2');
  });

  test('selector-less Services are left alone', async () => {
    await cp.client.resource(R.services).create('default', { metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } });
    await cp.client.resource(R.endpoints).create('default', { metadata: { name: 'manual' }, subsets: [{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80 }] }] });
    await new Promise((r) => setTimeout(r, 300));
    const e = await cp.client.resource(R.endpoints).get('default', 'manual');
    assert.equal(e.subsets[0].addresses[0].ip, '192.0.2.1');
  });
});
