// End to end: a real containerd runs a pod; a KubeletServer serves it; an in-process API server
// whose Node object points at that kubelet; the real kubectl (1.32: WebSocket exec/attach/cp
// and tunnelled port-forward; 1.27: SPDY everywhere) does logs, exec, cp, attach,
// port-forward and node proxy.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { KubeObject } from '../../api/meta/v1.js';
import { issueCert } from '../../apiserver/pki/pki.js';
import { kubeconfigYaml } from '../../apiserver/pki/kubeconfig.js';
import { R } from '../../client/resources.js';
import { canRunPods } from '../../testing/agent-cluster.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { startTestContainerd, type TestContainerd } from '../cri/testing.js';
import type { ContainerConfig, PodSandboxConfig } from '../runtime/runtime.js';
import { selectContainerInstance } from './container-lookup.js';
import { CgroupManager } from '../cm/cgroup-manager.js';
import { StatsProvider } from '../stats/summary.js';
import { KubeletServer, type KubeletServerDeps } from './kubelet-server.js';

const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// Other minors (1.28–1.33) can be checked with K8TS_KUBECTL_VERSIONS=1.30,1.31.
const versions = (process.env.K8TS_KUBECTL_VERSIONS ?? '1.32,1.27').split(',').map((x) => x.trim()).filter(Boolean);
const echoContainer = (v: string) => `echo-${v.replace('.', '')}`;
const WAIT_FOR_SIZE = 'for i in 1 2 3 4 5 6 7 8 9 10; do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.2; done; echo "size $s"; exit 4';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('streaming through the API server to a kubelet on containerd', { timeout: 300_000, skip: canRunPods() }, () => {
  let t: TestContainerd;
  let api: TestApi;
  let kubelet: KubeletServer;
  let dir: string;
  let kubeconfig: string;
  let sandboxId: string;
  let sandbox: PodSandboxConfig;
  const containers = new Map<string, { id: string; logPath: string }>();
  const children = new Set<ChildProcess>();

  const kubectl = (version: string, args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(`${KUBECTL_DIR}/kubectl.${version}`, ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
      child.stdin.end(o.input ?? '');
    });
  const spawnKubectl = (version: string, args: string[]) => {
    const child = spawn(`${KUBECTL_DIR}/kubectl.${version}`, ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  };

  const containerConfig = (name: string, command: string[]): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: t.images.busybox },
    command,
    log_path: `${name}/0.log`,
    // `cat` containers read the stdin that `kubectl attach -i` sends, once.
    stdin: name.startsWith('echo-'),
    stdin_once: name.startsWith('echo-'),
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-stream-'));
    t = await startTestContainerd();
    api = await startTestApi();
    sandbox = t.sandboxConfig('web');
    sandboxId = await t.runtime.runPodSandbox(sandbox);
    const specs: [string, string[]][] = [
      ['httpd', ['sh', '-c', 'mkdir -p /www && echo hello-from-httpd > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www']],
      ['ticker', ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done']],
      ['short', ['sh', '-c', 'echo one; sleep 1; echo two; sleep 1; echo three']],
      ...versions.map((v): [string, string[]] => [echoContainer(v), ['cat']]),
    ];
    for (const [name, cmd] of specs) {
      const id = await t.runtime.createContainer(sandboxId, containerConfig(name, cmd), sandbox);
      await t.runtime.startContainer(id);
      containers.set(name, { id, logPath: join(sandbox.log_directory!, name, '0.log') });
    }

    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'default' },
      spec: { nodeName: 'n1', containers: specs.map(([name, command]) => ({ name, image: 'busybox', command })) },
    };
    const client = api.client();
    const created = await client.resource(R.pods).create('default', pod);
    const podIP = (await t.runtime.podSandboxStatus(sandboxId)).status.network?.ip;
    await client.resource(R.pods).updateStatus({
      ...created,
      status: { phase: 'Running', podIP, containerStatuses: specs.map(([name]) => ({ name, ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: new Date().toISOString() } } })) },
    });

    await client.resource(R.services).create('default', { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'web' } } });
    await client.resource(R.endpoints).create('default', { metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: podIP }], ports: [{ name: 'http', port: 8080 }] }] } as never);

    const serving = await issueCert({ caCert: api.pki.caCert, caKey: api.pki.caKey, cn: 'system:node:n1', groups: ['system:nodes'], sans: ['127.0.0.1', 'localhost'], usage: 'server' });
    const cgroups = new CgroupManager({ root: t.cgroupParent });
    await cgroups.ensureRoot();
    const stats = new StatsProvider({
      nodeName: 'n1',
      runtime: t.runtime,
      cgroups,
      paths: t.paths,
      rootfsPath: t.paths.agentDir,
      pods: () => [created],
      sandboxes: () => new Map([[created.metadata.uid!, { id: sandboxId }]]),
    });
    const deps: KubeletServerDeps = {
      runtime: t.runtime,
      findPod: (ns, name) => (ns === 'default' && name === 'web' ? { pod: created, sandboxId } : undefined),
      findContainer: async (_ns, podName, container, previous) => {
        const c = container ? containers.get(container) : undefined;
        if (!c) return `container ${container} is not valid for pod ${podName}`;
        // The log path as containerd reports it (absolute), not the one this test computed.
        const { status } = await t.runtime.containerStatus(c.id);
        assert.equal(status.log_path, c.logPath);
        return selectContainerInstance({ podName, container: container!, instances: [{ id: c.id, attempt: 0, status }], previous });
      },
      listPods: () => [created],
      statsSummary: () => stats.summary(),
      metrics: async () => 'kubelet_running_pods 1\n',
    };
    kubelet = new KubeletServer({ port: 0, bindAddress: '127.0.0.1', tls: { cert: serving.cert, key: serving.key, ca: api.pki.caCert }, deps });
    await kubelet.start();
    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } };
    const n = await client.resource(R.nodes).create(undefined, node);
    await client.resource(R.nodes).updateStatus({
      ...n,
      status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } },
    });
    kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml({ server: api.config.server, caCert: api.pki.caCert, clientCert: api.pki.adminCert, clientKey: api.pki.adminKey }));
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await kubelet?.stop();
    await api?.stop();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const v of versions) {
    it(`kubectl ${v}: logs, errors, logs -f ending with the container`, async () => {
      const logs = await kubectl(v, ['logs', 'web', '-c', 'httpd']);
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, 'serving\n');
      const raw = await kubectl(v, ['get', '--raw', '/api/v1/namespaces/default/pods/web/log']);
      assert.notEqual(raw.code, 0);
      assert.match(raw.stderr, /a container name must be specified for pod web, choose one of: \[httpd ticker short( echo-\d+)*\]/);
      const bad = await kubectl(v, ['logs', 'web', '-c', 'nope']);
      assert.match(bad.stderr, /container nope is not valid for pod web/);
      const badExec = await kubectl(v, ['exec', 'web', '-c', 'nope', '--', 'ls']);
      assert.notEqual(badExec.code, 0);
      assert.match(badExec.stderr, /container nope is not valid for pod web/);
      const prev = await kubectl(v, ['logs', 'web', '-c', 'httpd', '--previous']);
      assert.match(prev.stderr, /previous terminated container "httpd" in pod "web" not found/);
      const follow = await kubectl(v, ['logs', '-f', 'web', '-c', 'short'], { timeoutMs: 20_000 });
      assert.equal(follow.code, 0, follow.stderr);
      assert.equal(follow.stdout, 'one\ntwo\nthree\n');
      const tail = await kubectl(v, ['logs', 'web', '-c', 'short', '--tail=1', '--timestamps']);
      assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z three\n$/);
    });

    it(`kubectl ${v}: exec, stdin, exit codes`, async () => {
      const ls = await kubectl(v, ['exec', 'web', '-c', 'httpd', '--', 'ls', '/']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /\bwww\b/);
      const cat = await kubectl(v, ['exec', '-i', 'web', '-c', 'httpd', '--', 'cat'], { input: 'hi\n' });
      assert.equal(cat.code, 0, cat.stderr);
      assert.equal(cat.stdout, 'hi\n');
      if (Number(v.split('.')[1]) >= 30) {
        // Spoken over WebSocket (v5), translated by the API server; no fallback to SPDY.
        const verbose = await kubectl(v, ['exec', 'web', '-c', 'httpd', '-v=4', '--', 'true']);
        assert.match(verbose.stderr, /subprotocol is v5\.channel\.k8s\.io/);
        assert.doesNotMatch(verbose.stderr, /fallback/i);
      }
      const err = await kubectl(v, ['exec', 'web', '-c', 'httpd', '--', 'sh', '-c', 'echo oops >&2; exit 3']);
      assert.equal(err.code, 3);
      assert.match(err.stderr, /oops/);
      assert.match(err.stderr, /command terminated with exit code 3/);
    });

    it(`kubectl ${v}: exec -it with a terminal and its size`, async () => {
      // `script` gives kubectl a pseudo-terminal; stty sets its size, which kubectl sends as a
      // resize. The resize arrives after the command starts, so the command waits for it.
      const cmd = `stty cols 91 rows 33; ${KUBECTL_DIR}/kubectl.${v} --kubeconfig ${kubeconfig} exec -it web -c httpd -- sh -c '${WAIT_FOR_SIZE}'`;
      const r = await new Promise<Run>((resolve, reject) => {
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, HOME: dir }, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
      assert.match(r.stdout, /size 33 91/, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /command terminated with exit code 4/);
    });

    it(`kubectl ${v}: cp both ways`, async () => {
      const local = join(dir, `in-${v}.txt`);
      // 3 MB of random bytes: many DATA frames, split across socket reads in both directions.
      writeFileSync(local, randomBytes(3 * 1024 * 1024));
      const up = await kubectl(v, ['cp', local, `default/web:/tmp/in-${v}.txt`, '-c', 'httpd']);
      assert.equal(up.code, 0, up.stderr);
      const back = join(dir, `out-${v}.txt`);
      const down = await kubectl(v, ['cp', `default/web:/tmp/in-${v}.txt`, back, '-c', 'httpd']);
      assert.equal(down.code, 0, down.stderr);
      assert.ok(readFileSync(back).equals(readFileSync(local)));
    });

    it(`kubectl ${v}: attach shows the container's output`, async () => {
      const child = spawnKubectl(v, ['attach', 'web', '-c', 'ticker']);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      for (let i = 0; i < 100 && !/tick \d+\n/.test(out); i++) await sleep(100);
      child.kill('SIGKILL');
      assert.match(out, /tick \d+\n/);
    });

    it(`kubectl ${v}: attach -i sends stdin to the container`, async () => {
      const r = await kubectl(v, ['attach', '-i', 'web', '-c', echoContainer(v)], { input: 'hello attach\n', timeoutMs: 20_000 });
      assert.equal(r.stdout, 'hello attach\n', r.stderr);
    });

    it(`kubectl ${v}: port-forward`, async () => {
      const child = spawnKubectl(v, ['port-forward', 'pod/web', '0:8080', '-v=4']);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      let port = 0;
      for (let i = 0; i < 100 && !port; i++) {
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) port = Number(m[1]);
        else await sleep(100);
      }
      assert.ok(port, out);
      for (let i = 0; i < 2; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          httpRequest({ host: '127.0.0.1', port, path: '/index.html' }, (res) => {
            let b = '';
            res.on('data', (d) => (b += d));
            res.on('end', () => resolve(b));
          })
            .on('error', reject)
            .end();
        });
        assert.equal(body, 'hello-from-httpd\n');
      }
      child.kill('SIGKILL');
      if (process.env.K8TS_TEST_LOG) console.log(out);
      assert.doesNotMatch(out, /fallback/i);
    });

    it(`kubectl ${v}: nodes/proxy reaches the kubelet`, async () => {
      const h = await kubectl(v, ['get', '--raw', '/api/v1/nodes/n1/proxy/healthz']);
      assert.equal(h.code, 0, h.stderr);
      assert.equal(h.stdout, 'ok');
      const pods = await kubectl(v, ['get', '--raw', '/api/v1/nodes/n1/proxy/pods']);
      assert.equal(JSON.parse(pods.stdout).items[0].metadata.name, 'web');
    });
  }

  it('the Summary API through nodes/proxy has the node and the pod with its containers', async () => {
    await kubectl('1.32', ['get', '--raw', '/api/v1/nodes/n1/proxy/stats/summary']);
    await sleep(300);
    const r = await kubectl('1.32', ['get', '--raw', '/api/v1/nodes/n1/proxy/stats/summary']);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.node.nodeName, 'n1');
    assert.ok(summary.node.memory.workingSetBytes > 0);
    assert.ok(summary.node.cpu.usageCoreNanoSeconds > 0);
    const pod = summary.pods.find((p: { podRef: { name: string } }) => p.podRef.name === 'web');
    assert.ok(pod, r.stdout);
    const httpd = pod.containers.find((c: { name: string }) => c.name === 'httpd');
    assert.ok(httpd.memory.workingSetBytes > 0, JSON.stringify(httpd));
    assert.ok(httpd.cpu.usageCoreNanoSeconds > 0, JSON.stringify(httpd));
    const metrics = await kubectl('1.32', ['get', '--raw', '/api/v1/nodes/n1/proxy/metrics/resource']);
    assert.match(metrics.stdout, /^container_memory_working_set_bytes\{container="httpd",namespace="default",pod="web"\} [\d.e+]+ \d+$/m);
  });

  it('older WebSocket channel protocols (base64) pass through to the runtime', async () => {
    const url = `wss://127.0.0.1:${api.server.port}/api/v1/namespaces/default/pods/web/exec?container=httpd&command=echo&command=hi&stdout=true`;
    const ws = new WebSocket(url, ['base64.channel.k8s.io'], { ca: api.pki.caCert, cert: api.pki.adminCert, key: api.pki.adminKey });
    const frames: string[] = [];
    ws.on('message', (d: Buffer) => frames.push(d.toString()));
    await new Promise((resolve, reject) => {
      ws.once('close', resolve);
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'base64.channel.k8s.io');
    const stdout = frames.filter((f) => f[0] === '1').map((f) => Buffer.from(f.slice(1), 'base64').toString()).join('');
    assert.equal(stdout, 'hi\n');
  });

  it('pods/proxy and services/proxy reach the pod', async () => {
    for (const path of [
      '/api/v1/namespaces/default/pods/web:8080/proxy/index.html',
      '/api/v1/namespaces/default/services/web:http/proxy/index.html',
      '/api/v1/namespaces/default/services/http:web:80/proxy/',
    ]) {
      const r = await kubectl('1.32', ['get', '--raw', path]);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      assert.equal(r.stdout, 'hello-from-httpd\n');
    }
    const missing = await kubectl('1.32', ['get', '--raw', '/api/v1/namespaces/default/services/web:nope/proxy/']);
    assert.match(missing.stderr, /no endpoints available for service "web"/);
  });

  it('discovery lists the streaming subresources', async () => {
    const r = await kubectl('1.32', ['api-resources', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    const raw = JSON.parse((await kubectl('1.32', ['get', '--raw', '/api/v1'])).stdout);
    const byName = new Map((raw.resources as { name: string; verbs: string[] }[]).map((x) => [x.name, x.verbs]));
    assert.deepEqual(byName.get('pods/exec'), ['create', 'get']);
    assert.deepEqual(byName.get('pods/log'), ['get']);
    assert.deepEqual(byName.get('pods/portforward'), ['create', 'get']);
    assert.deepEqual(byName.get('pods/attach'), ['create', 'get']);
    assert.ok(byName.has('nodes/proxy'));
    assert.ok(byName.has('pods/proxy'));
    assert.ok(byName.has('services/proxy'));
  });
});
