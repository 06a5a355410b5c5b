// Lifecycle hooks with real commands (a runtime whose ExecSync runs them on this host) and a real
// HTTP server on 127.0.0.1.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { runHandler } from './hooks.js';

const hostExec = {
  async execSync(_id: string, cmd: string[]) {
    const r = spawnSync(cmd[0], cmd.slice(1));
    return { stdout: r.stdout, stderr: r.stderr, exit_code: r.status ?? -1 };
  },
} as unknown as ContainerRuntime;

const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: {} };
const web = { name: 'web', ports: [{ name: 'http', containerPort: 0 }] };

describe('lifecycle hooks', () => {
  let server: http.Server;
  let port: number;
  const paths: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      paths.push(`${req.url} ${req.headers['user-agent']}`);
      res.writeHead(req.url === '/fail' ? 500 : 200).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
    web.ports[0].containerPort = port;
  });
  after(() => server.close());

  test('exec: success is undefined; a failure carries the upstream message', async () => {
    assert.equal(await runHandler(pod, web, 'c1', { exec: { command: ['true'] } }, undefined, hostExec), undefined);
    const msg = await runHandler(pod, web, 'c1', { exec: { command: ['sh', '-c', 'echo out; echo err >&2; exit 3'] } }, undefined, hostExec);
    assert.equal(msg, 'Exec lifecycle hook ([sh -c echo out; echo err >&2; exit 3]) for Container "web" in Pod "p_default(u1)" failed - error: command \'sh -c echo out; echo err >&2; exit 3\' exited with 3: err\n, message: "out\\nerr\\n"');
  });

  test('httpGet: the pod IP and a named port; only transport errors fail (status codes are not checked)', async () => {
    assert.equal(await runHandler(pod, web, 'c1', { httpGet: { path: '/start', port: 'http' } }, '127.0.0.1', hostExec), undefined);
    assert.equal(await runHandler(pod, web, 'c1', { httpGet: { path: '/fail', port } }, '127.0.0.1', hostExec), undefined);
    assert.deepEqual(paths.slice(0, 2), ['/start kube-lifecycle/1.32', '/fail kube-lifecycle/1.32']);
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const closed = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const msg = await runHandler(pod, web, 'c1', { httpGet: { path: '/stop', port: closed } }, '127.0.0.1', hostExec);
    assert.equal(msg, `HTTP lifecycle hook (/stop) for Container "web" in Pod "p_default(u1)" failed - error: Get "http://127.0.0.1:${closed}/stop": dial tcp 127.0.0.1:${closed}: connect: connection refused`);
  });

  test('sleep: waits, and ends early with the upstream error when aborted', async () => {
    const t0 = Date.now();
    assert.equal(await runHandler(pod, web, 'c1', { sleep: { seconds: 0.2 } }, undefined, hostExec), undefined);
    assert.ok(Date.now() - t0 >= 190);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const msg = await runHandler(pod, web, 'c1', { sleep: { seconds: 30 } }, undefined, hostExec, { signal: ac.signal });
    assert.equal(msg, 'Sleep lifecycle hook (30) for Container "web" in Pod "p_default(u1)" failed - error: container terminated before sleep hook finished');
  });
});
