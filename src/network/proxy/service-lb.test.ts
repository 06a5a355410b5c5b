// ServiceLB against a real in-process API server: LoadBalancer Services get the Ready nodes'
// addresses as ingress, lose them when they stop being LoadBalancers; other classes are left alone.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { EventRecorder } from '../../client/events.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { eventually } from '../../testing/control-plane-harness.js';
import { desiredIngress, desiredIngresses, loadBalancerIngress, ServiceLBController } from './service-lb.js';

const log = { info() {}, warn() {}, error() {}, debug() {} };
const node = (name: string, ready: boolean, addresses: { type: string; address: string }[]): KubeObject => ({
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], addresses },
});

test('ingress: Ready nodes, ExternalIP preferred, sorted and deduplicated', () => {
  const nodes = [
    node('b', true, [{ type: 'InternalIP', address: '10.0.0.2' }]),
    node('a', true, [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'ExternalIP', address: '203.0.113.1' }]),
    node('c', false, [{ type: 'InternalIP', address: '10.0.0.3' }]),
    node('d', true, [{ type: 'Hostname', address: 'd' }]),
  ];
  assert.deepEqual(loadBalancerIngress(nodes), [{ ip: '10.0.0.2', ipMode: 'VIP' }, { ip: '203.0.113.1', ipMode: 'VIP' }]);
  const ing = loadBalancerIngress(nodes);
  assert.equal(desiredIngress({ metadata: {}, spec: { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb' } }, ing), undefined);
  assert.deepEqual(desiredIngress({ metadata: {}, spec: { type: 'ClusterIP' } }, ing), []);
});

test('port claims: the oldest LoadBalancer keeps a port; a later one asking for it stays pending', () => {
  const ing = [{ ip: '10.0.0.1', ipMode: 'VIP' as const }];
  const svc = (name: string, created: string, ports: { port: number; protocol?: string }[], type = 'LoadBalancer'): KubeObject => ({ metadata: { namespace: 'default', name, creationTimestamp: created }, spec: { type, ports } });
  const ingressSvc = svc('k8ts-ingress', '2026-01-01T00:00:00Z', [{ port: 80 }, { port: 443 }]);
  const web = svc('web', '2026-01-02T00:00:00Z', [{ port: 8080 }, { port: 80 }]);
  const dnsUdp = svc('dns', '2026-01-02T00:00:00Z', [{ port: 80, protocol: 'UDP' }]);
  const plain = svc('plain', '2026-01-01T00:00:00Z', [{ port: 80 }], 'NodePort');
  const got = desiredIngresses([web, dnsUdp, plain, ingressSvc], ing);
  assert.deepEqual(got.get(ingressSvc), { want: ing });
  assert.deepEqual(got.get(web), { want: [], conflict: 'port TCP/80 is already used by the load balancer of Service default/k8ts-ingress' });
  assert.deepEqual(got.get(dnsUdp), { want: ing }, 'UDP/80 is another port');
  assert.deepEqual(got.get(plain), { want: [] }, 'not a LoadBalancer: claims nothing');
  // The pending Service does not claim its free port either: a newer one may take 8080.
  const later = svc('later', '2026-01-03T00:00:00Z', [{ port: 8080 }]);
  assert.deepEqual(desiredIngresses([web, ingressSvc, later], ing).get(later), { want: ing });
});

describe('ServiceLBController', () => {
  let api: TestApi;
  let client: Client;
  const ac = new AbortController();
  let running: Promise<void>;

  before(async () => {
    api = await startTestApi();
    client = api.client('service-lb-test');
    for (const [name, ip] of [['node-1', '10.0.0.11'], ['node-2', '10.0.0.12']]) {
      await client.resource(R.nodes).create(undefined, { metadata: { name } });
      await client.resource(R.nodes).patch(undefined, name, 'merge', { status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: ip }] } }, { subresource: 'status' });
    }
    running = new ServiceLBController({ client, log, events: new EventRecorder(client, 'service-lb-controller') }).run(ac.signal);
  });

  after(async () => {
    ac.abort();
    await running;
    await api.stop();
  });

  const ingressOf = async (name: string) => ((await client.resource(R.services).get('default', name)).status as { loadBalancer?: { ingress?: { ip: string }[] } })?.loadBalancer?.ingress?.map((i) => i.ip);

  test('a LoadBalancer Service gets every Ready node address; nodes going NotReady drop out; type change clears it', async () => {
    await client.resource(R.services).create('default', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } });
    await client.resource(R.services).create('default', { metadata: { name: 'other' }, spec: { type: 'LoadBalancer', loadBalancerClass: 'example.com/lb', ports: [{ port: 80, protocol: 'TCP' }] } });
    await eventually(async () => JSON.stringify(await ingressOf('lb')) === '["10.0.0.11","10.0.0.12"]', 'ingress of lb');
    await client.resource(R.nodes).patch(undefined, 'node-2', 'merge', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, { subresource: 'status' });
    await eventually(async () => JSON.stringify(await ingressOf('lb')) === '["10.0.0.11"]', 'node-2 dropped');
    assert.equal(await ingressOf('other'), undefined, 'another class is not ours');
    await client.resource(R.services).patch('default', 'lb', 'merge', { spec: { type: 'ClusterIP' } });
    await eventually(async () => (await ingressOf('lb')) === undefined, 'ingress cleared');
  });

  test('a second LoadBalancer on a taken port stays pending with a Warning event, and gets the addresses once the port is free', async () => {
    await client.resource(R.services).create('default', { metadata: { name: 'first' }, spec: { type: 'LoadBalancer', ports: [{ port: 81, protocol: 'TCP' }] } });
    await eventually(async () => JSON.stringify(await ingressOf('first')) === '["10.0.0.11"]', 'ingress of first');
    await client.resource(R.services).create('default', { metadata: { name: 'second' }, spec: { type: 'LoadBalancer', ports: [{ port: 81, protocol: 'TCP' }] } });
    await eventually(async () => {
      const events = (await client.resource(R.events).list('default')).items as unknown as { involvedObject: { name: string }; reason: string; message: string }[];
      return events.some((e) => e.involvedObject.name === 'second' && e.reason === 'SyncLoadBalancerFailed' && e.message === 'Error syncing load balancer: port TCP/81 is already used by the load balancer of Service default/first');
    }, 'SyncLoadBalancerFailed event');
    assert.equal(await ingressOf('second'), undefined, 'pending');
    await client.resource(R.services).delete('default', 'first');
    await eventually(async () => JSON.stringify(await ingressOf('second')) === '["10.0.0.11"]', 'second gets the port');
  });
});
