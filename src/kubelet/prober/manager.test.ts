// The probe manager with real probe targets: exec probes run real commands (a runtime whose
// ExecSync runs the command on this host), HTTP probes hit a real server on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import type { ContainerRuntime, ExecSyncResponse } from '../runtime/runtime.js';
import { RuntimeError } from '../runtime/runtime.js';
import { ProberManager } from './manager.js';

/** ExecSync for real, on the host (the container ID is ignored). */
const hostExec = {
  execSync(_id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResponse> {
    return new Promise((resolve, reject) => {
      const p = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      p.stdout.on('data', (b) => out.push(b));
      p.stderr.on('data', (b) => err.push(b));
      const timer = timeoutSeconds ? setTimeout(() => (p.kill('SIGKILL'), reject(new RuntimeError(4, 'context deadline exceeded', 'ExecSync'))), timeoutSeconds * 1000) : undefined;
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), exit_code: code ?? -1 });
      });
    });
  },
} as unknown as ContainerRuntime;

interface Event {
  type: string;
  reason: string;
  message: string;
}
function recorder(): { rec: EventRecorder; events: Event[] } {
  const events: Event[] = [];
  return { events, rec: { event: (_o: unknown, type: string, reason: string, message: string) => events.push({ type, reason, message }) } as unknown as EventRecorder };
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

function pod(uid: string, container: Record<string, unknown>, extra: Record<string, unknown> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid }, spec: { restartPolicy: 'Always', containers: [{ name: 'web', ...container }], ...extra } };
}

