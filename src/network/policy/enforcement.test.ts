// The generated rules against real traffic: a node-like topology of network namespaces (a bridge
// and three pods with TCP servers), the rules applied in the node namespace with
// iptables-restore, and real connections between the pods. The host's iptables are not touched.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { iptablesRunner, type IptablesRunner } from './iptables-runner.js';
import { createTopology, netnsUnavailable, type Topology } from './netns-topology.js';
import { buildCleanupRules, buildPolicyRules, parseExistingRules } from './policy-rules.js';

const skip = netnsUnavailable();
const PORTS = [8080, 8081, 9000];

describe('NetworkPolicy enforcement between pods on a bridge', { skip }, () => {
  let topo: Topology;
  let iptables: IptablesRunner;
  let pods: KubeObject[];
  const namespaces: KubeObject[] = [
    { metadata: { name: 'prod', labels: { env: 'prod' } } },
    { metadata: { name: 'dev', labels: { env: 'dev' } } },
  ];

  before(async () => {
    topo = await createTopology({ prefix: `k8np${process.pid % 100000}`, subnet: '10.99.41', pods: ['a', 'b', 'c'], ports: PORTS });
    iptables = iptablesRunner({ netns: topo.node });
    const pod = (ns: string, name: string, key: 'a' | 'b' | 'c', labels: Record<string, string>): KubeObject => ({
      metadata: { namespace: ns, name, labels },
      spec: { nodeName: 'node-1', containers: [{ name: 'main', ports: [{ name: 'http', containerPort: 8080 }, { name: 'admin', containerPort: 9000 }] }] },
      status: { phase: 'Running', podIP: topo.pods[key].ip, podIPs: [{ ip: topo.pods[key].ip }] },
    });
    pods = [pod('prod', 'client', 'a', { app: 'client' }), pod('prod', 'web', 'b', { app: 'web' }), pod('dev', 'client', 'c', { app: 'client' })];
  });

  after(() => topo?.destroy());

  async function apply(policies: { ns: string; spec: object }[]): Promise<void> {
    const existing = parseExistingRules(await iptables.saveFilter());
    const objects = policies.map((p, i) => ({ metadata: { namespace: p.ns, name: `np${i}` }, spec: p.spec }));
    await iptables.restore(buildPolicyRules({ nodeName: 'node-1', pods, namespaces, policies: objects, existing }));
  }

  /** Every flow `from→to:port` at once; returns those that connected. */
  async function reachable(flows: string[]): Promise<string[]> {
    const results = await Promise.all(
      flows.map((f) => {
        const [, from, to, port] = /^(\w)→(\w):(\d+)$/.exec(f)!;
        return topo.connect(from, topo.pods[to].ip, Number(port));
      }),
    );
    return flows.filter((_, i) => results[i]);
  }

  const ALL = ['a→b:8080', 'c→b:8080', 'b→a:8080', 'b→c:8080', 'a→c:8080'];

  test('bridged pod-to-pod traffic passes the node namespace FORWARD chain (br_netfilter)', () => {
    const v = spawnSync('ip', ['netns', 'exec', topo.node, 'cat', '/proc/sys/net/bridge/bridge-nf-call-iptables'], { encoding: 'utf8' });
    assert.equal(v.stdout.trim(), '1', 'bridge-nf-call-iptables must be 1 in the node namespace');
  });

  test('without policies everything connects', async () => {
    await apply([]);
    assert.deepEqual(await reachable(ALL), ALL);
    assert.ok(await topo.connectUdp('a', topo.pods.b.ip, 8080), 'UDP a→b:8080');
  });

  test('default deny ingress in a namespace blocks its pods, not their egress', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: {} } }]);
    assert.deepEqual(await reachable(ALL), ['b→c:8080', 'a→c:8080']);
    // The node itself still reaches its pods (probes): its traffic goes through OUTPUT, not FORWARD.
    assert.ok(await topo.connect('node', topo.pods.b.ip, 8080), 'node → prod/web');
  });

  test('a podSelector peer lets exactly that pod of the namespace in', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] } }]);
    // c has the label too but lives in another namespace.
    assert.deepEqual(await reachable(['a→b:8080', 'c→b:8080', 'a→b:9000']), ['a→b:8080', 'a→b:9000']);
  });

  test('namespaceSelector combined with podSelector', async () => {
    await apply([
      { ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { app: 'client' } } }] }] } },
    ]);
    assert.deepEqual(await reachable(['a→b:8080', 'c→b:8080']), ['c→b:8080']);
  });

  test('ipBlock with except', async () => {
    const net = topo.pods.a.ip.replace(/\.\d+$/, '.0/24');
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: net, except: [`${topo.pods.a.ip}/32`] } }] }] } }]);
    assert.deepEqual(await reachable(['a→b:8080', 'c→b:8080']), ['c→b:8080']);
  });

  test('port ranges and named ports', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 8080, endPort: 8081 }] }] } }]);
    assert.deepEqual(await reachable(['a→b:8080', 'a→b:8081', 'a→b:9000']), ['a→b:8080', 'a→b:8081']);
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 'admin' }] }] } }]);
    assert.deepEqual(await reachable(['a→b:8080', 'a→b:8081', 'a→b:9000']), ['a→b:9000']);
  });

  test('egress deny, egress allow to a pod and port; replies of allowed flows pass', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'] } }]);
    assert.deepEqual(await reachable(['a→b:8080', 'a→c:8080', 'b→a:8080', 'c→b:8080']), ['b→a:8080', 'c→b:8080']);
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'client' } }, egress: [{ to: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }] } }]);
    // Ingress + Egress (the default with egress rules): b may not open connections to a, but a's replies come back.
    assert.deepEqual(await reachable(['a→b:8080', 'a→b:9000', 'a→c:8080', 'b→a:8080']), ['a→b:8080']);
  });

  test('protocols: a UDP port rule does not open TCP, and the reverse', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ protocol: 'UDP', port: 8081 }, { port: 8080 }] }] } }]);
    const b = topo.pods.b.ip;
    const [udp8081, tcp8081, udp8080, tcp8080] = await Promise.all([topo.connectUdp('a', b, 8081), topo.connect('a', b, 8081), topo.connectUdp('a', b, 8080), topo.connect('a', b, 8080)]);
    assert.deepEqual({ udp8081, tcp8081, udp8080, tcp8080 }, { udp8081: true, tcp8081: false, udp8080: false, tcp8080: true });
  });

  test('stale chains go away and cleanup leaves nothing behind', async () => {
    await apply([{ ns: 'prod', spec: { podSelector: {} } }]);
    await apply([]);
    const chains = parseExistingRules(await iptables.saveFilter()).chains;
    assert.deepEqual(chains, ['K8TS-NWPLCY-FORWARD']);
    await iptables.restore(buildCleanupRules(parseExistingRules(await iptables.saveFilter())));
    const left = await iptables.saveFilter();
    assert.doesNotMatch(left, /K8TS-NWPLCY/);
    assert.deepEqual(await reachable(ALL), ALL);
  });
});
