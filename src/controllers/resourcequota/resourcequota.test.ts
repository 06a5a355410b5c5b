import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { podResources, ResourceQuotaController } from './resourcequota.js';

describe('resource quota controller', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new ResourceQuotaController()]);
    for (const name of ['q1', 'q2', 'q3', 'q4']) await cp.client.resource(R.namespaces).create(undefined, { metadata: { name } });
  });
  after(() => cp.stop());

  const quota = (ns: string, name = 'q') => cp.client.resource(R.resourcequotas).get(ns, name);
  const usedBecomes = (ns: string, want: Record<string, string>, name = 'q') =>
    eventually(async () => {
      const x = await quota(ns, name);
      return JSON.stringify(x.status?.used) === JSON.stringify(want) ? x : undefined;
    }, `${ns}/${name} used = ${JSON.stringify(want)}`);
  const pod = (ns: string, name: string, resources: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    cp.client.resource(R.pods).create(ns, { metadata: { name }, spec: { containers: [{ name: 'c', image: 'x', resources }], ...extra } });

  test('status.used follows creates and deletes; terminal pods leave pods and compute but stay in count/pods', async () => {
    const c = cp.client;
    const hard = { pods: '10', 'count/pods': '10', 'requests.cpu': '4', 'requests.memory': '8Gi', 'limits.cpu': '8', configmaps: '5', secrets: '5', 'count/deployments.apps': '3' };
    await c.resource(R.resourcequotas).create('q1', { metadata: { name: 'q' }, spec: { hard } });
    const q0 = await usedBecomes('q1', { pods: '0', 'count/pods': '0', 'requests.cpu': '0', 'requests.memory': '0', 'limits.cpu': '0', configmaps: '0', secrets: '0', 'count/deployments.apps': '0' });
    assert.deepEqual(q0.status.hard, hard);

    await pod('q1', 'a', { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1' } });
    await pod('q1', 'b', { requests: { cpu: '500m', memory: '256Mi' } });
    await c.resource(R.configmaps).create('q1', { metadata: { name: 'cm' } });
    await c.resource(R.secrets).create('q1', { metadata: { name: 's' }, stringData: { k: 'v' } });
    await c.resource(R.deployments).create('q1', {
      metadata: { name: 'd' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    });
    await usedBecomes('q1', { pods: '2', 'count/pods': '2', 'requests.cpu': '750m', 'requests.memory': '384Mi', 'limits.cpu': '1', configmaps: '1', secrets: '1', 'count/deployments.apps': '1' });

    await c.resource(R.pods).patch('q1', 'b', 'merge', { status: { phase: 'Succeeded' } }, { subresource: 'status' });
    await usedBecomes('q1', { pods: '1', 'count/pods': '2', 'requests.cpu': '250m', 'requests.memory': '128Mi', 'limits.cpu': '1', configmaps: '1', secrets: '1', 'count/deployments.apps': '1' });

    await c.resource(R.pods).delete('q1', 'a', { gracePeriodSeconds: 0 });
    await c.resource(R.pods).delete('q1', 'b', { gracePeriodSeconds: 0 });
    await c.resource(R.configmaps).delete('q1', 'cm');
    await c.resource(R.deployments).delete('q1', 'd');
    await usedBecomes('q1', { pods: '0', 'count/pods': '0', 'requests.cpu': '0', 'requests.memory': '0', 'limits.cpu': '0', configmaps: '0', secrets: '1', 'count/deployments.apps': '0' });
  });

  test('services, node ports and load balancers; claims and their storage, per storage class', async () => {
    const c = cp.client;
    await c.resource(R.resourcequotas).create('q2', {
      metadata: { name: 'q' },
      spec: {
        hard: {
          services: '9',
          'services.nodeports': '9',
          'services.loadbalancers': '9',
          persistentvolumeclaims: '9',
          'requests.storage': '100Gi',
          'fast.storageclass.storage.k8s.io/requests.storage': '10Gi',
          'fast.storageclass.storage.k8s.io/persistentvolumeclaims': '2',
        },
      },
    });
    const ports = [{ name: 'a', port: 80 }, { name: 'b', port: 81 }];
    await c.resource(R.services).create('q2', { metadata: { name: 'cluster' }, spec: { ports } });
    await c.resource(R.services).create('q2', { metadata: { name: 'np' }, spec: { type: 'NodePort', ports } });
    await c.resource(R.services).create('q2', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [{ port: 443 }] } });
    const claim = (name: string, storage: string, storageClassName?: string) =>
      c.resource(R.persistentvolumeclaims).create('q2', { metadata: { name }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage } }, ...(storageClassName ? { storageClassName } : {}) } });
    await claim('slow', '5Gi', 'slow');
    await claim('fast', '1Gi', 'fast');
    await usedBecomes('q2', {
      services: '3',
      'services.nodeports': '3',
      'services.loadbalancers': '1',
      persistentvolumeclaims: '2',
      'requests.storage': '6Gi',
      'fast.storageclass.storage.k8s.io/requests.storage': '1Gi',
      'fast.storageclass.storage.k8s.io/persistentvolumeclaims': '1',
    });
    await c.resource(R.services).delete('q2', 'lb');
    await c.resource(R.persistentvolumeclaims).patch('q2', 'fast', 'merge', { metadata: { finalizers: null } });
    await c.resource(R.persistentvolumeclaims).delete('q2', 'fast');
    await usedBecomes('q2', {
      services: '2',
      'services.nodeports': '2',
      'services.loadbalancers': '0',
      persistentvolumeclaims: '1',
      'requests.storage': '5Gi',
      'fast.storageclass.storage.k8s.io/requests.storage': '0',
      'fast.storageclass.storage.k8s.io/persistentvolumeclaims': '0',
    });
  });

  test('scopes narrow the pods counted', async () => {
    const c = cp.client;
    await c.resource(R.resourcequotas).create('q3', { metadata: { name: 'besteffort' }, spec: { hard: { pods: '5' }, scopes: ['BestEffort'] } });
    await c.resource(R.resourcequotas).create('q3', { metadata: { name: 'terminating' }, spec: { hard: { pods: '5', 'requests.cpu': '2' }, scopes: ['Terminating'] } });
    await pod('q3', 'be', {});
    await pod('q3', 'burstable', { requests: { cpu: '100m' } });
    await pod('q3', 'job', { requests: { cpu: '200m' } }, { activeDeadlineSeconds: 60, restartPolicy: 'Never' });
    await usedBecomes('q3', { pods: '1' }, 'besteffort');
    await usedBecomes('q3', { pods: '1', 'requests.cpu': '200m' }, 'terminating');
  });

  test('count/<resource>.<group> for a resource known only through discovery', async () => {
    const c = cp.client;
    await c.resource(R.resourcequotas).create('q4', { metadata: { name: 'q' }, spec: { hard: { 'count/roles.rbac.authorization.k8s.io': '4', resourcequotas: '2' } } });
    await usedBecomes('q4', { 'count/roles.rbac.authorization.k8s.io': '0', resourcequotas: '1' });
    await c.request('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/q4/roles', { body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'r' }, rules: [] } });
    await usedBecomes('q4', { 'count/roles.rbac.authorization.k8s.io': '1', resourcequotas: '1' });
  });

  test('pod requests as upstream: init containers raise the floor, sidecars add, overhead adds', () => {
    const p: KubeObject = {
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'a', resources: { requests: { cpu: '100m' }, limits: { memory: '1Gi' } } }],
        initContainers: [
          { name: 'setup', resources: { requests: { cpu: '500m' } } },
          { name: 'sidecar', restartPolicy: 'Always', resources: { requests: { cpu: '50m' } } },
        ],
        overhead: { cpu: '10m', memory: '64Mi' },
      },
    };
    const str = (m: Map<string, { toString(): string }>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));
    assert.deepEqual(str(podResources(p, 'requests')), { cpu: '510m', memory: '64Mi' });
    assert.deepEqual(str(podResources(p, 'limits')), { memory: '1088Mi' });
  });
});
