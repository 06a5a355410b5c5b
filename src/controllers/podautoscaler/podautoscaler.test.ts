import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta/v1.js';
import { after, before, describe, test } from 'node:test';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import type { MetricsSource, PodMetrics } from './metrics.js';
import { calculateReplicas, HorizontalPodAutoscalerController } from './podautoscaler.js';

const hpaGVR = R.horizontalpodautoscalers;

class TestMetrics implements MetricsSource {
  cpu = '200m';
  constructor(private readonly pods: () => string[]) {}
  async podMetrics(): Promise<PodMetrics[]> {
    return this.pods().map((name) => ({ metadata: { name }, containers: [{ name: 'app', usage: { cpu: this.cpu, memory: '10Mi' } }] }));
  }
}

describe('horizontal pod autoscaler', () => {
  let cp: ControlPlane;
  const metrics = new TestMetrics(() => ['web-a', 'web-b']);
  before(async () => {
    cp = await startControlPlane([new HorizontalPodAutoscalerController({ metrics, syncPeriodMs: 100 })]);
    await cp.client.resource(R.deployments).create('default', {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x', resources: { requests: { cpu: '100m' } } }] } },
      },
    });
    for (const name of ['web-a', 'web-b']) {
      await cp.client.resource(R.pods).create('default', { metadata: { name, labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'x', resources: { requests: { cpu: '100m' } } }] } });
      await cp.client.resource(R.pods).patch('default', name, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, { subresource: 'status' });
    }
  });
  after(() => cp.stop());

  const cond = (h: KubeObject, type: string) => (h.status?.conditions as { type: string; status: string; reason: string }[] | undefined)?.find((c) => c.type === type);

  test('scales up within the rate policy and maxReplicas, reporting the metric and conditions', async () => {
    await cp.client.resource(hpaGVR).create('default', {
      metadata: { name: 'web' },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        minReplicas: 2,
        maxReplicas: 5,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
      },
    });
    // 200% of request against a 50% target: 8 wanted, 5 allowed.
    const d = await eventually(async () => {
      const x = await cp.client.resource(R.deployments).get('default', 'web');
      return x.spec.replicas === 5 ? x : undefined;
    }, 'deployment scaled to 5');
    assert.equal(d.spec.replicas, 5);
    const h = await eventually(async () => {
      const x = await cp.client.resource(hpaGVR).get('default', 'web');
      return x.status?.currentReplicas === 5 ? x : undefined;
    }, 'hpa status');
    assert.equal(h.status.currentMetrics[0].resource.current.averageUtilization, 200);
    assert.equal(cond(h, 'ScalingActive')?.reason, 'ValidMetricFound');
    assert.equal(cond(h, 'ScalingLimited')?.reason, 'TooManyReplicas');
    const events = await cp.client.resource(R.events).list('default', { fieldSelector: 'involvedObject.name=web,reason=SuccessfulRescale' });
    assert.ok(events.items.some((e) => /^New size: \d; reason: cpu resource utilization \(percentage of request\) above target$/.test(e.message)), JSON.stringify(events.items.map((e) => e.message)));
  });

  test('scales down to minReplicas when usage drops', async () => {
    metrics.cpu = '10m';
    await eventually(async () => (await cp.client.resource(R.deployments).get('default', 'web')).spec.replicas === 2, 'deployment scaled to 2');
    const h = await eventually(async () => {
      const x = await cp.client.resource(hpaGVR).get('default', 'web');
      return cond(x, 'ScalingLimited')?.reason === 'TooFewReplicas' ? x : undefined;
    }, 'TooFewReplicas');
    assert.equal(h.status.desiredReplicas, 2);
  });

  test('the replica calculator: tolerance, missing metrics dampen scale-up', () => {
    const pod = (name: string, ready = true) => ({ metadata: { name }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } });
    const req = new Map([['a', 100], ['b', 100], ['c', 100]]);
    // 105% vs 100%: within tolerance.
    assert.equal(calculateReplicas(2, [pod('a'), pod('b')], new Map([['a', 105], ['b', 105]]), req, { utilization: 100 }).replicas, 2);
    // 200% on two pods, the third without metrics counts as 0 when scaling up: 400/300 → 4.
    assert.equal(calculateReplicas(3, [pod('a'), pod('b'), pod('c')], new Map([['a', 200], ['b', 200]]), req, { utilization: 100 }).replicas, 4);
  });
});

describe('horizontal pod autoscaler without a metrics API', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new HorizontalPodAutoscalerController({ syncPeriodMs: 100 })]);
  });
  after(() => cp.stop());

  test('ScalingActive=False with FailedGetResourceMetric', async () => {
    await cp.client.resource(R.deployments).create('default', {
      metadata: { name: 'api' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    });
    await cp.client.resource(hpaGVR).create('default', {
      metadata: { name: 'api' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] },
    });
    const h = await eventually(async () => {
      const x = await cp.client.resource(hpaGVR).get('default', 'api');
      return x.status?.conditions?.some((c: { type: string }) => c.type === 'ScalingActive') ? x : undefined;
    }, 'ScalingActive condition');
    const c = h.status.conditions.find((x: { type: string }) => x.type === 'ScalingActive');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'FailedGetResourceMetric');
    assert.match(c.message, /^the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: /);
    assert.equal((await cp.client.resource(R.deployments).get('default', 'api')).spec.replicas, 1);
  });
});
