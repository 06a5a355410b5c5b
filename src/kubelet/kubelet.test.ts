// The node agent's own logic on the simulated runtime and a real in-process API server: pod
// phases and conditions, restart policies with back-off, graceful deletion, adoption after a
// restart, and the node going NotReady when the runtime is down. (The same code on containerd
// is exercised by e2e/node.test.ts.)

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../api/meta/v1.js';
import { EventRecorder } from '../client/events.js';
import { R } from '../client/resources.js';
import { startTestApi, type TestApi } from '../testing/api-harness.js';
import { eventually } from '../testing/control-plane-harness.js';
import { Kubelet } from './kubelet.js';
import { NodeStatusManager } from './node/node-status.js';
import { KubeletPaths } from './paths.js';
import { RestartBackoff } from './pods/backoff.js';
import { RuntimeState } from './pods/runtime-state.js';
import { SimulatedRuntime } from './simulated/simulated-runtime.js';

const quiet = { info() {}, warn() {}, debug() {}, error() {} };
const NODE = 'sim-kubelet';

/** Polls until the condition holds (the shared test poller, with a 15 s default here). */
const until = <T>(fn: () => Promise<T | undefined | false>, what: string, ms = 15_000) => eventually(fn, what, ms) as Promise<T>;

describe('kubelet on the simulated runtime', () => {
  let api: TestApi;
  let runtime: SimulatedRuntime;
  let kubelet: Kubelet;
  let nodeStatus: NodeStatusManager;
  const ac = new AbortController();
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-kubelet-'));
  const IMAGE = 'docker.io/k8ts/busybox:1.35';

  const start = async (rt: SimulatedRuntime, signal = ac.signal) => {
    const client = api.client('kubelet');
    const state = new RuntimeState(rt);
    const recorder = new EventRecorder(client, 'kubelet', NODE);
    const probes = { updatePod() {}, removePod() {}, isReady: () => true, isStarted: () => true };
    const k = new Kubelet({
      client,
      nodeName: NODE,
      nodeIP: () => '127.0.0.1',
      recorder,
      state,
      log: quiet,
      probes,
      refreshVolumes: async () => {},
      terminationMessage: () => undefined,
      qosClass: () => 'BestEffort',
      relistMs: 100,
      backoff: new RestartBackoff(300, 2_000),
      sync: {
        runtime: rt,
        state,
        paths: new KubeletPaths(dir),
        dns: { clusterDNS: [], clusterDomain: 'cluster.local', resolvConf: '/etc/resolv.conf' },
        recorder,
        log: quiet,
        ensureImage: async (_pod, c) => (await rt.imageStatus({ image: c.image }))?.id ?? (await rt.pullImage({ image: c.image })),
        setUpVolumes: async () => {},
        containerMounts: async () => [],
        tearDownVolumes: async () => {},
        environment: async (_pod, c) => (c.env ?? []).map((e: { name: string; value: string }) => ({ key: e.name, value: e.value })),
        expand: (list) => list ?? [],
        ensurePodCgroup: async () => undefined,
        removePodCgroup: async () => {},
        containerResources: () => undefined,
        runHook: async () => undefined,
        takeKillRequest: () => undefined,
      },
    });
    void k.run(signal);
    return k;
  };

  before(async () => {
    api = await startTestApi();
    runtime = new SimulatedRuntime();
    nodeStatus = new NodeStatusManager({ client: api.client('kubelet'), runtime, nodeName: NODE, nodeIP: '127.0.0.1', kubeletPort: 10250, rootDir: dir, log: quiet });
    await nodeStatus.register();
    kubelet = await start(runtime);
  });
  after(async () => {
    ac.abort();
    runtime.close();
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const pods = () => api.client('test').resource(R.pods);
  const create = (name: string, spec: Record<string, unknown>) =>
    pods().create('default', { metadata: { name }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, ...spec } } as KubeObject);
  const get = (name: string) => pods().get('default', name);

  it('runs a pod: Running, conditions True, a pod IP, containerd-style container IDs', async () => {
    await create('plain', { containers: [{ name: 'c', image: IMAGE }] });
    const p = await until(async () => ((await get('plain')).status?.phase === 'Running' ? get('plain') : undefined), 'Running');
    const conds = Object.fromEntries(p.status!.conditions.map((c: any) => [c.type, c.status]));
    assert.deepEqual(conds, { PodReadyToStartContainers: 'True', Initialized: 'True', Ready: 'True', ContainersReady: 'True' });
    assert.match(p.status!.podIP, /^10\.244\.0\.\d+$/);
    assert.equal(p.status!.hostIP, '127.0.0.1');
    assert.match(p.status!.containerStatuses[0].containerID, /^containerd:\/\/[0-9a-f]{64}$/);
    assert.equal(p.status!.qosClass, 'BestEffort');
  });

  it('restartPolicy Always: a crashing container restarts with growing back-off and CrashLoopBackOff', async () => {
    await create('crash', { containers: [{ name: 'c', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '50' }, { name: 'SIM_EXIT_CODE', value: '2' }] }] });
    const seen = new Set<string>();
    const p = await until(async () => {
      const p = await get('crash');
      const cs = p.status?.containerStatuses?.[0];
      if (cs?.state?.waiting?.reason) seen.add(cs.state.waiting.reason);
      return cs?.restartCount >= 3 ? p : undefined;
    }, 'three restarts');
    assert.ok(seen.has('CrashLoopBackOff'), [...seen].join());
    assert.equal(p.status!.phase, 'Running');
    const last = p.status!.containerStatuses[0].lastState.terminated ?? p.status!.containerStatuses[0].state.terminated;
    assert.equal(last.exitCode, 2);
    // Only the newest exited instance is kept (for logs --previous), plus the running/new one.
    const instances = (await runtime.listContainers()).filter((c) => c.labels['io.kubernetes.pod.name'] === 'crash');
    assert.ok(instances.length <= 2, `${instances.length} instances kept`);
  });

  it('restartPolicy Never and OnFailure: Succeeded, Failed, or restarted until success', async () => {
    await create('ok', { restartPolicy: 'Never', containers: [{ name: 'c', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '50' }] }] });
    await create('fail', { restartPolicy: 'Never', containers: [{ name: 'c', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '50' }, { name: 'SIM_EXIT_CODE', value: '1' }] }] });
    await create('onfail', { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '50' }, { name: 'SIM_EXIT_CODE', value: '1' }] }] });
    await until(async () => (await get('ok')).status?.phase === 'Succeeded', 'Succeeded');
    const failed = await until(async () => ((await get('fail')).status?.phase === 'Failed' ? get('fail') : undefined), 'Failed');
    assert.equal(failed.status!.containerStatuses[0].state.terminated.reason, 'Error');
    const ready = failed.status!.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.reason, 'PodCompleted');
    await until(async () => (await get('onfail')).status?.containerStatuses?.[0]?.restartCount >= 1, 'an OnFailure restart');
    assert.equal((await get('onfail')).status!.phase, 'Running');
    // A finished pod gives back its sandbox (and its IP) but keeps its container for logs.
    await until(async () => {
      const sb = (await runtime.listPodSandbox()).filter((s) => s.metadata.name === 'ok');
      return sb.length === 1 && sb[0].state === 'SANDBOX_NOTREADY';
    }, 'the sandbox of a finished pod stopped');
  });

  it('init containers run in order before the containers; a failing one blocks them', async () => {
    await create('inits', {
      initContainers: [
        { name: 'i1', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '30' }] },
        { name: 'i2', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '30' }] },
      ],
      containers: [{ name: 'c', image: IMAGE }],
    });
    const p = await until(async () => ((await get('inits')).status?.phase === 'Running' ? get('inits') : undefined), 'Running');
    const init = p.status!.initContainerStatuses;
    assert.deepEqual(init.map((s: any) => [s.name, s.state.terminated?.reason]), [['i1', 'Completed'], ['i2', 'Completed']]);
    const started = (await runtime.listContainers()).filter((c) => c.labels['io.kubernetes.pod.name'] === 'inits').sort((a, b) => Number(BigInt(a.created_at) - BigInt(b.created_at)));
    assert.deepEqual(started.map((c) => c.metadata.name), ['i1', 'i2', 'c']);

    await create('initfail', { restartPolicy: 'Never', initContainers: [{ name: 'i', image: IMAGE, env: [{ name: 'SIM_EXIT_AFTER_MS', value: '30' }, { name: 'SIM_EXIT_CODE', value: '3' }] }], containers: [{ name: 'c', image: IMAGE }] });
    const f = await until(async () => ((await get('initfail')).status?.phase === 'Failed' ? get('initfail') : undefined), 'Failed');
    assert.equal(f.status!.initContainerStatuses[0].state.terminated.exitCode, 3);
    assert.equal(f.status!.conditions.find((c: any) => c.type === 'Initialized').status, 'False');
    assert.ok(!(await runtime.listContainers()).some((c) => c.labels['io.kubernetes.pod.name'] === 'initfail' && c.metadata.name === 'c'));
  });

  it('an image that cannot be pulled leaves the container waiting with ErrImagePull', async () => {
    runtime.missingImages.add('127.0.0.1:9/none:1');
    await create('noimage', {
      containers: [{ name: 'c', image: '127.0.0.1:9/none:1' }],
    });
    const w = await until(async () => (await get('noimage')).status?.containerStatuses?.[0]?.state?.waiting, 'waiting');
    await until(async () => (await get('noimage')).status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImagePull', `ErrImagePull (was ${JSON.stringify(w)})`);
    assert.equal((await get('noimage')).status!.phase, 'Pending');
  });

  it('deleting a pod stops its containers, removes the sandbox, then the pod object', async () => {
    const p = await get('plain');
    await pods().delete('default', 'plain');
    await until(async () => {
      try {
        await get('plain');
        return false;
      } catch {
        return true;
      }
    }, 'the pod object gone');
    const left = (await runtime.listPodSandbox()).filter((s) => s.metadata.uid === p.metadata.uid);
    assert.deepEqual(left, []);
  });

  it('a restarted agent adopts running containers without restarting them', async () => {
    await create('adopt', { containers: [{ name: 'c', image: IMAGE }] });
    const before = await until(async () => ((await get('adopt')).status?.phase === 'Running' ? get('adopt') : undefined), 'Running');
    const id = before.status!.containerStatuses[0].containerID;
    // A second agent over the same runtime (the first keeps running but that is harmless here:
    // both converge to the same state).
    const ac2 = new AbortController();
    await start(runtime, ac2.signal);
    await new Promise((r) => setTimeout(r, 500));
    const after_ = await get('adopt');
    assert.equal(after_.status!.containerStatuses[0].containerID, id);
    assert.equal(after_.status!.containerStatuses[0].restartCount, 0);
    ac2.abort();
  });

  it('the node goes NotReady while the runtime is down, and Ready again after', async () => {
    runtime.down = true;
    await nodeStatus.postStatus(true);
    const node = await api.client('test').resource(R.nodes).get(undefined, NODE);
    const ready = node.status!.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'KubeletNotReady');
    assert.match(ready.message, /^container runtime is down/);
    runtime.down = false;
    await nodeStatus.postStatus(true);
    const again = (await api.client('test').resource(R.nodes).get(undefined, NODE)).status!.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(again.status, 'True');
    assert.notEqual(again.lastTransitionTime, undefined);
  });
});
