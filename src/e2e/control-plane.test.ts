// Control-plane acceptance: `k8ts server` (scheduler + controllers) with simulated nodes, driven
// by the real kubectl.

import { after, before, describe } from 'node:test';
import { startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { kubectlOf, eventually } from './control-plane/harness.js';
import { resilience } from './control-plane/resilience.js';
import { scheduling } from './control-plane/scheduling.js';
import { workloads } from './control-plane/workloads.js';
import { cronCheck, sets } from './control-plane/sets.js';

describe('control plane on simulated nodes', { concurrency: false }, () => {
  let srv: K8tsServer;
  const agents = new Map<string, { stop(): Promise<void> }>();
  before(async () => {
    srv = await startK8ts({ extraArgs: ['--node-monitor-grace-period', '6s'] });
    const k = kubectlOf(() => srv);
    for (const [name, zone, taint] of [['sim-a', 'a', ''], ['sim-b', 'b', ''], ['sim-c', 'c', 'dedicated=infra:NoSchedule']]) {
      agents.set(
        name,
        await srv.startAgent('agent', ['--node-name', name, '--node-labels', `zone=${zone}`, '--capacity', 'cpu=2,memory=8Gi,pods=110', '--lease-renew-interval', '1s', ...(taint ? ['--register-with-taints', taint] : [])]),
      );
    }
    await eventually(async () => (await k(['get', 'nodes', '--no-headers'])).split('\n').filter((l) => /\sReady\s/.test(l)).length === 3, 'three Ready nodes');
  });
  after(async () => {
    for (const a of agents.values()) await a.stop();
    await srv?.stop();
  });
  const get = () => srv;
  describe('sets and cron', () => sets(get, 'sets'));
  describe('workloads', () => workloads(get, 'apps'));
  describe('scheduling', () => scheduling(get, 'sched'));
  describe('resilience', () => resilience(get, 'resil', async (name) => agents.get(name)!.stop()));
  describe('cron', () => cronCheck(get, 'sets'));
});
