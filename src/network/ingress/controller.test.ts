// The controller against a real in-process API server, with real HTTP servers on 127.0.0.x
// standing in for pods (their addresses go into EndpointSlices created here).

import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import type { KubeObject } from '../../api/meta/v1.js';
import { issueCert } from '../../apiserver/pki/pki.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { DEFAULT_CLASS_ANNOTATION, IngressController, INGRESS_CLASSES, INGRESSES } from './controller.js';
import { DEFAULT_PUBLISHED_SERVICE } from './published-service.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A pod stand-in: answers with who it is and what it got. */
function startBackend(name: string, host: string, port = 0): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/destroy') return void req.socket.destroy();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name}:${String(m)}`)));
  return new Promise((r) => server.listen(port, host, () => r(server)));
}

function request(port: number, opts: { host?: string; path?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...opts.headers };
    if (opts.host !== undefined) headers.host = opts.host;
    const req = http.request({ host: '127.0.0.1', port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const be = (service: string, port: { number?: number; name?: string } = { number: 80 }) => ({ service: { name: service, port } });

describe('IngressController', () => {
  let api: TestApi;
  let client: Client;
  let ctl: IngressController;
  let port: number;
  let tlsPort: number;
  let backendPort: number;
  const backends: http.Server[] = [];
  const warnings: string[] = [];

  const create = (gvr: typeof INGRESSES, obj: Record<string, unknown>) => client.resource(gvr).create('default', obj as KubeObject);
  const get = (host: string, path = '/', extra: Parameters<typeof request>[1] = {}) => request(port, { host, path, ...extra });
  const json = (r: Reply) => JSON.parse(r.body) as { name: string; url: string; method: string; headers: Record<string, string>; body: string };

  async function service(name: string, ports: { name?: string; port: number }[]): Promise<void> {
    await create(R.services, { metadata: { name }, spec: { ports: ports.map((p) => ({ ...p, targetPort: 8080, protocol: 'TCP' })) } });
  }
  async function slice(service: string, addresses: string[], portName = 'http', name = `${service}-x`): Promise<void> {
    await create(R.endpointslices, {
      metadata: { name, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      ports: [{ name: portName, port: backendPort, protocol: 'TCP' }],
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    });
  }
  async function ingress(name: string, spec: Record<string, unknown>): Promise<void> {
    await create(INGRESSES, { metadata: { name }, spec });
  }
  async function served(host: string, path = '/', expectStatus = 200): Promise<Reply> {
    return until(async () => {
      const r = await get(host, path);
      return r.status === expectStatus && r;
    }, `${host}${path} → ${expectStatus}`);
  }

  before(async () => {
    api = await startTestApi();
    client = api.client('ingress-test');
    const a = await startBackend('a', '127.0.0.2');
    backendPort = (a.address() as AddressInfo).port;
    backends.push(a, await startBackend('b', '127.0.0.3', backendPort), await startBackend('c', '127.0.0.4', backendPort));
    const log = { info() {}, error: (_o: unknown, m?: string) => warnings.push(`error: ${m}`), warn: (_o: unknown, m?: string) => warnings.push(m ?? '') };
    ctl = new IngressController({ client: api.client('k8ts-ingress'), httpPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', log, addresses: ['192.0.2.10'], publish: DEFAULT_PUBLISHED_SERVICE, metricsPort: 0, connectTimeoutMs: 1_000, readTimeoutMs: 5_000 });
    await ctl.start();
    ({ http: port, https: tlsPort } = ctl.ports);

    await service('svc-a', [{ name: 'http', port: 80 }]);
    await slice('svc-a', ['127.0.0.2']);
    await service('svc-b', [{ name: 'web', port: 8000 }, { name: 'http', port: 80 }]);
    await slice('svc-b', ['127.0.0.3']);
  });

  after(async () => {
    await ctl?.stop();
    for (const b of backends) {
      b.closeAllConnections();
      await new Promise((r) => b.close(r));
    }
    await api?.stop();
  });

  test('creates the default IngressClass k8ts', async () => {
    const cls = await until(() => client.resource(INGRESS_CLASSES).get(undefined, 'k8ts').catch(() => undefined), 'IngressClass');
    assert.equal((cls as Record<string, any>).spec.controller, 'k8ts.io/ingress'); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(cls.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION], 'true');
  });

  test('a second controller does not take the default; a deleted IngressClass comes back', async () => {
    const second = new IngressController({ client: api.client('k8ts-ingress-2'), httpPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', className: 'second', log: { info() {}, warn() {}, error() {} } });
    try {
      await second.start();
      const cls = await until(() => client.resource(INGRESS_CLASSES).get(undefined, 'second').catch(() => undefined), 'IngressClass second');
      assert.equal(cls.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION], undefined);
      assert.equal(second.serves({ metadata: { name: 'x', namespace: 'default' }, spec: {} } as KubeObject), false);
    } finally {
      await second.stop();
    }
    await client.resource(INGRESS_CLASSES).delete(undefined, 'second');
    await client.resource(INGRESS_CLASSES).delete(undefined, 'k8ts');
    const back = await until(() => client.resource(INGRESS_CLASSES).get(undefined, 'k8ts').catch(() => undefined), 'IngressClass k8ts again');
    assert.equal(back.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION], 'true');
  });

  test('404 without a matching rule; Exact beats Prefix; port by number and by name; forwarded headers', async () => {
    assert.equal((await get('nothing.test')).status, 404);
    assert.match((await get('nothing.test')).body, /404 Not Found/);
    await ingress('paths', {
      ingressClassName: 'k8ts',
      rules: [
        {
          host: 'paths.test',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: be('svc-a') },
              { path: '/api', pathType: 'Exact', backend: be('svc-b', { name: 'http' }) },
              { path: '/api/v2', pathType: 'Prefix', backend: be('svc-b', { number: 80 }) },
            ],
          },
        },
      ],
    });
    const r = await served('paths.test', '/api');
    assert.equal(json(r).name, 'b', 'Exact /api → svc-b by port name');
    assert.equal(json(await get('paths.test', '/api/')).name, 'a', 'Exact does not match /api/');
    assert.equal(json(await get('paths.test', '/api/v2/x?q=1')).name, 'b');
    assert.equal(json(await get('paths.test', '/api/v2/x?q=1')).url, '/api/v2/x?q=1');
    assert.equal(json(await get('paths.test', '/api/v2x')).name, 'a', 'Prefix is element-wise');
    const h = json(await get('PATHS.test:8080', '/hello', { headers: { 'x-forwarded-for': '6.6.6.6' } })).headers;
    assert.equal(h['x-forwarded-for'], '127.0.0.1', 'the client address replaces a forged one');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'PATHS.test:8080');
    assert.equal(h.host, 'PATHS.test:8080', 'Host is passed through');
    // Streaming request body.
    const post = json(await get('paths.test', '/upload', { method: 'POST', body: 'x'.repeat(200_000) }));
    assert.equal(post.body.length, 200_000);
  });

  test('status.loadBalancer.ingress gets the node addresses', async () => {
    const ing = await until(async () => {
      const i = (await client.resource(INGRESSES).get('default', 'paths')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      return i.status?.loadBalancer?.ingress?.length && i;
    }, 'status');
    assert.deepEqual(ing.status.loadBalancer.ingress, [{ ip: '192.0.2.10' }]);
  });

  test('publishes itself as the LoadBalancer kube-system/k8ts-ingress; Ingresses report its addresses; its endpoints come back', async () => {
    const svc = (await client.resource(R.services).get('kube-system', 'k8ts-ingress')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(svc.spec.type, 'LoadBalancer');
    assert.equal(svc.spec.selector, undefined);
    assert.deepEqual(svc.spec.ports.map((p: { name: string; port: number; targetPort: number }) => [p.name, p.port, p.targetPort]), [['http', 80, port], ['https', 443, tlsPort]]);
    const sliceOf = async () => (await client.resource(R.endpointslices).get('kube-system', 'k8ts-ingress').catch(() => undefined)) as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
    const slice = (await sliceOf())!;
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'k8ts-ingress');
    assert.deepEqual(slice.endpoints.map((e: { addresses: string[] }) => e.addresses), [['192.0.2.10']]);
    assert.deepEqual(slice.ports, [{ name: 'http', port, protocol: 'TCP' }, { name: 'https', port: tlsPort, protocol: 'TCP' }]);
    const eps = (await client.resource(R.endpoints).get('kube-system', 'k8ts-ingress')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(eps.subsets[0].addresses, [{ ip: '192.0.2.10' }]);
    // A load balancer (ServiceLB) gives the Service the nodes' addresses: the Ingresses follow.
    const statusOf = async () => ((await client.resource(INGRESSES).get('default', 'paths')) as Record<string, any>).status?.loadBalancer?.ingress; // eslint-disable-line @typescript-eslint/no-explicit-any
    await client.resource(R.services).patch('kube-system', 'k8ts-ingress', 'merge', { status: { loadBalancer: { ingress: [{ ip: '10.0.0.11' }, { ip: '10.0.0.12' }] } } }, { subresource: 'status' });
    await until(async () => JSON.stringify(await statusOf()) === JSON.stringify([{ ip: '10.0.0.11' }, { ip: '10.0.0.12' }]), 'Ingress status from the published Service');
    // A deleted EndpointSlice is written again.
    await client.resource(R.endpointslices).delete('kube-system', 'k8ts-ingress');
    await until(async () => (await sliceOf())?.endpoints?.[0]?.addresses?.[0] === '192.0.2.10', 'EndpointSlice restored');
    await client.resource(R.services).patch('kube-system', 'k8ts-ingress', 'merge', { status: { loadBalancer: { ingress: null } } }, { subresource: 'status' });
    await until(async () => JSON.stringify(await statusOf()) === JSON.stringify([{ ip: '192.0.2.10' }]), 'back to the own address');
  });

  test('wildcard hosts, Ingresses of other classes are ignored, then the default backend', async () => {
    await ingress('wild', { rules: [{ host: '*.wild.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-b', { name: 'http' }) }] } }] });
    assert.equal(json(await served('x.wild.test')).name, 'b', 'no class: served as the default class');
    assert.equal((await get('a.b.wild.test')).status, 404);
    await ingress('other', { ingressClassName: 'nginx', rules: [{ host: 'other.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-a') }] } }] });
    await ingress('default-be', { ingressClassName: 'k8ts', defaultBackend: be('svc-a') });
    assert.equal(json(await served('unknown.test')).name, 'a');
    assert.equal(json(await get('other.test')).name, 'a', 'other.test goes to the default backend, not to its foreign Ingress');
  });

  test('round-robin over ready endpoints, retry when one refuses', async () => {
    await service('svc-rr', [{ name: 'http', port: 80 }]);
    // 127.0.0.9 has nothing listening: connections are refused.
    await slice('svc-rr', ['127.0.0.9', '127.0.0.3', '127.0.0.4']);
    await ingress('rr', { rules: [{ host: 'rr.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-rr') }] } }] });
    await until(async () => json(await get('rr.test')).name !== 'a', 'rr.test routed (not the default backend)');
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await get('rr.test');
      assert.equal(r.status, 200);
      names.add(json(r).name);
    }
    assert.deepEqual([...names].sort(), ['b', 'c']);
    for (let i = 0; i < 3; i++) {
      const r = await get('rr.test', '/post', { method: 'POST', body: `body-${i}-`.repeat(10_000) });
      assert.equal(json(r).body, `body-${i}-`.repeat(10_000), 'the body arrives whole after a retry');
    }
    assert.match(ctl.metrics(), /k8ts_ingress_upstream_retries_total [1-9]/);
  });

  test('an ExternalName Service proxies to the named host', async () => {
    await create(R.services, { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: '127.0.0.4', ports: [{ name: 'http', port: backendPort }] } });
    await ingress('ext', { rules: [{ host: 'ext.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('ext', { name: 'http' }) }] } }] });
    // Until the rule is seen, the default backend (svc-a) answers.
    await until(async () => json(await get('ext.test')).name === 'c', 'ext.test → 127.0.0.4');
  });

  test('503 without endpoints or Service (logged once), 502 on a backend error', async () => {
    await service('svc-empty', [{ name: 'http', port: 80 }]);
    await ingress('empty', { rules: [{ host: 'empty.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-empty') }] } }] });
    const r = await served('empty.test', '/', 503);
    assert.match(r.body, /503 Service Temporarily Unavailable/);
    await ingress('missing', { rules: [{ host: 'missing.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('no-such-svc') }] } }] });
    await served('missing.test', '/', 503);
    await get('missing.test');
    assert.equal(warnings.filter((w) => w.includes('no-such-svc')).length, 1, warnings.join('\n'));
    // Fixed, then broken again: logged again.
    await service('no-such-svc', [{ name: 'http', port: 80 }]);
    await new Promise((r) => setTimeout(r, 300));
    await client.resource(R.services).delete('default', 'no-such-svc');
    await until(() => warnings.filter((w) => w.includes('no-such-svc')).length === 2, 'the second warning');
    assert.equal(json(await get('paths.test', '/')).name, 'a', 'other Ingresses keep working');
    // The backend drops the connection without answering.
    assert.equal((await get('paths.test', '/destroy')).status, 502);
  });

  test('bad input: malformed Host → 400, huge headers → 431', async () => {
    assert.equal((await get('bad host!')).status, 400);
    assert.equal((await get('paths.test', '/', { headers: { 'x-big': 'y'.repeat(40_000) } })).status, 431);
    assert.equal(json(await get('paths.test')).name, 'a');
  });

  test('WebSocket upgrade passes through', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { headers: { host: 'paths.test' } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('hello'));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('error', reject);
    });
    assert.equal(reply, 'a:hello');
    // Left open on purpose: stop() must end tunnels (after() would hang otherwise).
    ws.on('error', () => {});
  });

  test('TLS: certificate by SNI from a Secret, default certificate otherwise, updates picked up', async () => {
    const tlsGet = (servername: string, ca: string) =>
      new Promise<{ status: number; body: string; cert: X509Certificate }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: tlsPort, servername, ca, headers: { host: servername }, agent: false }, (res) => {
          const cert = new X509Certificate((res.socket as import('node:tls').TLSSocket).getPeerCertificate(false).raw);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), cert }));
        });
        req.on('error', reject);
        req.end();
      });
    const issue = () => issueCert({ caCert: api.pki.caCert, caKey: api.pki.caKey, cn: 'secure.test', sans: ['secure.test'], usage: 'server' });
    const tlsData = (c: { cert: string; key: string }) => ({ 'tls.crt': Buffer.from(c.cert).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') });
    const first = await issue();
    await create(R.secrets, { metadata: { name: 'secure-tls' }, type: 'kubernetes.io/tls', data: tlsData(first) });
    await ingress('secure', { tls: [{ hosts: ['secure.test'], secretName: 'secure-tls' }], rules: [{ host: 'secure.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-a') }] } }] });
    const r = await until(() => tlsGet('secure.test', api.pki.caCert).catch(() => undefined), 'TLS with the Secret certificate');
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).headers['x-forwarded-proto'], 'https');
    assert.equal(r.cert.serialNumber, new X509Certificate(first.cert).serialNumber);
    // Plain HTTP to a TLS host is redirected (ingress-nginx's ssl-redirect), except ACME challenges.
    const plain = await get('secure.test', '/x?y=1');
    assert.equal(plain.status, 308);
    assert.equal(plain.headers.location, `https://secure.test:${tlsPort}/x?y=1`);
    assert.equal((await get('secure.test', '/.well-known/acme-challenge/token')).status, 200);

    // Unknown SNI: the self-signed default, which the cluster CA does not vouch for.
    await assert.rejects(tlsGet('other.test', api.pki.caCert));

    const second = await issue();
    await client.resource(R.secrets).patch('default', 'secure-tls', 'merge', { data: tlsData(second) });
    await until(async () => (await tlsGet('secure.test', api.pki.caCert)).cert.serialNumber === new X509Certificate(second.cert).serialNumber, 'the updated certificate');

    // A TLS entry naming a missing Secret falls back to the default certificate and is logged.
    await ingress('secure2', { tls: [{ hosts: ['nosecret.test'], secretName: 'absent' }], rules: [{ host: 'nosecret.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-a') }] } }] });
    await until(() => warnings.some((w) => w.includes('default/absent')), 'missing secret warning');
    await create(R.secrets, { metadata: { name: 'garbage-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from('not a cert').toString('base64'), 'tls.key': Buffer.from('nope').toString('base64') } });
    await create(INGRESSES, { metadata: { name: 'secure3', annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'false' } }, spec: { tls: [{ hosts: ['garbage.test'], secretName: 'garbage-tls' }], rules: [{ host: 'garbage.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-a') }] } }] } });
    await until(() => warnings.some((w) => w.includes('default/garbage-tls') && w.includes('no valid tls.crt')), 'bad secret warning');
    await assert.rejects(tlsGet('garbage.test', api.pki.caCert), 'the default certificate answers');
    assert.equal((await tlsGet('secure.test', api.pki.caCert)).status, 200, 'other hosts keep their certificate');
    assert.equal((await get('garbage.test')).status, 200, 'ssl-redirect "false" serves plain HTTP');
  });

  test('TLS: an RSA certificate from a Secret is served by SNI (kubectl create secret tls with openssl keys)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-rsa-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=rsa.test', '-addext', 'subjectAltName=DNS:rsa.test', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
      const cert = readFileSync(join(dir, 'c'), 'utf8');
      await create(R.secrets, { metadata: { name: 'rsa-tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': Buffer.from(cert).toString('base64'), 'tls.key': readFileSync(join(dir, 'k')).toString('base64') } });
      await ingress('rsa', { tls: [{ hosts: ['rsa.test'], secretName: 'rsa-tls' }], rules: [{ host: 'rsa.test', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('svc-a') }] } }] });
      const served = await until(
        () =>
          new Promise<string | undefined>((resolve) => {
            const req = https.request({ host: '127.0.0.1', port: tlsPort, servername: 'rsa.test', ca: cert, headers: { host: 'rsa.test' }, agent: false }, (res) => {
              res.resume();
              resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN as string);
            });
            req.on('error', () => resolve(undefined));
            req.end();
          }),
        'the RSA certificate',
      );
      assert.equal(served, 'rsa.test');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('start fails cleanly when the port is taken', async () => {
    const other = new IngressController({ client: api.client('k8ts-ingress-3'), httpPort: port, httpsPort: 0, bindAddress: '127.0.0.1', log: { info() {}, warn() {}, error() {} } });
    await assert.rejects(other.start(), /EADDRINUSE/);
  });

  test('metrics count requests by ingress, service and status, served on /metrics with /healthz', async () => {
    const res = await fetch(`http://127.0.0.1:${ctl.ports.metrics}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const m = await res.text();
    assert.equal(await (await fetch(`http://127.0.0.1:${ctl.ports.metrics}/healthz`)).text(), 'OK');
    assert.match(m, /# TYPE k8ts_ingress_requests_total counter/);
    assert.match(m, /k8ts_ingress_requests_total\{namespace="default",ingress="paths",service="svc-b",status="200"\} \d+/);
    assert.match(m, /k8ts_ingress_requests_total\{namespace="default",ingress="empty",service="svc-empty",status="503"\} \d+/);
    assert.match(m, /k8ts_ingress_requests_total\{namespace="",ingress="",service="",status="404"\} \d+/);
    assert.match(m, /k8ts_ingress_requests_total\{namespace="default",ingress="paths",service="svc-a",status="101"\} 1/);
    assert.match(m, /status="431"\} 1/);
  });
});