describe('ProberManager', () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  let healthy = true;
  const managers: ProberManager[] = [];
  const newManager = (o: Partial<ConstructorParameters<typeof ProberManager>[0]> = {}) => {
    const m = new ProberManager({ runtime: hostExec, ...o });
    managers.push(m);
    return m;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-prober-'));
    server = http.createServer((_q, r) => r.writeHead(healthy ? 200 : 503).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    for (const m of managers) m.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('liveness exec fails failureThreshold times: onKill with the upstream message and Unhealthy events', async () => {
    const file = join(dir, 'alive');
    writeFileSync(file, '');
    const { rec, events } = recorder();
    const kills: string[][] = [];
    const m = newManager({ recorder: rec, onKill: (uid, name, id, msg) => kills.push([uid, name, id, msg]) });
    const p = pod('u1', { livenessProbe: { exec: { command: ['sh', '-c', `test -f ${file} || { echo gone; exit 1; }`] }, periodSeconds: 0.1, failureThreshold: 2 } });
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }]);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(kills.length, 0);
    assert.equal(m.result('u1', 'web', 'liveness'), 'success');
    unlinkSync(file);
    await until(() => kills.length > 0);
    assert.deepEqual(kills[0], ['u1', 'web', 'c1', 'Container web failed liveness probe, will be restarted']);
    assert.equal(m.result('u1', 'web', 'liveness'), 'failure');
    assert.deepEqual(events.slice(0, 2), [
      { type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: gone\n' },
      { type: 'Warning', reason: 'Unhealthy', message: 'Liveness probe failed: gone\n' },
    ]);
    // On hold until a new container appears: no second kill for the same container.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(kills.length, 1);
    writeFileSync(file, '');
    m.updatePod(p, [{ name: 'web', containerId: 'c2', startedAt: new Date(), running: true }]);
    await until(() => m.result('u1', 'web', 'liveness') === 'success');
    m.removePod('u1');
    assert.equal(m.workerCount(), 0);
  });

  test('readiness over HTTP: not ready until successThreshold, reset on a new container ID', async () => {
    healthy = true;
    const changes: string[] = [];
    const m = newManager({ onResult: (_u, n, k, ok) => changes.push(`${n}/${k}/${ok}`) });
    const p = pod('u2', { readinessProbe: { httpGet: { path: '/', port }, periodSeconds: 0.1, successThreshold: 2 } });
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }], '127.0.0.1');
    assert.equal(m.isReady('u2', 'web'), false);
    await until(() => m.isReady('u2', 'web'));
    assert.deepEqual(changes, ['web/readiness/false', 'web/readiness/true']);
    healthy = false;
    await until(() => !m.isReady('u2', 'web'));
    healthy = true;
    await until(() => m.isReady('u2', 'web'));
    m.updatePod(p, [{ name: 'web', containerId: 'c2', startedAt: new Date(), running: true }], '127.0.0.1');
    assert.equal(m.isReady('u2', 'web'), false, 'a restarted container starts not ready');
    await until(() => m.isReady('u2', 'web'));
    m.updatePod(p, [{ name: 'web', containerId: 'c2', startedAt: new Date(), running: false }], '127.0.0.1');
    assert.equal(m.isReady('u2', 'web'), false);
    m.removePod('u2');
  });

  test('no readiness probe: ready once running; initialDelaySeconds holds probing', async () => {
    const kills: string[] = [];
    const m = newManager({ onKill: (_u, _n, _id, msg) => kills.push(msg) });
    const p = pod('u3', { livenessProbe: { exec: { command: ['false'] }, periodSeconds: 0.1, failureThreshold: 1, initialDelaySeconds: 30 } });
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }]);
    assert.equal(m.isReady('u3', 'web'), true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(kills.length, 0);
    assert.equal(m.result('u3', 'web', 'liveness'), 'success');
    m.removePod('u3');
  });

  test('startup probe gates readiness and liveness; its failure kills with the startup message', async () => {
    const file = join(dir, 'started');
    const kills: string[] = [];
    const { rec, events } = recorder();
    const m = newManager({ recorder: rec, onKill: (_u, _n, _id, msg) => kills.push(msg) });
    const p = pod(
      'u4',
      {
        startupProbe: { exec: { command: ['test', '-f', file] }, periodSeconds: 0.1, failureThreshold: 100 },
        readinessProbe: { exec: { command: ['true'] }, periodSeconds: 0.1 },
        livenessProbe: { exec: { command: ['false'] }, periodSeconds: 0.1, failureThreshold: 1 },
      },
      { restartPolicy: 'Never' },
    );
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }]);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(m.isStarted('u4', 'web'), false);
    assert.equal(m.isReady('u4', 'web'), false);
    assert.equal(kills.length, 0, 'liveness does not run before startup succeeds');
    assert.ok(events.every((e) => e.message.startsWith('Startup probe failed')));
    writeFileSync(file, '');
    await until(() => m.isStarted('u4', 'web') && m.isReady('u4', 'web'));
    await until(() => kills.length === 1);
    assert.equal(kills[0], 'Container web failed liveness probe', 'restartPolicy Never: no "will be restarted"');
    m.removePod('u4');

    let grace: number | undefined;
    const m2 = newManager({ onKill: (_u, _n, _id, msg, g) => (kills.push(msg), (grace = g)) });
    m2.updatePod(pod('u5', { startupProbe: { exec: { command: ['false'] }, periodSeconds: 0.1, failureThreshold: 2, terminationGracePeriodSeconds: 7 } }), [
      { name: 'web', containerId: 'c1', startedAt: new Date(), running: true },
    ]);
    await until(() => kills.length === 2);
    assert.equal(kills[1], 'Container web failed startup probe, will be restarted');
    assert.equal(grace, 7, "the probe's terminationGracePeriodSeconds");
    m2.removePod('u5');
  });

  test('gone containers lose their workers; terminal pods stop probing', async () => {
    const m = newManager();
    const p = pod('u6', { readinessProbe: { exec: { command: ['true'] }, periodSeconds: 0.1 }, livenessProbe: { exec: { command: ['true'] }, periodSeconds: 0.1 } });
    m.updatePod(p, []);
    assert.equal(m.workerCount('u6'), 0, 'no worker before the container exists');
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }]);
    assert.equal(m.workerCount('u6'), 2);
    m.updatePod(p, []);
    assert.equal(m.workerCount('u6'), 0);
    m.updatePod(p, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: true }]);
    assert.equal(m.workerCount('u6'), 2);
    m.updatePod({ ...p, status: { phase: 'Succeeded' } }, [{ name: 'web', containerId: 'c1', startedAt: new Date(), running: false }]);
    assert.equal(m.workerCount('u6'), 0);
    m.removePod('u6');
  });
});
