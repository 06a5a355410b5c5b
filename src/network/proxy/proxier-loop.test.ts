// The sync loop against a recording IptablesRunner (no iptables at all): bursts of changes are
// coalesced by minSyncPeriod, later syncs are partial, bad options are refused clearly.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { eventually } from '../../testing/control-plane-harness.js';
import type { IptablesRunner } from './iptables.js';
import { ServiceProxy } from './proxier.js';

const log = { info() {}, warn() {}, error() {}, debug() {} };

class RecordingRunner implements IptablesRunner {
  restores: string[] = [];
  async save(): Promise<string> {
    return '';
  }
  async restore(rules: string): Promise<void> {
    this.restores.push(rules);
  }
  async chainExists(): Promise<boolean> {
    return true;
  }
  async conntrackDelete(): Promise<boolean> {
    return false;
  }
  async setSysctl(): Promise<void> {}
}

describe('ServiceProxy sync loop', () => {
  let api: TestApi;
  let client: Client;
  const ac = new AbortController();
  let running: Promise<void>;
  const runner = new RecordingRunner();

  before(async () => {
    api = await startTestApi();
    client = api.client('proxy-loop-test');
    running = new ServiceProxy({ client, nodeName: 'n1', nodeIPs: ['192.168.1.10'], iptables: runner, minSyncPeriodMs: 400, syncPeriodMs: 60_000, log }).run(ac.signal);
    await eventually(() => runner.restores.length === 1, 'first sync');
  });

  after(async () => {
    ac.abort();
    await running;
    await api.stop();
  });

  test('a burst of 20 Services is coalesced into a few syncs, each partial', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.resource(R.services).create('default', { metadata: { name: `s${i}` }, spec: { ports: [{ port: 80, protocol: 'TCP' }] } }),
      ),
    );
    await eventually(() => runner.restores.at(-1)!.includes('default/s19 has no endpoints') && runner.restores.at(-1)!.includes('default/s0 has no endpoints'), 'all 20 in the rules');
    const syncs = runner.restores.length - 1;
    assert.ok(syncs <= 3, `${syncs} syncs for a burst of 20 changes`);
    assert.ok(runner.restores[0].includes('-I PREROUTING'), 'the first sync installs the jumps');
    assert.ok(!runner.restores.at(-1)!.includes('-I PREROUTING'), 'later ones do not');
  });

  test('bad options give clear errors', () => {
    assert.throws(() => new ServiceProxy({ client, nodeName: 'n1', nodeIPs: ['fe80::1'], log }), /node IP "fe80::1" is not an IPv4 address/);
    assert.throws(() => new ServiceProxy({ client, nodeName: 'n1', nodeIPs: [], clusterCIDR: '10.42.0.0', log }), /cluster CIDR "10.42.0.0" is not an IPv4 CIDR/);
  });
});
