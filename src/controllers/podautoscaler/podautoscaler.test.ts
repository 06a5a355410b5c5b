import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { eventually, startControlPlane, type ControlPlane } from '../../testing/control-plane-harness.js';
import { StaticMetricsSource } from './metrics.js';
import { HorizontalPodAutoscalerController } from './podautoscaler.js';
import { calculatePodRequests, podMetricsInfo, ReplicaCalculator } from './replica-calculator.js';

const hpaGVR = R.horizontalpodautoscalers;
type Cond = { type: string; status: string; reason: string; message: string };
const cond = (h: KubeObject, type: string) => (h.status?.conditions as Cond[] | undefined)?.find((c) => c.type === type);

describe('replica calculator', () => {
  const calc = new ReplicaCalculator();
  const now = Date.parse('2030-01-01T00:10:00Z');
  const pod = (name: string, opts: { phase?: string; ready?: boolean; requests?: Record<string, string> } = {}): KubeObject => ({
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'x', resources: { requests: opts.requests ?? { cpu: '100m', memory: '100Mi' } } }] },
    status: {
      phase: opts.phase ?? 'Running',
      startTime: '2030-01-01T00:00:00Z',
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True', lastTransitionTime: '2030-01-01T00:00:05Z' }],
    },
  });
  const usage = (m: Record<string, string>, resource = 'cpu') =>
    podMetricsInfo(
      Object.entries(m).map(([p, v]) => ({ pod: p, timestamp: '2030-01-01T00:09:30Z', window: '30s', containers: [{ name: 'app', usage: { [resource]: v } }] })),
      resource,
    );

  test('ratio over ready pods, rounded up; within 10% keeps the count', () => {
    assert.equal(calc.resourceReplicas(2, 50, 'cpu', [pod('a'), pod('b')], usage({ a: '200m', b: '200m' }), '', now).replicas, 8);
    assert.equal(calc.resourceReplicas(2, 100, 'cpu', [pod('a'), pod('b')], usage({ a: '105m', b: '108m' }), '', now).replicas, 2);
    const r = calc.resourceReplicas(4, 100, 'cpu', [pod('a'), pod('b')], usage({ a: '30m', b: '20m' }), '', now);
    assert.deepEqual(r, { replicas: 1, utilization: 25, rawUtilization: 25 });
  });

  test('pods without metrics count as 0% on a scale up and 100% of request on a scale down', () => {
    const pods = [pod('a'), pod('b'), pod('c')];
    // 200% on two, c at 0%: 400/300 → 133% → ceil(1.33 × 3) = 4 (not 4 from the two alone but 3 pods considered).
    assert.equal(calc.resourceReplicas(3, 100, 'cpu', pods, usage({ a: '200m', b: '200m' }), '', now).replicas, 4);
    // 10% on two, c at 100%: 120/300 → 40% → ceil(0.4 × 3) = 2 (the two alone would say 1).
    assert.equal(calc.resourceReplicas(3, 100, 'cpu', pods, usage({ a: '10m', b: '10m' }), '', now).replicas, 2);
    // 20% on two against 50%: with c at 100% the ratio is 0.92, within tolerance: no change.
    assert.equal(calc.resourceReplicas(3, 50, 'cpu', pods, usage({ a: '20m', b: '20m' }), '', now).replicas, 3);
  });

  test('unready and pending pods count as 0% on a scale up and are ignored otherwise', () => {
    const pods = [pod('a'), pod('b'), pod('p', { phase: 'Pending' })];
    assert.equal(calc.resourceReplicas(3, 100, 'cpu', pods, usage({ a: '200m', b: '200m' }), '', now).replicas, 4);
    assert.equal(calc.resourceReplicas(3, 100, 'cpu', pods, usage({ a: '10m', b: '10m' }), '', now).replicas, 1);
    // Never ready since start (transition within the readiness delay): its sample is ignored and it
    // counts as 0% on the scale up: 300/200 → ceil(1.5 × 2) = 3 (its 900m would have made it 12).
    const unready = [pod('a'), pod('u', { ready: false })];
    assert.equal(calc.resourceReplicas(2, 100, 'cpu', unready, usage({ a: '300m', u: '900m' }), '', now).replicas, 3);
    // Readiness is not considered for memory: (100Mi + 300Mi) / 200Mi → 4.
    assert.equal(calc.resourceReplicas(2, 100, 'memory', unready, usage({ a: '100Mi', u: '300Mi' }, 'memory'), '', now).replicas, 4);
  });

  test('average value targets; errors upstream reports', () => {
    assert.deepEqual(calc.rawResourceReplicas(2, 100, 'cpu', [pod('a'), pod('b')], usage({ a: '300m', b: '300m' }), now), { replicas: 6, usage: 300 });
    assert.throws(() => calc.resourceReplicas(1, 50, 'cpu', [], usage({}), '', now), /^Error: no pods returned by selector while calculating replica count$/);
    assert.throws(() => calculatePodRequests([pod('a', { requests: {} })], '', 'cpu'), /^Error: missing request for cpu in container app of Pod a$/);
    assert.throws(() => calc.resourceReplicas(1, 50, 'cpu', [pod('p', { phase: 'Pending' })], usage({ p: '1' }), '', now), /did not receive metrics for targeted pods \(pods might be unready\)/);
  });
});

