// The stats summary of a real pod: a busybox container on a real containerd, in a pod cgroup
// made by CgroupManager, with a volume directory holding data.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { CgroupManager } from '../cm/cgroup-manager.js';
import { startTestContainerd, type TestContainerd } from '../cri/testing.js';
import { CpuRateTracker } from './cpu-rates.js';
import { buildSummary, cpuAndMemoryOnly, DiskUsageCache, StatsProvider } from './summary.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stats summary on containerd', { timeout: 180_000 }, () => {
  let t: TestContainerd;
  let cg: CgroupManager;
  let pod: KubeObject;
  let sandboxId: string;

  before(async () => {
    t = await startTestContainerd();
    cg = new CgroupManager({ root: t.cgroupParent });
    const config = t.sandboxConfig('stats');
    const uid = config.metadata.uid;
    pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stats', namespace: 'default', uid },
      spec: { containers: [{ name: 'work', resources: { requests: { cpu: '100m', memory: '32Mi' } } }], volumes: [{ name: 'data', emptyDir: {} }] },
      status: { startTime: '2026-01-01T00:00:00Z' },
    };
    config.linux!.cgroup_parent = await cg.ensurePod(pod);
    sandboxId = await t.runtime.runPodSandbox(config);
    // A bounded burst of CPU, some memory held in a shell variable, then idle.
    const cid = await t.runtime.createContainer(
      sandboxId,
      {
        metadata: { name: 'work', attempt: 0 },
        image: { image: t.images.busybox },
        command: ['sh', '-c', 'echo started; i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; x=$(head -c 2000000 /dev/zero | tr "\\0" a); sleep 1000'],
        log_path: 'work/0.log',
        linux: { resources: cg.containerResources(pod, pod.spec.containers[0]) },
      },
      config,
    );
    await t.runtime.startContainer(cid);
    const vol = join(t.paths.podDir(uid), 'volumes', 'kubernetes.io~empty-dir', 'data');
    mkdirSync(vol, { recursive: true });
    writeFileSync(join(vol, 'blob'), Buffer.alloc(256 * 1024, 1));
  });

  after(async () => {
    await t?.stop();
    await cg?.removeRoot().catch(() => undefined);
  });

  it('reports node, pod, container, network, volume and ephemeral storage figures', async () => {
    const rates = new CpuRateTracker();
    const opts = {
      nodeName: 'node-1',
      runtime: t.runtime,
      pods: [pod],
      cgroups: cg,
      paths: t.paths,
      sandboxes: new Map([[pod.metadata.uid!, { id: sandboxId }]]),
      rootfsPath: t.paths.agentDir,
      rates,
      diskUsageCache: new DiskUsageCache(),
      systemProcesses: { runtime: t.containerd.pid },
    };
    const first = await buildSummary(opts);
    assert.equal(first.node.cpu?.usageNanoCores, undefined, 'no rate from a single sample');
    await sleep(1500);
    const s = await buildSummary(opts);

    const n = s.node;
    assert.equal(n.nodeName, 'node-1');
    assert.match(n.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(n.cpu!.usageCoreNanoSeconds! > 0 && n.cpu!.usageNanoCores! >= 0);
    assert.ok(n.memory!.usageBytes! > 0 && n.memory!.workingSetBytes! > 0 && n.memory!.availableBytes! > 0);
    assert.ok(n.fs!.capacityBytes! > 0 && n.fs!.availableBytes! > 0 && n.fs!.inodes! > 0);
    assert.ok(n.runtime?.imageFs?.usedBytes !== undefined && n.runtime.imageFs.capacityBytes! > 0, 'image fs from the CRI and statfs');
    assert.ok(n.rlimit!.maxpid! > 0 && n.rlimit!.curproc! > 0);
    assert.deepEqual(n.systemContainers?.map((c) => c.name), ['pods', 'kubelet', 'runtime']);
    const runtimeSc = n.systemContainers!.find((c) => c.name === 'runtime')!;
    assert.ok(runtimeSc.memory!.rssBytes! > 0 && runtimeSc.cpu!.usageCoreNanoSeconds! > 0, 'containerd process figures');

    assert.equal(s.pods.length, 1);
    const p = s.pods[0];
    assert.deepEqual(p.podRef, { name: 'stats', namespace: 'default', uid: pod.metadata.uid });
    assert.equal(p.startTime, '2026-01-01T00:00:00Z');
    assert.ok(p.cpu!.usageCoreNanoSeconds! > 0, 'pod cgroup cpu');
    assert.ok(p.cpu!.usageNanoCores !== undefined, 'pod cpu rate from two samples');
    assert.ok(p.memory!.usageBytes! > 0 && p.memory!.workingSetBytes! > 0);
    assert.ok(p.process_stats!.process_count! >= 1);
    assert.ok(p.network?.interfaces?.some((i) => i.name === 'eth0'), 'eth0 inside the pod netns');
    assert.equal(p.network!.name, 'eth0');

    assert.equal(p.containers.length, 1);
    const c = p.containers[0];
    assert.equal(c.name, 'work');
    assert.ok(c.cpu!.usageCoreNanoSeconds! > 0);
    assert.ok(c.memory!.workingSetBytes! > 0);
    assert.ok(c.rootfs && c.rootfs.usedBytes !== undefined);
    assert.ok(c.logs!.usedBytes! > 0, 'the container wrote a log line');

    const vol = p.volume!.find((v) => v.name === 'data')!;
    assert.ok(vol.usedBytes! >= 256 * 1024 && vol.capacityBytes! > 0);
    assert.ok(p['ephemeral-storage']!.usedBytes! >= vol.usedBytes! + c.logs!.usedBytes!);

    const small = cpuAndMemoryOnly(s);
    assert.deepEqual(Object.keys(small.node).sort(), ['cpu', 'memory', 'nodeName', 'startTime', 'systemContainers']);
    assert.deepEqual(Object.keys(small.pods[0]).sort(), ['containers', 'cpu', 'memory', 'podRef', 'startTime']);
    assert.deepEqual(Object.keys(small.pods[0].containers[0]).sort(), ['cpu', 'memory', 'name', 'startTime']);
  });

  it('StatsProvider samples in the background and serves the latest', async () => {
    const provider = new StatsProvider({
      nodeName: 'node-1',
      runtime: t.runtime,
      cgroups: cg,
      paths: t.paths,
      rootfsPath: t.paths.agentDir,
      pods: () => [pod],
      sandboxes: () => new Map([[pod.metadata.uid!, { id: sandboxId }]]),
      intervalMs: 1100,
    });
    const ac = new AbortController();
    provider.start(ac.signal);
    try {
      const deadline = Date.now() + 10_000;
      while (provider.latest()?.node.cpu?.usageNanoCores === undefined && Date.now() < deadline) await sleep(200);
      assert.ok(provider.latest()?.node.cpu?.usageNanoCores !== undefined);
      assert.ok((await provider.summary()).pods[0].cpu?.usageNanoCores !== undefined);
    } finally {
      ac.abort();
    }
  });
});
