import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { parseHostHeader } from './proxy.js';
import { buildRouteTable, hostCovers, matchRoute } from './routing.js';

const be = (service: string, port: number | string = 80) => ({ service: { name: service, port: typeof port === 'number' ? { number: port } : { name: port } } });

function ing(name: string, spec: Record<string, unknown>, created = '2026-01-01T00:00:00Z'): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default', creationTimestamp: created }, spec } as KubeObject;
}

const svc = (table: ReturnType<typeof buildRouteTable>, host: string, path: string) => matchRoute(table, host, path)?.backend.service;

test('Prefix matches element-wise; the longest path wins; Exact beats Prefix of the same path', () => {
  const t = buildRouteTable([
    ing('a', {
      rules: [
        {
          host: 'foo.com',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: be('root') },
              { path: '/foo', pathType: 'Prefix', backend: be('foo-prefix') },
              { path: '/foo', pathType: 'Exact', backend: be('foo-exact') },
              { path: '/foo/bar/', pathType: 'Prefix', backend: be('foobar') },
              { path: '/aaa/bbb', pathType: 'ImplementationSpecific', backend: be('impl') },
            ],
          },
        },
      ],
    }),
  ]);
  assert.equal(svc(t, 'foo.com', '/foo'), 'foo-exact');
  assert.equal(svc(t, 'foo.com', '/foo/'), 'foo-prefix');
  assert.equal(svc(t, 'foo.com', '/foo/x'), 'foo-prefix');
  assert.equal(svc(t, 'foo.com', '/foobar'), 'root', '/foo does not prefix-match /foobar');
  assert.equal(svc(t, 'foo.com', '/foo/bar'), 'foobar', 'a trailing slash in the rule is ignored');
  assert.equal(svc(t, 'foo.com', '/foo/bar/baz'), 'foobar');
  assert.equal(svc(t, 'foo.com', '/aaa/bbb/ccc'), 'impl');
  assert.equal(svc(t, 'foo.com', '/aaa/bbbxyz'), 'root');
  assert.equal(svc(t, 'foo.com', '/'), 'root');
});

test('hosts: exact before wildcard (one label only) before host-less rules; then the default backend', () => {
  const t = buildRouteTable([
    ing('a', {
      defaultBackend: be('default'),
      rules: [
        { host: 'foo.bar.com', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: be('exact') }] } },
        { host: '*.bar.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('wild') }] } },
        { http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('any') }] } },
      ],
    }),
  ]);
  assert.equal(svc(t, 'foo.bar.com', '/api/x'), 'exact');
  assert.equal(svc(t, 'foo.bar.com', '/other'), 'default', 'the chosen host has no rule for the path');
  assert.equal(svc(t, 'baz.bar.com', '/x'), 'wild');
  assert.equal(svc(t, 'bar.com', '/x'), 'any', 'a wildcard needs one label');
  assert.equal(svc(t, 'a.baz.bar.com', '/x'), 'any', 'a wildcard covers exactly one label');
  assert.equal(svc(t, 'FOO.BAR.COM'.toLowerCase(), '/api'), 'exact');
});

test('no rule and no default backend gives no match; the oldest Ingress wins a conflict', () => {
  const t = buildRouteTable([
    ing('new', { rules: [{ host: 'a.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('new') }] } }] }, '2026-02-01T00:00:00Z'),
    ing('old', { rules: [{ host: 'a.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('old') }] } }] }, '2026-01-01T00:00:00Z'),
  ]);
  assert.equal(svc(t, 'a.com', '/'), 'old');
  assert.equal(matchRoute(t, 'b.com', '/'), undefined);
  assert.equal(matchRoute(t, 'a.com', '/')?.backend.ingress, 'default/old');
});

test('backends by port name are kept; TLS host patterns', () => {
  const t = buildRouteTable([ing('a', { defaultBackend: be('web', 'http') })]);
  assert.deepEqual(matchRoute(t, 'x', '/')?.backend.port, { name: 'http', number: undefined });
  assert.ok(hostCovers('*.foo.com', 'a.foo.com'));
  assert.ok(!hostCovers('*.foo.com', 'a.b.foo.com'));
  assert.ok(!hostCovers('*.foo.com', 'foo.com'));
  assert.ok(hostCovers('Foo.com', 'foo.com'));
});

test('Host header parsing rejects malformed values', () => {
  assert.equal(parseHostHeader('Foo.Example.com:8080'), 'foo.example.com');
  assert.equal(parseHostHeader('foo.com.'), 'foo.com');
  assert.equal(parseHostHeader('[::1]:80'), '::1');
  assert.equal(parseHostHeader(undefined), '');
  for (const bad of ['foo bar', 'a/b', 'foo.com:http', '[::1', 'x:1:2', '-', 'é.com', '[zz]']) assert.equal(parseHostHeader(bad), undefined, bad);
});
