// Probe actions against real servers on 127.0.0.1: HTTP (status codes, headers, redirects,
// timeouts, HTTPS without verification), TCP, and gRPC health.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { healthServiceDefinition, grpcProbe, type ServingStatus } from './grpc-health.js';
import { expandStatic, httpProbe, tcpProbe } from './handlers.js';
import type { ContainerSpec } from './types.js';

const container: ContainerSpec = { name: 'web', ports: [{ name: 'http', containerPort: 0 }] };

function listen(server: http.Server | https.Server | net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe('httpGet probe', () => {
  let server: http.Server;
  let port: number;
  let seen: http.IncomingHttpHeaders | undefined;
  const sockets = new Set<net.Socket>();

  before(async () => {
    server = http.createServer((req, res) => {
      seen = req.headers;
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/ok') res.end('fine');
      else if (url.pathname === '/status') res.writeHead(Number(url.searchParams.get('code'))).end('body');
      else if (url.pathname === '/redirect-local') res.writeHead(302, { Location: '/ok' }).end();
      else if (url.pathname === '/redirect-away') res.writeHead(301, { Location: `http://localhost:${port}/ok` }).end('moved');
      else if (url.pathname === '/loop') res.writeHead(302, { Location: '/loop' }).end();
      else if (url.pathname === '/slow') setTimeout(() => res.end('late'), 3000).unref();
      else res.writeHead(404).end();
    });
    server.on('connection', (s) => sockets.add(s));
    port = await listen(server);
    container.ports![0].containerPort = port;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });

  test('2xx succeeds with the body as output; headers as upstream', async () => {
    const r = await httpProbe({ path: '/ok', port, httpHeaders: [{ name: 'X-Custom', value: 'a' }] }, container, '127.0.0.1', 1);
    assert.deepEqual(r, { result: 'success', output: 'fine' });
    assert.equal(seen!['user-agent'], 'kube-probe/1.32');
    assert.equal(seen!['accept'], '*/*');
    assert.equal(seen!['x-custom'], 'a');
    assert.equal(seen!['connection'], 'close');
  });

  test('port by container port name; Host and User-Agent headers can be overridden', async () => {
    const r = await httpProbe(
      { path: 'ok', port: 'http', httpHeaders: [{ name: 'Host', value: 'example.test' }, { name: 'User-Agent', value: 'mine' }] },
      container,
      '127.0.0.1',
      1,
    );
    assert.equal(r.result, 'success');
    assert.equal(seen!.host, 'example.test');
    assert.equal(seen!['user-agent'], 'mine');
  });

  test('status codes: 399 passes, 400 and 500 fail with the upstream text', async () => {
    assert.equal((await httpProbe({ path: '/status?code=204', port }, container, '127.0.0.1', 1)).result, 'success');
    const r500 = await httpProbe({ path: '/status?code=500', port }, container, '127.0.0.1', 1);
    assert.deepEqual(r500, { result: 'failure', output: 'HTTP probe failed with statuscode: 500' });
    assert.equal((await httpProbe({ path: '/status?code=400', port }, container, '127.0.0.1', 1)).output, 'HTTP probe failed with statuscode: 400');
  });

  test('redirects: followed on the same host, not to another host (warning), at most 10', async () => {
    assert.deepEqual(await httpProbe({ path: '/redirect-local', port }, container, '127.0.0.1', 1), { result: 'success', output: 'fine' });
    const away = await httpProbe({ path: '/redirect-away', port }, container, '127.0.0.1', 1);
    assert.deepEqual(away, { result: 'warning', output: 'Probe terminated redirects, Response body: moved' });
    const loop = await httpProbe({ path: '/loop', port }, container, '127.0.0.1', 1);
    assert.equal(loop.result, 'failure');
    assert.equal(loop.output, `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`);
  });

  test('connection refused and timeout read as Go says them', async () => {
    const closed = await closedPort();
    const refused = await httpProbe({ path: '/healthz', port: closed }, container, '127.0.0.1', 1);
    assert.deepEqual(refused, { result: 'failure', output: `Get "http://127.0.0.1:${closed}/healthz": dial tcp 127.0.0.1:${closed}: connect: connection refused` });
    const t0 = Date.now();
    const slow = await httpProbe({ path: '/slow', port }, container, '127.0.0.1', 1);
    assert.ok(Date.now() - t0 < 2000);
    assert.deepEqual(slow, { result: 'failure', output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
  });

  test('an unknown port name is a probe error, not a failure', async () => {
    const r = await httpProbe({ path: '/', port: 'nope' }, container, '127.0.0.1', 1);
    assert.equal(r.result, 'unknown');
    assert.equal(r.error, 'strconv.Atoi: parsing "nope": invalid syntax');
  });
});

describe('httpGet probe over HTTPS', () => {
  let dir: string;
  let server: https.Server;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-probe-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=probe-test'], { stdio: 'ignore' });
    server = https.createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (_req, res) => res.end('secure'));
    port = await listen(server);
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('self-signed certificates are not verified', async () => {
    assert.deepEqual(await httpProbe({ path: '/', port, scheme: 'HTTPS' }, container, '127.0.0.1', 2), { result: 'success', output: 'secure' });
  });
});

describe('tcpSocket probe', () => {
  test('open port succeeds, closed port fails with the Go text', async () => {
    const server = net.createServer((s) => s.destroy());
    const port = await listen(server);
    try {
      assert.deepEqual(await tcpProbe({ port }, container, '127.0.0.1', 1), { result: 'success', output: '' });
      const closed = await closedPort();
      assert.deepEqual(await tcpProbe({ port: closed }, container, '127.0.0.1', 1), {
        result: 'failure',
        output: `dial tcp 127.0.0.1:${closed}: connect: connection refused`,
      });
    } finally {
      server.close();
    }
  });
});

describe('grpc probe', () => {
  let server: grpc.Server;
  let port: number;
  const statuses: Record<string, ServingStatus> = { '': 'SERVING', db: 'NOT_SERVING' };
  before(async () => {
    server = new grpc.Server();
    server.addService(healthServiceDefinition, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const s = statuses[call.request.service];
        if (!s) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, { status: s });
      },
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  });
  after(() => server.forceShutdown());

  test('SERVING succeeds; NOT_SERVING and unknown services fail as upstream words them', async () => {
    assert.deepEqual(await grpcProbe({ port }, '127.0.0.1', 1), { result: 'success', output: 'service healthy' });
    assert.deepEqual(await grpcProbe({ port, service: 'db' }, '127.0.0.1', 1), { result: 'failure', output: 'service unhealthy (responded with "NOT_SERVING")' });
    assert.deepEqual(await grpcProbe({ port, service: 'x' }, '127.0.0.1', 1), {
      result: 'failure',
      output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
    });
  });

  test('nothing listening: a connect timeout within timeoutSeconds', async () => {
    const closed = await closedPort();
    const t0 = Date.now();
    const r = await grpcProbe({ port: closed }, '127.0.0.1', 1);
    assert.ok(Date.now() - t0 < 2500);
    assert.deepEqual(r, { result: 'failure', output: `timeout: failed to connect service "127.0.0.1:${closed}" within 1s: context deadline exceeded` });
  });

  test('a server without the health service', async () => {
    const bare = new grpc.Server();
    const p = await new Promise<number>((resolve, reject) => bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, x) => (e ? reject(e) : resolve(x))));
    try {
      const r = await grpcProbe({ port: p }, '127.0.0.1', 1);
      assert.equal(r.result, 'failure');
      assert.match(r.output, /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
    } finally {
      bare.forceShutdown();
    }
  });
});

test('exec commands expand $(VAR) from literal env values only', () => {
  const env = [{ name: 'A', value: 'x' }, { name: 'B', valueFrom: {} }];
  assert.deepEqual(expandStatic(['echo', '$(A)', '$(B)', '$$(A)', '$(C)', 'a$'], env), ['echo', 'x', '$(B)', '$(A)', '$(C)', 'a$']);
});
