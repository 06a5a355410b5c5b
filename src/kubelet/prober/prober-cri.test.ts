// Probes of a real busybox container on a real containerd: an exec liveness probe that starts
// failing when its file is removed, and a readiness probe over HTTP to the pod IP.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { startTestContainerd, type TestContainerd } from '../cri/testing.js';
import { execProbe } from './handlers.js';
import { ProberManager } from './manager.js';

const until = async (cond: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('probes against a busybox container', { timeout: 180_000 }, () => {
  let t: TestContainerd;
  let m: ProberManager | undefined;
  before(async () => {
    t = await startTestContainerd();
  });
  after(async () => {
    m?.stop();
    await t?.stop();
  });

  it('liveness exec fails after the file is removed; readiness httpGet reaches the pod IP', async () => {
    const config = t.sandboxConfig('live');
    const sandbox = await t.runtime.runPodSandbox(config);
    const podIP = (await t.runtime.podSandboxStatus(sandbox)).status.network!.ip;
    const cid = await t.runtime.createContainer(
      sandbox,
      {
        metadata: { name: 'web', attempt: 0 },
        image: { image: t.images.busybox },
        command: ['sh', '-c', 'touch /tmp/healthy; mkdir -p /www; echo ok > /www/index.html; httpd -f -p 8080 -h /www'],
        log_path: 'web/0.log',
      },
      config,
    );
    await t.runtime.startContainer(cid);
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'live', namespace: 'default', uid: config.metadata.uid },
      spec: {
        restartPolicy: 'Always',
        containers: [
          {
            name: 'web',
            ports: [{ name: 'http', containerPort: 8080 }],
            livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 0.5, failureThreshold: 2, timeoutSeconds: 5 },
            readinessProbe: { httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 0.5 },
          },
        ],
      },
    };
    const events: string[] = [];
    const kills: string[][] = [];
    m = new ProberManager({
      runtime: t.runtime,
      recorder: { event: (_o: unknown, _t: string, reason: string, msg: string) => events.push(`${reason}: ${msg}`) } as unknown as EventRecorder,
      onKill: (uid, name, id, msg) => kills.push([uid, name, id, msg]),
    });
    const { status } = await t.runtime.containerStatus(cid);
    m.updatePod(pod, [{ name: 'web', containerId: cid, startedAt: new Date(Number(BigInt(status.started_at) / 1_000_000n)), running: true }], podIP);
    await until(() => m!.isReady(pod.metadata.uid!, 'web'));
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(kills.length, 0, `no kill while healthy: ${events.join('; ')}`);

    // An exec probe past its timeoutSeconds fails with upstream's text.
    assert.deepEqual(await execProbe(t.runtime, cid, { command: ['sleep', '5'] }, { name: 'web' }, 1), { result: 'failure', output: 'command "sleep 5" timed out' });

    await t.runtime.execSync(cid, ['rm', '/tmp/healthy'], 5);
    await until(() => kills.length > 0);
    assert.deepEqual(kills[0], [pod.metadata.uid, 'web', cid, 'Container web failed liveness probe, will be restarted']);
    assert.ok(events.includes("Unhealthy: Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n"), events.join('; '));
    m.removePod(pod.metadata.uid!);
  });
});
