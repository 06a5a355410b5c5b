// The controller end to end: an API server in the test process, pods whose status carries the
// addresses of a network-namespace topology, and NetworkPolicies created, changed and deleted
// through the API; the rules land in the topology's node namespace and real connections show
// their effect.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { eventually } from '../../testing/control-plane-harness.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { NETWORK_POLICIES, NetworkPolicyController } from './controller.js';
import { iptablesRunner } from './iptables-runner.js';
import { createTopology, netnsUnavailable, type Topology } from './netns-topology.js';
import { parseExistingRules } from './policy-rules.js';

const skip = netnsUnavailable();

describe('NetworkPolicyController', { skip }, () => {
  let api: TestApi;
  let client: Client;
  let topo: Topology;
  let controller: NetworkPolicyController;
  const ac = new AbortController();
  let running: Promise<void>;
  let restores = 0;
  const warnings: string[] = [];
  const log = { info() {}, debug() {}, error: (o: unknown) => warnings.push(JSON.stringify(o)), warn: (o: unknown) => warnings.push(JSON.stringify(o)) };

  before(async () => {
    [api, topo] = await Promise.all([startTestApi(), createTopology({ prefix: `k8npc${process.pid % 100000}`, subnet: '10.99.42', pods: ['a', 'b', 'c'], ports: [8080] })]);
    client = api.client('netpol-test');
    for (const [name, labels] of [['prod', { env: 'prod' }], ['dev', { env: 'dev' }]] as const) await client.resource(R.namespaces).create(undefined, { metadata: { name, labels } });
    for (const [ns, name, key, app] of [['prod', 'client', 'a', 'client'], ['prod', 'web', 'b', 'web'], ['dev', 'client', 'c', 'client']] as const) {
      await client.resource(R.pods).create(ns, { metadata: { name, labels: { app } }, spec: { nodeName: 'node-1', containers: [{ name: 'main', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }] } });
      const ip = topo.pods[key].ip;
      await client.resource(R.pods).patch(ns, name, 'merge', { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, { subresource: 'status' });
    }
    const real = iptablesRunner({ netns: topo.node });
    const iptables = { saveFilter: () => real.saveFilter(), restore: (t: string) => (restores++, real.restore(t)) };
    controller = new NetworkPolicyController({ client, nodeName: 'node-1', iptables, log, batchMs: 20 });
    running = controller.run(ac.signal);
  });

  after(async () => {
    ac.abort();
    await running?.catch(() => {});
    await controller?.cleanup().catch(() => {});
    topo?.destroy();
    await api?.stop();
  });

  const chains = async () => parseExistingRules(await iptablesRunner({ netns: topo.node }).saveFilter()).chains;
  const webIngress = 'K8TS-NWPLCY-I-0A632A03';
  async function reachable(flows: [string, string][]): Promise<string> {
    const ok = await Promise.all(flows.map(([from, to]) => topo.connect(from, topo.pods[to].ip, 8080)));
    return flows.map(([f, t], i) => `${f}→${t}:${ok[i] ? 'open' : 'blocked'}`).join(' ');
  }

  test('syncNow applies the rules; with no policies nothing is blocked', async () => {
    await controller.syncNow();
    assert.deepEqual(await chains(), ['K8TS-NWPLCY-FORWARD']);
    assert.equal(await reachable([['a', 'b'], ['c', 'b']]), 'a→b:open c→b:open');
  });

  test('status churn that does not matter to policies applies nothing', async () => {
    const before = restores;
    const now = new Date().toISOString();
    await client.resource(R.pods).patch('prod', 'web', 'merge', { status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }, { subresource: 'status' });
    await client.resource(R.pods).patch('prod', 'web', 'merge', { metadata: { annotations: { touched: now } } });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(restores, before);
  });

  test('policies created, namespaces relabelled and policies deleted through the API take effect', async () => {
    const policies = client.resource(NETWORK_POLICIES);
    await policies.create('prod', { metadata: { name: 'web-from-team' }, spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'x' } } }] }] } });
    await eventually(async () => (await chains()).includes(webIngress), 'the ingress chain of prod/web');
    assert.equal(await reachable([['a', 'b'], ['c', 'b'], ['b', 'c']]), 'a→b:blocked c→b:blocked b→c:open');

    await client.resource(R.namespaces).patch(undefined, 'dev', 'merge', { metadata: { labels: { team: 'x' } } });
    await eventually(async () => (await reachable([['c', 'b']])) === 'c→b:open', 'dev/client let in after its namespace got team=x');
    assert.equal(await reachable([['a', 'b']]), 'a→b:blocked');

    await policies.delete('prod', 'web-from-team');
    await eventually(async () => !(await chains()).includes(webIngress), 'the ingress chain of prod/web removed');
    assert.equal(await reachable([['a', 'b'], ['c', 'b']]), 'a→b:open c→b:open');
  });

  test('a pod that goes away loses its chain', async () => {
    await client.resource(NETWORK_POLICIES).create('prod', { metadata: { name: 'deny' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    await eventually(async () => (await chains()).length === 5, 'four pod chains');
    assert.equal(await reachable([['a', 'b'], ['c', 'b'], ['c', 'a']]), 'a→b:blocked c→b:blocked c→a:blocked');
    await client.resource(R.pods).delete('prod', 'web', { gracePeriodSeconds: 0 });
    await eventually(async () => !(await chains()).includes(webIngress), 'the chains of the deleted pod removed');
    assert.deepEqual((await chains()).sort(), ['K8TS-NWPLCY-E-0A632A02', 'K8TS-NWPLCY-FORWARD', 'K8TS-NWPLCY-I-0A632A02']);
  });

  test('cleanup removes everything it added', async () => {
    ac.abort();
    await running;
    await controller.cleanup();
    assert.deepEqual(await chains(), []);
    assert.doesNotMatch(await iptablesRunner({ netns: topo.node }).saveFilter(), /K8TS/);
    assert.equal(await reachable([['c', 'a']]), 'c→a:open');
    assert.deepEqual(warnings, []);
  });
});
