// The service proxy end to end, inside network namespaces only (the host's iptables are never
// touched): a node namespace with a bridge (pods a, b, c each serving their own name on 8080),
// a dummy interface holding the node address, Services and EndpointSlices in a real in-process
// API server, and real connections to ClusterIPs (OUTPUT path from the node, PREROUTING path
// from a pod), NodePorts (node address and 127.0.0.1) and a load-balancer IP.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { eventually } from '../../testing/control-plane-harness.js';
import { createTopology, netnsUnavailable, type Topology } from '../policy/netns-topology.js';
import { iptablesRunner, type IptablesRunner } from './iptables.js';
import { ServiceProxy } from './proxier.js';

const skip = netnsUnavailable() ?? (spawnSync('conntrack', ['--version'], { stdio: 'ignore' }).error ? 'conntrack is not installed' : undefined);
const SUBNET = '10.99.53';
const NODE_IP = '192.168.253.1';
const OUTSIDE_IP = '192.168.253.2';
const quietLog = { info() {}, warn() {}, error() {}, debug() {} };

const NAME_SERVER = `
const net = require('node:net');
net.createServer((s) => { s.on('error', () => {}); s.end(process.argv[1] + '\\n'); }).listen(8080, '0.0.0.0', () => console.log('ready'));`;

/** Strips counters and comments so two iptables-save outputs compare by rules and chains. */
const normalise = (s: string) =>
  s
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');