describe('horizontal pod autoscaler', () => {
  let cp: ControlPlane;
  // A fake clock for the stabilization windows and rate policies; it only moves when a test moves it.
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const now = () => new Date(clock);
  const metrics = new StaticMetricsSource(now);
  before(async () => {
    cp = await startControlPlane([new HorizontalPodAutoscalerController({ metrics, syncPeriodMs: 40 })], { now });
  });
  after(() => cp.stop());

  const deployments = () => cp.client.resource(R.deployments);
  const hpas = () => cp.client.resource(hpaGVR);
  const replicas = async (name: string) => (await deployments().get('default', name)).spec.replicas as number;

  /** A Deployment with `pods` running, ready pods (no controllers run here) each using `cpu` of a 100m request. */
  async function workload(name: string, specReplicas: number, pods: number, cpu: string) {
    const labels = { app: name };
    const container = { name: 'app', image: 'x', resources: { requests: { cpu: '100m' } } };
    await deployments().create('default', { metadata: { name }, spec: { replicas: specReplicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container] } } } });
    for (let i = 0; i < pods; i++) {
      const pn = `${name}-${i}`;
      await cp.client.resource(R.pods).create('default', { metadata: { name: pn, labels }, spec: { containers: [container] } });
      await cp.client.resource(R.pods).patch(
        'default',
        pn,
        'merge',
        { status: { phase: 'Running', startTime: new Date(clock - 600_000).toISOString(), conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(clock - 590_000).toISOString() }] } },
        { subresource: 'status' },
      );
      metrics.set('default', pn, labels, { cpu, memory: '10Mi' });
    }
  }
  const setCpu = (name: string, pods: number, cpu: string) => {
    for (let i = 0; i < pods; i++) metrics.set('default', `${name}-${i}`, { app: name }, { cpu });
  };
  const hpa = (name: string, spec: Record<string, unknown>) =>
    hpas().create('default', {
      metadata: { name },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }], ...spec },
    });
  const hpaWhere = (name: string, what: string, f: (h: KubeObject) => boolean) =>
    eventually(async () => {
      const h = await hpas().get('default', name);
      return f(h) ? h : undefined;
    }, what);
  const eventMessages = async (name: string, reason: string) =>
    (await cp.client.resource(R.events).list('default', { fieldSelector: `involvedObject.name=${name},reason=${reason}` })).items.map((e) => e.message as string);

  test('scales a Deployment up through its scale subresource, at most doubling per step, up to maxReplicas', async () => {
    // Two pods at 200% of request against a 50% target: 8 wanted. Without `behavior` upstream
    // allows max(2 × current, 4) per step: 2 → 4 → 6 (maxReplicas).
    await workload('web', 2, 2, '200m');
    await hpa('web', { minReplicas: 1, maxReplicas: 6 });
    const h = await hpaWhere('web', 'web at maxReplicas', (x) => x.status?.currentReplicas === 6 && cond(x, 'ScalingLimited')?.reason === 'TooManyReplicas');
    assert.equal(await replicas('web'), 6);
    assert.equal(h.status.desiredReplicas, 6);
    assert.ok(h.status.lastScaleTime);
    assert.deepEqual(h.status.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 200, averageValue: '200m' } } }]);
    assert.deepEqual(
      { ...cond(h, 'ScalingActive'), lastTransitionTime: undefined },
      { type: 'ScalingActive', status: 'True', reason: 'ValidMetricFound', message: 'the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)', lastTransitionTime: undefined },
    );
    assert.equal(cond(h, 'ScalingLimited')?.status, 'True');
    assert.equal(cond(h, 'ScalingLimited')?.message, 'the desired replica count is more than the maximum replica count');
    assert.equal(cond(h, 'AbleToScale')?.status, 'True');
    const events = await eventMessages('web', 'SuccessfulRescale');
    assert.ok(events.includes('New size: 4; reason: cpu resource utilization (percentage of request) above target'), JSON.stringify(events));
    assert.ok(events.includes('New size: 6; reason: cpu resource utilization (percentage of request) above target'), JSON.stringify(events));
    assert.ok(!events.some((m) => m.startsWith('New size: 8')), JSON.stringify(events));
  });

  test('scale down waits out the stabilization window, then stops at minReplicas', async () => {
    await workload('api', 4, 4, '100m');
    await hpa('api', { minReplicas: 2, maxReplicas: 8, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } });
    // 200% at first: 4 → 8 (default scale-up policies allow +4 or +100% per 15 s).
    await hpaWhere('api', 'api scaled up', (x) => x.status?.currentReplicas === 8);
    // Usage drops to 10%: 1 replica recommended, but the 8 recommended in the last 60 s hold it.
    setCpu('api', 4, '10m');
    const held = await hpaWhere('api', 'scale down stabilized', (x) => cond(x, 'AbleToScale')?.reason === 'ScaleDownStabilized');
    assert.equal(cond(held, 'AbleToScale')?.message, 'recent recommendations were higher than current one, applying the highest recent recommendation');
    assert.equal(await replicas('api'), 8);
    const before = metrics.calls;
    await eventually(() => metrics.calls > before + 8, 'several more syncs');
    assert.equal(await replicas('api'), 8);
    // Past the window: down to minReplicas, reported as TooFewReplicas.
    clock += 61_000;
    const h = await hpaWhere('api', 'api at minReplicas', (x) => x.status?.currentReplicas === 2 && cond(x, 'ScalingLimited')?.reason === 'TooFewReplicas');
    assert.equal(await replicas('api'), 2);
    assert.equal(cond(h, 'ScalingLimited')?.status, 'True');
    assert.equal(cond(h, 'ScalingLimited')?.message, 'the desired replica count is less than the minimum replica count');
    assert.ok((await eventMessages('api', 'SuccessfulRescale')).includes('New size: 2; reason: All metrics below target'));
  });

  test('scale-up policies limit the rate per period', async () => {
    await workload('rate', 1, 1, '150m');
    await hpa('rate', {
      minReplicas: 1,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'AverageValue', averageValue: '50m' } } }],
      behavior: { scaleUp: { policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    });
    // 150m against 50m: 3 wanted, one pod per minute allowed.
    const h = await hpaWhere('rate', 'first step', (x) => x.status?.currentReplicas === 2 && cond(x, 'ScalingLimited')?.reason === 'ScaleUpLimit');
    assert.equal(h.status.desiredReplicas, 2);
    assert.equal(cond(h, 'ScalingLimited')?.message, 'the desired replica count is increasing faster than the maximum scale rate');
    assert.deepEqual(h.status.currentMetrics, [{ type: 'Resource', resource: { name: 'cpu', current: { averageValue: '150m' } } }]);
    const before = metrics.calls;
    await eventually(() => metrics.calls > before + 8, 'several more syncs');
    assert.equal(await replicas('rate'), 2);
    clock += 61_000;
    await hpaWhere('rate', 'second step', (x) => x.status?.currentReplicas === 3 && cond(x, 'ScalingLimited')?.reason === 'DesiredWithinRange');
    assert.equal(await replicas('rate'), 3);
  });

  test('Pods metrics have no source: ScalingActive False, no scaling', async () => {
    await workload('custom', 2, 2, '100m');
    await hpa('custom', { maxReplicas: 5, metrics: [{ type: 'Pods', pods: { metric: { name: 'http_requests' }, target: { type: 'AverageValue', averageValue: '10' } } }] });
    const h = await hpaWhere('custom', 'ScalingActive False', (x) => cond(x, 'ScalingActive')?.status === 'False');
    assert.equal(cond(h, 'ScalingActive')?.reason, 'FailedGetPodsMetric');
    assert.equal(
      cond(h, 'ScalingActive')?.message,
      'the HPA was unable to compute the replica count: unable to get metric http_requests: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered',
    );
    assert.equal(await replicas('custom'), 2);
  });
});

