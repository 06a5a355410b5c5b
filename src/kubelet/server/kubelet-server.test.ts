// The kubelet API's authentication and plain endpoints, with a real log file and no runtime.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensurePKI, issueCert, type PKI } from '../../apiserver/pki/pki.js';
import { formatCriLogLine } from '../logs/cri-log.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { KubeletServer } from './kubelet-server.js';

describe('KubeletServer', () => {
  let dir: string;
  let pki: PKI;
  let server: KubeletServer;
  let other: { cert: string; key: string };
  let running = false;
  let statusCalls = 0;

  const get = (path: string, client?: { cert: string; key: string }, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path, ca: pki.caCert, cert: client?.cert, key: client?.key, headers, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-kubelet-srv-'));
    pki = await ensurePKI({ dataDir: dir });
    const serving = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: 'system:node:n1', sans: ['127.0.0.1'], usage: 'server' });
    other = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: 'jane', groups: ['devs'], usage: 'client' });
    const logPath = join(dir, '0.log');
    const t = new Date('2026-01-02T03:04:05Z');
    writeFileSync(logPath, formatCriLogLine({ time: t, stream: 'stdout', content: 'a' }) + formatCriLogLine({ time: t, stream: 'stderr', content: 'b' }));
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default', uid: 'u1' } };
    server = new KubeletServer({
      port: 0,
      bindAddress: '127.0.0.1',
      tls: { cert: serving.cert, key: serving.key, ca: pki.caCert },
      deps: {
        runtime: {
          containerStatus: async () => {
            statusCalls++;
            return { status: { state: running ? 'CONTAINER_RUNNING' : 'CONTAINER_EXITED' } };
          },
        } as unknown as ContainerRuntime,
        findPod: (ns, name) => (ns === 'default' && name === 'web' ? { pod } : undefined),
        findContainer: async (_ns, _pod, container) => (container === 'c' ? { containerId: 'c1', logPath } : `container ${container} is not valid for pod web`),
        listPods: () => [pod],
        statsSummary: async () => ({ node: { nodeName: 'n1' } }),
        metrics: async () => 'up 1\n',
      },
    });
    await server.start();
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 without a client certificate and 403 to other users', async () => {
    const anon = await get('/healthz');
    assert.equal(anon.status, 401);
    assert.equal(JSON.parse(anon.body).reason, 'Unauthorized');
    const jane = await get('/pods', other);
    assert.equal(jane.status, 403);
    assert.match(JSON.parse(jane.body).message, /user=jane/);
  });

  it('a follower that goes away stops the kubelet reading', async () => {
    running = true;
    try {
      const req = request({
        host: '127.0.0.1',
        port: server.port,
        path: '/containerLogs/default/web/c?follow=true',
        ca: pki.caCert,
        cert: pki.kubeletClientCert,
        key: pki.kubeletClientKey,
        agent: false,
      });
      const first = await new Promise<string>((resolve, reject) => {
        req.on('response', (res) => res.once('data', (d) => resolve(String(d))));
        req.on('error', reject);
        req.end();
      });
      assert.match(first, /^a\n/);
      await new Promise((r) => setTimeout(r, 1200));
      assert.ok(statusCalls > 0, 'following asks whether the container runs');
      req.destroy();
      await new Promise((r) => setTimeout(r, 300));
      const after = statusCalls;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(statusCalls, after);
    } finally {
      running = false;
    }
  });

  it('serves health, pods, stats, metrics and logs to the API server and admins', async () => {
    const apiserver = { cert: pki.kubeletClientCert, key: pki.kubeletClientKey };
    assert.deepEqual(await get('/healthz', apiserver), { status: 200, body: 'ok' });
    assert.equal(JSON.parse((await get('/pods', apiserver)).body).items[0].metadata.name, 'web');
    assert.equal(JSON.parse((await get('/stats/summary', { cert: pki.adminCert, key: pki.adminKey })).body).node.nodeName, 'n1');
    assert.equal((await get('/metrics', apiserver)).body, 'up 1\n');
    assert.deepEqual(await get('/containerLogs/default/web/c', apiserver), { status: 200, body: 'a\nb\n' });
    assert.deepEqual(await get('/containerLogs/default/web/c?tailLines=1&timestamps=true', apiserver), { status: 200, body: '2026-01-02T03:04:05.000000000Z b\n' });
    // follow ends by itself: the container is not running.
    assert.deepEqual(await get('/containerLogs/default/web/c?follow=true', apiserver), { status: 200, body: 'a\nb\n' });
    assert.deepEqual(await get('/containerLogs/default/web/x', apiserver), { status: 400, body: 'container x is not valid for pod web' });
    assert.equal((await get('/containerLogs/default/nope/c', apiserver)).status, 404);
    assert.equal((await get('/containerLogs/default/web/c?tailLines=abc', apiserver)).status, 400);
    assert.equal((await get('/exec/default/web/c?command=ls', apiserver)).status, 400);
  });
});
