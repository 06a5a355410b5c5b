// Acceptance: bad input gets a 4xx Status with a clear message, never a 500 or a crash; kubectl
// prints upstream's message shapes for invalid manifests.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

const pod = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'registry.local/x:1' }] }, ...extra });

function expectStatus(r: { status: number; body: string }, code: number, reason: string, message?: RegExp): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(r.status, code, r.body);
  const s = JSON.parse(r.body);
  assert.equal(s.kind, 'Status');
  assert.equal(s.status, 'Failure');
  assert.equal(s.code, code);
  assert.equal(s.reason, reason, r.body);
  if (message) assert.match(s.message, message);
  return s;
}

export function badInput(srv: () => K8tsServer, ns: string): void {
  const k = (args: string[], opts?: Parameters<K8tsServer['kubectl']>[1]) => srv().kubectl(args, opts);
  let raw: RawClient;
  const base = `/api/v1/namespaces/${ns}/pods`;

  test('setup namespace', async () => {
    assert.equal((await k(['create', 'ns', ns])).code, 0);
    raw = new RawClient(srv().kubeconfig);
  });

  test('kubectl prints upstream messages for invalid manifests', async () => {
    const noImage = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x, namespace: ${ns}}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c}]
`;
    let r = await k(['apply', '-f', '-'], { input: noImage });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The Deployment "x" is invalid: spec\.template\.spec\.containers\[0\]\.image: Required value/);

    r = await k(['create', 'configmap', 'Bad_Name', '-n', ns]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ConfigMap "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);

    const unknown = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: u, namespace: ${ns}}\ndata: {a: b}\nbogus: 1\n`;
    r = await k(['apply', '-f', '-'], { input: unknown });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strict decoding error: unknown field "bogus"/);

    const wrongType = `apiVersion: apps/v1
kind: Deployment
metadata: {name: typed, namespace: ${ns}}
spec:
  replicas: "three"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i}]
`;
    r = await k(['apply', '-f', '-'], { input: wrongType });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /replicas/);
    assert.doesNotMatch(r.stderr, /InternalError|500/);
  });

  test('malformed JSON and YAML, wrong content type, huge and deep bodies', async () => {
    expectStatus(await raw.request('POST', base, '{"apiVersion": "v1", "kind": "Pod", '), 400, 'BadRequest', /json parse error|cannot|unexpected/i);
    expectStatus(await raw.request('POST', base, 'kind: Pod\n  bad: [yaml', { 'content-type': 'application/yaml' }), 400, 'BadRequest');
    expectStatus(await raw.request('POST', base, pod('ct'), { 'content-type': 'text/html' }), 415, 'UnsupportedMediaType');
    const huge = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'huge' }, data: { x: 'a'.repeat(3 * 1024 * 1024 + 10) } });
    expectStatus(await raw.request('POST', `/api/v1/namespaces/${ns}/configmaps`, huge), 413, 'RequestEntityTooLarge');
    const deep = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":' + '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000) + '}';
    const d = await raw.request('POST', `/api/v1/namespaces/${ns}/configmaps`, deep);
    assert.ok(d.status >= 400 && d.status < 500, `deep nesting: ${d.status} ${d.body.slice(0, 200)}`);
    // An object just under the body limit but over the storage limit.
    const big = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { x: 'a'.repeat(2 * 1024 * 1024) } });
    const b = await raw.request('POST', `/api/v1/namespaces/${ns}/configmaps`, big);
    assert.ok(b.status === 413 || b.status === 422, `${b.status} ${b.body.slice(0, 200)}`);
  });

  test('unknown kinds, versions, namespaces and long names', async () => {
    expectStatus(await raw.request('GET', '/apis/apps/v9/deployments'), 404, 'NotFound');
    expectStatus(await raw.request('GET', '/api/v1/flunders'), 404, 'NotFound');
    expectStatus(await raw.request('POST', base, JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } })), 400, 'BadRequest');
    expectStatus(await raw.request('POST', '/api/v1/namespaces/no-such-ns/pods', pod('p')), 404, 'NotFound', /namespaces "no-such-ns" not found/);
    const s = expectStatus(await raw.request('POST', base, pod('a'.repeat(254))), 422, 'Invalid');
    assert.equal(s.details.causes[0].field, 'metadata.name');
    assert.match(s.details.causes[0].message, /must be no more than 253 characters/);
  });

  test('duplicate creates, stale updates, patches that do not apply', async () => {
    assert.equal((await raw.request('POST', base, pod('dup'))).status, 201);
    expectStatus(await raw.request('POST', base, pod('dup')), 409, 'AlreadyExists', /pods "dup" already exists/);
    const cur = (await raw.request('GET', `${base}/dup`)).json();
    const stale = { ...cur, metadata: { ...cur.metadata, labels: { v: '1' } } };
    assert.equal((await raw.request('PUT', `${base}/dup`, JSON.stringify(stale))).status, 200);
    stale.metadata.labels = { v: '2' };
    expectStatus(await raw.request('PUT', `${base}/dup`, JSON.stringify(stale)), 409, 'Conflict', /the object has been modified; please apply your changes to the latest version and try again/);
    expectStatus(
      await raw.request('PATCH', `${base}/dup`, '[{"op":"test","path":"/metadata/name","value":"other"}]', { 'content-type': 'application/json-patch+json' }),
      422,
      'Invalid',
    );
    const np = await raw.request('PATCH', `${base}/dup`, '{not json', { 'content-type': 'application/merge-patch+json' });
    assert.equal(np.status, 400, np.body);
    const wrong = await raw.request('PATCH', `${base}/dup`, '{"spec":{"containers":"nope"}}', { 'content-type': 'application/strategic-merge-patch+json' });
    assert.ok(wrong.status >= 400 && wrong.status < 500, wrong.body);
    expectStatus(await raw.request('PATCH', `${base}/dup`, '{}', { 'content-type': 'application/xml' }), 415, 'UnsupportedMediaType');
    expectStatus(await raw.request('GET', `${base}?labelSelector=a%20in%20(`), 400, 'BadRequest');
    expectStatus(await raw.request('GET', `${base}?fieldSelector=spec.bogus=1`), 400, 'BadRequest', /field label not supported: spec\.bogus/);
  });

  test('requests without credentials get 401; /healthz stays public', async () => {
    const anon = new RawClient(srv().kubeconfig, { anonymous: true });
    try {
      expectStatus(await anon.request('GET', '/api/v1/namespaces'), 401, 'Unauthorized');
      const h = await anon.request('GET', '/readyz');
      assert.equal(h.status, 200);
      assert.equal(h.body, 'ok');
    } finally {
      anon.close();
    }
    raw.close();
  });
}
