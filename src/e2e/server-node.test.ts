// `k8ts server` as a one-node cluster (the README's `make server`), with everything on: the
// embedded agent, its service proxy and network policy, cluster DNS and the Ingress. It runs in
// a network namespace of its own (a veth address stands in for the machine's), so its iptables
// rules never touch the host's; kubectl runs in that namespace too, as a user on the machine would.
// This is where the service proxy once masqueraded all loopback traffic (the kubernetes Service's
// endpoint was 127.0.0.1), and kubectl timed out as soon as the proxy synced.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canRunPods } from '../testing/agent-cluster.js';
import { K8TS_BIN, KUBECTL } from '../testing/k8ts-server.js';

const skip = canRunPods();
const BUSYBOX = 'docker.io/k8ts/busybox:1.35';

describe('k8ts server: a one-node cluster with its proxy, DNS and Ingress', { skip, concurrency: false }, () => {
  const id = randomBytes(2).toString('hex');
  const ns = `k8ts-single-${id}`;
  const hostVeth = `k8s1${id}`;
  const t = 100 + (randomBytes(1)[0] % 100);
  const nodeIP = `169.254.${t}.2`;
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-single-'));
  const dataDir = join(dir, 'data');
  const kubeconfig = join(dataDir, 'kubeconfig');
  let serverPid = 0;
  const inNs = (cmd: string, args: string[], timeout = 60_000) => spawnSync('nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args], { encoding: 'utf8', timeout, env: { ...process.env, KUBECONFIG: kubeconfig } });
  const kubectl = (args: string[], timeout = 60_000) => inNs(KUBECTL, args, timeout);
  const k = (args: string[]) => {
    const r = kubectl(args);
    assert.equal(r.status, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.error ?? ''}`);
    return r.stdout;
  };
  const serverLog = () => (existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-4000) : '');

  before(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    execFileSync('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    execFileSync('ip', ['-n', ns, 'addr', 'add', `${nodeIP}/30`, 'dev', 'eth0']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    execFileSync('ip', ['addr', 'add', `169.254.${t}.1/30`, 'dev', hostVeth]);
    execFileSync('ip', ['link', 'set', hostVeth, 'up']);
    const log = openSync(join(dir, 'server.log'), 'a');
    const p = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, K8TS_BIN, 'server', '--data-dir', dataDir, '--node-name', `single-${id}`, '--cgroup-root', `/k8ts-single-${id}`], { stdio: ['ignore', log, log], detached: true });
    p.unref();
    serverPid = p.pid!;
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (existsSync(kubeconfig) && kubectl(['get', 'node', `single-${id}`, '--request-timeout=5s', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], 10_000).stdout === 'True') break;
      assert.ok(Date.now() < deadline, `the node is not Ready in 90 s:\n${serverLog()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(() => {
    if (serverPid) {
      try {
        process.kill(serverPid, 'SIGTERM');
      } catch {
        // gone already
      }
      for (let i = 0; i < 50 && spawnSync('kill', ['-0', String(serverPid)]).status === 0; i++) execFileSync('sleep', ['0.2']);
    }
    // `k8ts down` from inside the namespace removes the pods, containerd, mounts, bridge, cgroups and rules.
    inNs(process.execPath, [K8TS_BIN, 'down', '--data-dir', dataDir], 120_000);
    spawnSync('ip', ['link', 'del', hostVeth]);
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('kubectl keeps working once the proxy has synced; the kubernetes Service points at the node address', async () => {
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < 5; i++) assert.match(k(['get', 'nodes', '--request-timeout=5s']), new RegExp(`single-${id}\\s+Ready`));
    const slice = JSON.parse(k(['get', 'endpointslice', 'kubernetes', '-o', 'json']));
    assert.deepEqual(slice.endpoints.map((e: { addresses: string[] }) => e.addresses), [[nodeIP]]);
    const nat = inNs('iptables-save', ['-t', 'nat']).stdout;
    assert.match(nat, /default\/kubernetes:https/, 'the proxy has synced');
  });

  it('pods reach the API through 10.43.0.1, Services by name, and the Ingress answers on the node address', () => {
    k(['create', 'deployment', 'web', `--image=${BUSYBOX}`, '--replicas=2', '--port=8080', '--', 'sh', '-c', 'echo $HOSTNAME > /index.html; exec httpd -f -p 8080 -h /']);
    k(['expose', 'deployment', 'web', '--port', '80', '--target-port', '8080']);
    k(['create', 'ingress', 'web', '--rule', 'web.local/*=web:80']);
    k(['rollout', 'status', 'deployment/web', '--timeout=90s']);
    const pods: string[] = JSON.parse(k(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items.map((p: { metadata: { name: string } }) => p.metadata.name);
    assert.equal(k(['exec', pods[0], '--', 'sh', '-c', 'nc -w 3 kubernetes.default 443 </dev/null && echo connected']).trim(), 'connected');
    let body = '';
    for (let i = 0; i < 40 && !pods.includes(body); i++) {
      if (i) execFileSync('sleep', ['0.25']);
      body = kubectl(['exec', pods[0], '--', 'wget', '-qO-', 'http://web/index.html']).stdout.trim();
    }
    assert.ok(pods.includes(body), `web by name: ${body}`);
    // The Ingress, on the node's address (the controller's own listener and its LoadBalancer Service).
    for (const address of [nodeIP, '127.0.0.1']) {
      let got = '';
      for (let i = 0; i < 40 && !pods.includes(got); i++) {
        if (i) execFileSync('sleep', ['0.25']);
        got = inNs('curl', ['-s', '-m', '3', '--resolve', `web.local:80:${address}`, 'http://web.local/index.html']).stdout.trim();
      }
      assert.ok(pods.includes(got), `Ingress via ${address}: ${got}`);
    }
    assert.equal(k(['get', 'svc', '-n', 'kube-system', 'k8ts-ingress', '-o', 'jsonpath={.status.loadBalancer.ingress[*].ip}']), nodeIP);
    // A user's LoadBalancer on port 80 waits: the Ingress holds it (as Traefik does on k3s).
    k(['create', 'service', 'loadbalancer', 'web-lb', '--tcp=80:8080']);
    let events = '';
    for (let i = 0; i < 40 && !events.includes('SyncLoadBalancerFailed'); i++) {
      if (i) execFileSync('sleep', ['0.25']);
      events = k(['get', 'events', '--field-selector', 'involvedObject.name=web-lb', '-o', 'jsonpath={.items[*].reason}']);
    }
    assert.match(events, /SyncLoadBalancerFailed/);
    assert.match(k(['get', 'svc', 'web-lb']), /<pending>/);
  });
});
