import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resourceMetricsText, StatsSummaryProvider } from './stats-summary.js';

test('Summary: node from /proc, pods from sandboxes, CPU rates from two samples', async () => {
  const proc = mkdtempSync(join(tmpdir(), 'k8ts-proc-'));
  try {
    let busyJiffies = 1000;
    const writeProc = () => {
      writeFileSync(join(proc, 'stat'), `cpu  ${busyJiffies} 0 0 5000 100 0 0 0 0 0\ncpu0 1 2 3 4\n`);
      writeFileSync(join(proc, 'meminfo'), 'MemTotal: 1000 kB\nMemFree: 400 kB\nMemAvailable: 700 kB\nInactive(file): 100 kB\n');
    };
    writeProc();
    let clock = Date.parse('2026-01-02T03:04:05Z');
    let usage = 1_000_000_000n;
    const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
    const runtime = {
      listPodSandbox: async () => [{ id: 's1', metadata: { name: 'web', namespace: 'default', uid: 'u1', attempt: 0 }, created_at: ns(clock - 60_000) }],
      listContainers: async () => [{ id: 'c1', pod_sandbox_id: 's1', metadata: { name: 'app', attempt: 0 }, created_at: ns(clock - 50_000) }],
      listContainerStats: async () => [
        {
          attributes: { id: 'c1' },
          cpu: { timestamp: ns(clock), usage_core_nano_seconds: { value: String(usage) } },
          memory: { timestamp: ns(clock), working_set_bytes: { value: '2048' }, usage_bytes: { value: '4096' } },
        },
      ],
    };
    const p = new StatsSummaryProvider({ runtime: runtime as never, nodeName: 'n1', startTime: new Date(clock - 100_000), procRoot: proc, now: () => new Date(clock) });
    const first = await p.summary();
    assert.equal(first.node.memory?.usageBytes, 600 * 1024);
    assert.equal(first.node.memory?.workingSetBytes, 500 * 1024);
    assert.equal(first.node.memory?.availableBytes, 700 * 1024);
    assert.equal(first.node.cpu?.usageCoreNanoSeconds, 1000 * 10_000_000);
    assert.equal(first.node.cpu?.usageNanoCores, undefined);
    assert.deepEqual(first.pods[0].podRef, { name: 'web', namespace: 'default', uid: 'u1' });
    assert.equal(first.pods[0].containers[0].memory?.workingSetBytes, 2048);
    assert.equal(first.pods[0].memory?.workingSetBytes, 2048);

    // One second later: half a core used by the container, two cores by the node.
    clock += 1000;
    usage += 500_000_000n;
    busyJiffies += 200;
    writeProc();
    const second = await p.summary();
    assert.equal(second.pods[0].containers[0].cpu?.usageNanoCores, 500_000_000);
    assert.equal(second.pods[0].cpu?.usageNanoCores, 500_000_000);
    assert.equal(second.node.cpu?.usageNanoCores, 2_000_000_000);

    const text = resourceMetricsText(second);
    assert.match(text, /^container_cpu_usage_seconds_total\{container="app",namespace="default",pod="web"\} 1\.5 \d+$/m);
    assert.match(text, /^container_memory_working_set_bytes\{container="app",namespace="default",pod="web"\} 2048 \d+$/m);
    assert.match(text, /^node_memory_working_set_bytes 512000 \d+$/m);
    assert.match(text, /^# TYPE pod_cpu_usage_seconds_total counter$/m);
    assert.match(text, /^scrape_error 0$/m);
  } finally {
    rmSync(proc, { recursive: true, force: true });
  }
});