describe('ServiceProxy in a network namespace', { skip }, () => {
  let topo: Topology;
  let api: TestApi;
  let client: Client;
  let iptables: IptablesRunner;
  let proxy: ServiceProxy;
  let baseline: string;
  let outside: string | undefined;
  const servers: ChildProcess[] = [];
  const ac = new AbortController();
  let running: Promise<void>;

  const sh = (...argv: string[]) => {
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const saveAll = async () => normalise((await iptables.save('filter')) + (await iptables.save('nat')));

  before(async () => {
    topo = await createTopology({ prefix: `k8px${process.pid % 100000}`, subnet: SUBNET, pods: ['a', 'b', 'c'], ports: [9999] });
    const n = topo.node;
    // The node's "uplink": a veth to an outside namespace (a client off the cluster).
    outside = `${n.replace(/-node$/, '')}-out`;
    spawnSync('ip', ['netns', 'del', outside], { stdio: 'ignore' });
    sh('ip', 'netns', 'add', outside);
    sh('ip', '-n', n, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside);
    sh('ip', '-n', n, 'addr', 'add', `${NODE_IP}/24`, 'dev', 'ext0');
    sh('ip', '-n', n, 'link', 'set', 'ext0', 'up');
    sh('ip', '-n', outside, 'addr', 'add', `${OUTSIDE_IP}/24`, 'dev', 'eth0');
    sh('ip', '-n', outside, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', outside, 'link', 'set', 'lo', 'up');
    sh('ip', '-n', outside, 'route', 'add', '10.99.99.99/32', 'via', NODE_IP);
    // ClusterIPs are routed like any off-node address: the default route.
    sh('ip', '-n', n, 'route', 'add', 'default', 'via', OUTSIDE_IP);
    sh('ip', 'netns', 'exec', n, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    // As the CNI bridge plugin's hairpinMode: a frame may leave by the port it came in on.
    Object.keys(topo.pods).forEach((_, i) => sh('ip', '-n', n, 'link', 'set', `veth${i}`, 'type', 'bridge_slave', 'hairpin', 'on'));
    for (const [name, pod] of Object.entries(topo.pods)) {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', pod.netns, process.execPath, '-e', NAME_SERVER, name], { stdio: ['ignore', 'pipe', 'inherit'] });
        servers.push(child);
        child.stdout!.once('data', () => resolve());
        child.on('exit', (code) => reject(new Error(`server ${name} exited ${code}`)));
      });
    }
    iptables = iptablesRunner({ netns: n });
    // Make both tables exist, with a foreign rule and chain that must survive cleanup().
    await iptables.restore('*nat\n:OTHER-CHAIN - [0:0]\n-A OUTPUT -d 10.1.2.3/32 -j OTHER-CHAIN\nCOMMIT\n*filter\n-A INPUT -s 10.1.2.3/32 -j ACCEPT\nCOMMIT\n');
    baseline = await saveAll();
    api = await startTestApi();
    client = api.client('proxy-test');
    proxy = new ServiceProxy({ client, nodeName: 'node-1', nodeIPs: [NODE_IP], clusterCIDR: `${SUBNET}.0/24`, iptables, minSyncPeriodMs: 20, syncPeriodMs: 60_000, log: quietLog });
    running = proxy.run(ac.signal);
  });

  after(async () => {
    ac.abort();
    await running?.catch(() => {});
    for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
    await api?.stop();
    topo?.destroy();
    if (outside) spawnSync('ip', ['netns', 'del', outside], { stdio: 'ignore' });
  });

  /** What a TCP connection from `from` ("node" or a pod) to ip:port reads, '' when it fails. */
  function connect(from: string, ip: string, port: number, timeoutSec = 2): Promise<string> {
    return new Promise((resolve) => {
      const ns = from === 'node' ? topo.node : from === 'outside' ? outside! : topo.pods[from].netns;
      const child = spawn('ip', ['netns', 'exec', ns, '/bin/busybox', 'nc', '-w', String(timeoutSec), ip, String(port)], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('close', () => resolve(out.trim()));
    });
  }

  async function service(name: string, spec: Record<string, unknown>): Promise<KubeObject> {
    return client.resource(R.services).create('default', { metadata: { name }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ...spec } });
  }

  async function slice(svc: string, pods: string[], conditions: Record<string, boolean> = { ready: true }): Promise<KubeObject> {
    return client.resource(R.endpointslices).create('default', {
      metadata: { name: `${svc}-abc`, labels: { 'kubernetes.io/service-name': svc } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: pods.map((p) => ({ addresses: [topo.pods[p].ip], nodeName: p === 'c' ? 'node-2' : 'node-1', conditions })),
    } as Partial<KubeObject> & { metadata: KubeObject['metadata'] });
  }

  const clusterIP = (s: KubeObject) => (s.spec as { clusterIP: string }).clusterIP;

  test('a ClusterIP reaches its endpoints from the node (OUTPUT) and from a pod (PREROUTING)', async () => {
    const svc = await service('web', {});
    await slice('web', ['a', 'b']);
    const ip = clusterIP(svc);
    const first = await eventually(async () => await connect('node', ip, 80), 'ClusterIP from the node');
    assert.match(first, /^[ab]$/);
    const seen = new Set<string>();
    for (let i = 0; i < 16 && seen.size < 2; i++) seen.add(await connect('c', ip, 80));
    assert.deepEqual([...seen].sort(), ['a', 'b'], 'random load balancing over both endpoints from pod c');
  });

  test('hairpin: a pod reaching itself through its Service is masqueraded so the reply comes back', async () => {
    const svc = await service('self', {});
    await slice('self', ['a']);
    assert.equal(await eventually(async () => await connect('a', clusterIP(svc), 80), 'a → its own Service'), 'a');
  });

  test('endpoints on the node\'s own addresses (the API server of a one-node k8ts server) leave its other local traffic alone', async () => {
    // A local listener on 127.0.0.1 and the node address, as the API server and kubelet are.
    const local = spawn('ip', ['netns', 'exec', topo.node, process.execPath, '-e', `require('node:net').createServer((s)=>s.end('local\\n')).listen(7443,'0.0.0.0',()=>console.log('ready'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    servers.push(local);
    await new Promise((r) => local.stdout!.once('data', r));
    assert.equal(await connect('node', '127.0.0.1', 7443), 'local');
    await client.resource(R.services).create('default', { metadata: { name: 'api' }, spec: { ports: [{ name: 'https', port: 443, targetPort: 7443, protocol: 'TCP' }] } });
    await client.resource(R.endpointslices).create('default', {
      metadata: { name: 'api', labels: { 'kubernetes.io/service-name': 'api' } },
      addressType: 'IPv4',
      ports: [{ name: 'https', port: 7443, protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }, { addresses: [NODE_IP], conditions: { ready: true } }],
    } as Partial<KubeObject> & { metadata: KubeObject['metadata'] });
    await eventually(async () => (await iptables.save('nat')).includes('default/api:https'), 'api rules');
    // Plain connections on the node, not through any Service, still work (none is masqueraded).
    for (let i = 0; i < 3; i++) {
      assert.equal(await connect('node', '127.0.0.1', 7443), 'local', '127.0.0.1 → 127.0.0.1');
      assert.equal(await connect('node', NODE_IP, 7443), 'local', 'node address → itself');
    }
    const nat = await iptables.save('nat');
    assert.doesNotMatch(nat, /-s 127\.0\.0\.1\/32 -d 127\.0\.0\.1\/32/, 'no hairpin rule for a loopback endpoint');
    await client.resource(R.services).delete('default', 'api');
  });

  test('NodePort on the node address and on 127.0.0.1, and the LoadBalancer IP', async () => {
    const svc = await service('np', { type: 'LoadBalancer' });
    await slice('np', ['b']);
    const nodePort = (svc.spec as { ports: { nodePort: number }[] }).ports[0].nodePort;
    assert.ok(nodePort >= 30000, `nodePort ${nodePort}`);
    assert.equal(await eventually(async () => await connect('node', NODE_IP, nodePort), 'NodePort on the node address'), 'b');
    assert.equal(await connect('a', NODE_IP, nodePort), 'b', 'NodePort from a pod');
    assert.equal(await connect('node', '127.0.0.1', nodePort), 'b', 'NodePort on 127.0.0.1');
    // A load balancer (ServiceLB writes the node addresses) announces 10.99.99.99 here.
    await client.resource(R.services).patch('default', 'np', 'merge', { status: { loadBalancer: { ingress: [{ ip: '10.99.99.99', ipMode: 'VIP' }] } } }, { subresource: 'status' });
    assert.equal(await eventually(async () => await connect('node', '10.99.99.99', 80), 'LoadBalancer IP'), 'b');
  });

  test('loadBalancerSourceRanges let listed clients use the load-balancer IP, and only them', async () => {
    assert.equal(await connect('outside', '10.99.99.99', 80), 'b', 'no ranges: open to all');
    await client.resource(R.services).patch('default', 'np', 'merge', { spec: { loadBalancerSourceRanges: ['10.0.0.0/8'] } });
    await eventually(async () => (await iptables.save('filter')).includes('traffic not accepted by loadBalancerSourceRanges'), 'firewall rules');
    assert.equal(await connect('outside', '10.99.99.99', 80, 1), '', 'outside is not in 10.0.0.0/8');
    assert.equal(await connect('a', '10.99.99.99', 80), 'b', 'pod a is');
    await client.resource(R.services).patch('default', 'np', 'merge', { spec: { loadBalancerSourceRanges: ['10.0.0.0/8', `${OUTSIDE_IP}/32`] } });
    assert.equal(await eventually(async () => await connect('outside', '10.99.99.99', 80, 1), 'outside allowed'), 'b');
  });

  test('a Service without endpoints is refused at once', async () => {
    const svc = await service('empty', { type: 'NodePort' });
    const nodePort = (svc.spec as { ports: { nodePort: number }[] }).ports[0].nodePort;
    await eventually(async () => (await iptables.save('filter')).includes('default/empty:http has no endpoints'), 'REJECT rule');
    for (const [from, ip, port] of [['node', clusterIP(svc), 80], ['a', clusterIP(svc), 80], ['node', NODE_IP, nodePort], ['outside', NODE_IP, nodePort]] as const) {
      const t0 = Date.now();
      assert.equal(await connect(from, ip, port, 3), '');
      assert.ok(Date.now() - t0 < 1500, `${from} → ${ip}:${port} refused in ${Date.now() - t0} ms, not timed out`);
    }
  });

  test('ClientIP session affinity pins a client to one endpoint', async () => {
    const svc = await service('sticky', { sessionAffinity: 'ClientIP' });
    await slice('sticky', ['a', 'b']);
    const first = await eventually(async () => await connect('node', clusterIP(svc), 80), 'sticky ClusterIP');
    for (let i = 0; i < 8; i++) assert.equal(await connect('node', clusterIP(svc), 80), first);
  });

  test('terminating endpoints serve only when none is ready; not-ready ones never', async () => {
    const svc = await service('term', {});
    const s = await slice('term', ['a'], { ready: false, serving: true, terminating: true });
    assert.equal(await eventually(async () => await connect('node', clusterIP(svc), 80), 'terminating fallback'), 'a');
    await client.resource(R.endpointslices).update({
      ...s,
      endpoints: [
        { addresses: [topo.pods.a.ip], conditions: { ready: false, serving: true, terminating: true } },
        { addresses: [topo.pods.b.ip], conditions: { ready: true } },
      ],
    } as KubeObject);
    await eventually(async () => (await iptables.save('nat')).includes(`default/term:http -> ${topo.pods.b.ip}:8080`) && !(await iptables.save('nat')).includes(`default/term:http -> ${topo.pods.a.ip}:8080`), 'only b');
    for (let i = 0; i < 4; i++) assert.equal(await connect('node', clusterIP(svc), 80), 'b');
  });

  test('externalTrafficPolicy Local sends NodePort traffic from outside to local endpoints only', async () => {
    const svc = await service('local', { type: 'NodePort', externalTrafficPolicy: 'Local' });
    await slice('local', ['a', 'c']); // c is on node-2
    const nodePort = (svc.spec as { ports: { nodePort: number }[] }).ports[0].nodePort;
    await eventually(async () => (await iptables.save('nat')).includes('KUBE-SVL-'), 'SVL chain');
    // From off the cluster: only a (local) answers, and sees the client's own address.
    for (let i = 0; i < 6; i++) assert.equal(await connect('outside', NODE_IP, nodePort), 'a');
    // The node itself counts as inside: it may reach every endpoint (masqueraded).
    assert.match(await connect('node', NODE_IP, nodePort), /^[ac]$/);
  });

  test('UDP: conntrack entries to a removed endpoint are deleted', async () => {
    const svc = await client.resource(R.services).create('default', { metadata: { name: 'udp' }, spec: { ports: [{ name: 'dns', port: 53, targetPort: 9999, protocol: 'UDP' }] } });
    const mkSlice = (pod: string) => ({ addressType: 'IPv4', ports: [{ name: 'dns', port: 9999, protocol: 'UDP' }], endpoints: [{ addresses: [topo.pods[pod].ip], conditions: { ready: true } }] });
    const s = await client.resource(R.endpointslices).create('default', { metadata: { name: 'udp-abc', labels: { 'kubernetes.io/service-name': 'udp' } }, ...mkSlice('a') } as Partial<KubeObject> & { metadata: KubeObject['metadata'] });
    const ip = clusterIP(svc);
    const entries = () => spawnSync('ip', ['netns', 'exec', topo.node, 'conntrack', '-L', '-p', 'udp', '--orig-dst', ip], { encoding: 'utf8' }).stdout;
    // The topology's servers answer UDP on 9999 too; a fixed source port keeps one conntrack entry.
    const send = () => spawnSync('ip', ['netns', 'exec', topo.node, process.execPath, '-e', `const u=require('node:dgram').createSocket('udp4');u.bind(40053,()=>{u.send('x',53,'${ip}');u.on('message',()=>process.exit(0));setTimeout(()=>process.exit(1),1000)})`]).status === 0;
    await eventually(() => send(), 'UDP answer through the ClusterIP');
    assert.match(entries(), new RegExp(`src=${topo.pods.a.ip.replace(/\./g, '\\.')} `));
    await client.resource(R.endpointslices).update({ ...s, ...mkSlice('b') } as KubeObject);
    await eventually(() => !entries().includes(`src=${topo.pods.a.ip} `), 'stale UDP entry deleted');
    assert.ok(send(), 'the same client flow now reaches b');
    assert.match(entries(), new RegExp(`src=${topo.pods.b.ip.replace(/\./g, '\\.')} `));
  });

  test('rules removed behind the proxy\'s back are noticed (canary chain) and rewritten', async () => {
    const ip = clusterIP(await client.resource(R.services).get('default', 'web'));
    const { buildCleanupRules } = await import('./rules.js');
    const before = proxy.fullSyncs;
    await iptables.restore(buildCleanupRules({ nat: await iptables.save('nat'), filter: await iptables.save('filter') }));
    assert.equal(await connect('node', ip, 80, 1), '');
    // The loop's periodic check may notice first; either way a full rewrite repairs it.
    await proxy.syncNow();
    assert.ok(proxy.fullSyncs > before, 'a full sync ran after the flush');
    assert.match(await connect('node', ip, 80), /^[ab]$/);
  });

  test('removing the Service removes its rules; cleanup() restores iptables as they were', async () => {
    await client.resource(R.services).delete('default', 'web');
    await eventually(async () => !(await iptables.save('nat')).includes('default/web:http'), 'web rules gone');
    const stats = await proxy.syncNow({ full: true });
    assert.equal(stats.full, true);
    assert.equal(stats.chainsDeleted, 0, 'a full sync finds nothing stale after incremental ones');
    ac.abort();
    await running;
    await proxy.cleanup();
    assert.equal(await saveAll(), baseline);
  });
});
