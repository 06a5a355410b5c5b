import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goFloat, resourceMetrics } from './resource-metrics.js';
import type { Summary } from './types.js';

test('numbers as Go writes them', () => {
  assert.equal(goFloat(0), '0');
  assert.equal(goFloat(8.23), '8.23');
  assert.equal(goFloat(123456), '123456');
  assert.equal(goFloat(12_000_000), '1.2e+07');
  assert.equal(goFloat(1234567), '1.234567e+06');
  assert.equal(goFloat(0.00001), '1e-05');
});

test('resource metrics from a summary, upstream names, sorted, with sample timestamps', () => {
  const t = '2026-01-01T00:00:10Z';
  const ms = Date.parse(t);
  const s: Summary = {
    node: { nodeName: 'n', startTime: t, cpu: { time: t, usageCoreNanoSeconds: 2_500_000_000 }, memory: { time: t, workingSetBytes: 12_000_000 } },
    pods: [
      {
        podRef: { name: 'web', namespace: 'default', uid: 'u' },
        startTime: t,
        cpu: { time: t, usageCoreNanoSeconds: 1e9 },
        memory: { time: t, workingSetBytes: 1000 },
        containers: [{ name: 'app', startTime: '2026-01-01T00:00:00Z', cpu: { time: t, usageCoreNanoSeconds: 5e8 }, memory: { time: t, workingSetBytes: 900 } }],
      },
    ],
  };
  assert.equal(
    resourceMetrics(s),
    [
      '# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds',
      '# TYPE container_cpu_usage_seconds_total counter',
      `container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 0.5 ${ms}`,
      '# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes',
      '# TYPE container_memory_working_set_bytes gauge',
      `container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 900 ${ms}`,
      '# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds',
      '# TYPE container_start_time_seconds gauge',
      `container_start_time_seconds{container="app",namespace="default",pod="web"} 1.7672256e+09 ${ms - 10_000}`,
      '# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds',
      '# TYPE node_cpu_usage_seconds_total counter',
      `node_cpu_usage_seconds_total 2.5 ${ms}`,
      '# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes',
      '# TYPE node_memory_working_set_bytes gauge',
      `node_memory_working_set_bytes 1.2e+07 ${ms}`,
      '# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds',
      '# TYPE pod_cpu_usage_seconds_total counter',
      `pod_cpu_usage_seconds_total{namespace="default",pod="web"} 1 ${ms}`,
      '# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes',
      '# TYPE pod_memory_working_set_bytes gauge',
      `pod_memory_working_set_bytes{namespace="default",pod="web"} 1000 ${ms}`,
      '# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise',
      '# TYPE resource_scrape_error gauge',
      'resource_scrape_error 0',
      '',
    ].join('\n'),
  );
  assert.match(resourceMetrics(undefined), /^resource_scrape_error 1$/m);
});
