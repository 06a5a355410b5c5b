// The node agent survives its own death and containerd's: killed with SIGKILL and started again,
// it adopts the running containers without restarting them; containerd killed, it is restarted
// and the pods carry on.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, it } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';
import { BUSYBOX } from './streaming.js';

export function resilience(srv: () => K8tsServer, ns: string, nodeName: () => string): void {
  const k = kubectlOf(srv);
  const status = async (name: string) => JSON.parse(await k(['get', 'pod', name, '-n', ns, '-o', 'json'])).status;
  before(async () => {
    await k(['create', 'namespace', ns]);
    await k(['run', 'steady', '-n', ns, `--image=${BUSYBOX}`, '--', 'sleep', '100000']);
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/steady', '--timeout=60s'], { timeoutMs: 70_000 });
  });

  it('SIGKILL of the agent (and server) and a restart leave running containers untouched', async () => {
    const before = await status('steady');
    const containerID = before.containerStatuses[0].containerID;
    await srv().kill9();
    await srv().restart();
    await eventually(async () => (await k(['get', 'node', nodeName(), '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', 'the node Ready again', 60_000);
    // A pod created after the restart runs too.
    await k(['run', 'after', '-n', ns, `--image=${BUSYBOX}`, '--', 'sleep', '100000']);
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/after', '--timeout=60s'], { timeoutMs: 70_000 });
    const now = await status('steady');
    assert.equal(now.containerStatuses[0].containerID, containerID);
    assert.equal(now.containerStatuses[0].restartCount, 0);
    assert.equal(now.phase, 'Running');
    assert.equal(now.containerStatuses[0].ready, true);
  });

  it('killing containerd: the agent restarts it and the pods recover', async () => {
    const pidFile = join(srv().dataDir, 'agent', 'containerd', 'containerd.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const containerID = (await status('steady')).containerStatuses[0].containerID;
    process.kill(pid, 'SIGKILL');
    await eventually(async () => {
      const p = Number(readFileSync(pidFile, 'utf8').trim());
      return p !== pid;
    }, 'a new containerd', 60_000);
    await eventually(async () => (await k(['get', 'node', nodeName(), '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', 'the node Ready', 60_000);
    assert.equal(await k(['exec', '-n', ns, 'steady', '--', 'echo', 'alive']), 'alive\n');
    const now = await status('steady');
    assert.equal(now.containerStatuses[0].containerID, containerID);
    assert.equal(now.containerStatuses[0].restartCount, 0);
  });
}
