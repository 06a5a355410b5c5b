// Node acceptance: `k8ts server` with its embedded node agent running real pods on containerd
// (runc, CNI bridge), driven by the real kubectl 1.32 and 1.27. Everything the agent made is
// removed by `k8ts down` when the suite ends.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { agentClusterFlags, canRunPods, type AgentClusterFlags } from '../testing/agent-cluster.js';
import { startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { eventually, kubectlOf } from './control-plane/harness.js';
import { lifecycle } from './node/lifecycle.js';
import { resilience } from './node/resilience.js';
import { storage } from './node/storage.js';
import { streaming } from './node/streaming.js';
import { staticPods } from './node/static-pods.js';
import { join_ } from './node/join.js';

const skip = canRunPods();

describe('node agent on containerd', { concurrency: false, skip }, () => {
  let srv: K8tsServer;
  let flags: AgentClusterFlags;
  const hostDir = mkdtempSync(join(tmpdir(), 'k8ts-hostpath-'));
  const manifestDir = mkdtempSync(join(tmpdir(), 'k8ts-manifests-'));
  const get = () => srv;
  before(async () => {
    flags = await agentClusterFlags();
    srv = await startK8ts({ agent: true, extraArgs: [...flags.args, '--pod-manifest-path', manifestDir] });
    const k = kubectlOf(get);
    await eventually(async () => (await k(['get', 'node', flags.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', 'the node to be Ready', 90_000);
  });
  after(async () => {
    await srv?.stop();
    rmSync(hostDir, { recursive: true, force: true });
    rmSync(manifestDir, { recursive: true, force: true });
  });

  it('registers the node with machine capacity, addresses, nodeInfo, conditions and a Lease', async () => {
    const k = kubectlOf(get);
    const node = JSON.parse(await k(['get', 'node', flags.nodeName, '-o', 'json']));
    assert.equal(node.status.capacity.pods, '110');
    assert.match(node.status.capacity.cpu, /^\d+$/);
    assert.match(node.status.capacity.memory, /^\d+Ki$/);
    assert.match(node.status.capacity['ephemeral-storage'], /^\d+Ki$/);
    assert.deepEqual(node.status.addresses, [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: flags.nodeName }]);
    assert.equal(node.status.daemonEndpoints.kubeletEndpoint.Port, flags.kubeletPort);
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/1\./);
    assert.match(node.status.nodeInfo.kubeletVersion, /^v1\.32\./);
    assert.equal(node.status.nodeInfo.operatingSystem, 'linux');
    const types = node.status.conditions.map((c: any) => `${c.type}=${c.status}`).sort();
    assert.deepEqual(types, ['DiskPressure=False', 'MemoryPressure=False', 'PIDPressure=False', 'Ready=True']);
    assert.equal(node.metadata.labels['kubernetes.io/hostname'], flags.nodeName);
    assert.match(node.spec.podCIDR, /^10\.\d+\.\d+\.0\/24$/);
    const lease = JSON.parse(await k(['get', 'lease', flags.nodeName, '-n', 'kube-node-lease', '-o', 'json']));
    assert.equal(lease.spec.holderIdentity, flags.nodeName);
    const ep = await k(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}']);
    assert.equal(ep, `127.0.0.1:${srv.port}`);
    // The proxy and DNS read EndpointSlices: the API server writes the `kubernetes` one itself.
    const slice = JSON.parse(await k(['get', 'endpointslice', 'kubernetes', '-o', 'json']));
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.deepEqual([slice.endpoints[0].addresses, slice.ports[0].port], [['127.0.0.1'], srv.port]);
    // The kubelet API answers the API server (nodes/proxy), not anonymous callers.
    assert.equal(await k(['get', '--raw', `/api/v1/nodes/${flags.nodeName}/proxy/healthz`]), 'ok');
  });

  it('serves the Summary API with node, pod and container figures from cgroups and the CRI', async () => {
    const k = kubectlOf(get);
    await k(['run', 'statspod', `--image=docker.io/k8ts/busybox:1.35`, '--', 'sh', '-c', 'head -c 5m /dev/zero > /tmp/blob; exec sleep 100000']);
    await k(['wait', '--for=condition=Ready', 'pod/statspod', '--timeout=60s'], { timeoutMs: 70_000 });
    const summary = await eventually(async () => {
      const s = JSON.parse(await k(['get', '--raw', `/api/v1/nodes/${flags.nodeName}/proxy/stats/summary`]));
      const p = s.pods.find((x: any) => x.podRef.name === 'statspod');
      return p?.containers?.[0]?.memory?.workingSetBytes > 0 && p.memory?.workingSetBytes > 0 ? s : undefined;
    }, 'pod figures in the summary', 30_000);
    assert.equal(summary.node.nodeName, flags.nodeName);
    assert.ok(summary.node.memory.workingSetBytes > 0);
    assert.ok(summary.node.fs.capacityBytes > 0);
    const pod = summary.pods.find((x: any) => x.podRef.name === 'statspod');
    assert.equal(pod.podRef.namespace, 'default');
    assert.equal(pod.containers[0].name, 'statspod');
    assert.ok(pod.containers[0].cpu.usageCoreNanoSeconds > 0);
    assert.ok(pod.network?.interfaces?.some((i: any) => i.name === 'eth0'), JSON.stringify(pod.network));
    const metrics = await k(['get', '--raw', `/api/v1/nodes/${flags.nodeName}/proxy/metrics/resource`]);
    assert.match(metrics, /^container_memory_working_set_bytes\{container="statspod",namespace="default",pod="statspod"\} [\d.e+]+ \d+$/m);
    await k(['delete', 'pod', 'statspod', '--grace-period=1']);
  });

  describe('streaming', () => streaming(get, 'stream'));
  describe('lifecycle', () => lifecycle(get, 'life', hostDir));
  describe('storage', () => storage(get, 'store'));
  describe('static pods', () => staticPods(get, manifestDir, () => flags.nodeName));
  describe('joining', () => join_(get, 'joined'));
  describe('resilience', () => resilience(get, 'resil', () => flags.nodeName));
});