describe('horizontal pod autoscaler without a metrics API', () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane([new HorizontalPodAutoscalerController({ syncPeriodMs: 100 })]);
  });
  after(() => cp.stop());

  test('ScalingActive=False with FailedGetResourceMetric, an event, and no scaling', async () => {
    const labels = { app: 'api' };
    await cp.client.resource(R.deployments).create('default', {
      metadata: { name: 'api' },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
    });
    await cp.client.resource(R.pods).create('default', { metadata: { name: 'api-0', labels }, spec: { containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '100m' } } }] } });
    await cp.client.resource(hpaGVR).create('default', {
      metadata: { name: 'api' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }, maxReplicas: 3, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }] },
    });
    const h = await eventually(async () => {
      const x = await cp.client.resource(hpaGVR).get('default', 'api');
      return cond(x, 'ScalingActive') ? x : undefined;
    }, 'ScalingActive condition');
    const detail = 'failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)';
    assert.deepEqual(
      { ...cond(h, 'ScalingActive'), lastTransitionTime: undefined },
      { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric', message: `the HPA was unable to compute the replica count: ${detail}`, lastTransitionTime: undefined },
    );
    assert.equal(cond(h, 'AbleToScale')?.reason, 'SucceededGetScale');
    assert.equal(h.status.currentReplicas, 1);
    // As upstream: the failed metric's slot is an empty MetricStatus (kubectl shows <unknown>).
    assert.deepEqual(h.status.currentMetrics, [{ type: '' }]);
    const events = await eventually(async () => {
      const l = await cp.client.resource(R.events).list('default', { fieldSelector: 'involvedObject.name=api' });
      const byReason = (r: string) => l.items.filter((e) => e.reason === r).map((e) => e.message);
      return byReason('FailedComputeMetricsReplicas').length ? { metric: byReason('FailedGetResourceMetric'), compute: byReason('FailedComputeMetricsReplicas') } : undefined;
    }, 'events');
    assert.deepEqual(events.metric, [detail]);
    assert.deepEqual(events.compute, [`invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: ${detail}`]);
    assert.equal((await cp.client.resource(R.deployments).get('default', 'api')).spec.replicas, 1);
  });

  test('a target that does not exist: AbleToScale False with FailedGetScale', async () => {
    await cp.client.resource(hpaGVR).create('default', {
      metadata: { name: 'ghost' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost' }, maxReplicas: 3 },
    });
    const h = await eventually(async () => {
      const x = await cp.client.resource(hpaGVR).get('default', 'ghost');
      return cond(x, 'AbleToScale') ? x : undefined;
    }, 'AbleToScale condition');
    assert.equal(cond(h, 'AbleToScale')?.status, 'False');
    assert.equal(cond(h, 'AbleToScale')?.reason, 'FailedGetScale');
    assert.match(cond(h, 'AbleToScale')!.message, /^the HPA controller was unable to get the target's current scale: .*"ghost" not found$/);
  });
});
