// Acceptance: generation and status, finalizers, graceful pod deletion, dry run, deletecollection,
// namespace deletion, and the scale subresource, through the real API.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

const deploy = (name: string) =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'registry.local/c:1' }] } } },
  });

export function lifecycle(srv: () => K8tsServer, ns: string): void {
  let raw: RawClient;
  const base = `/apis/apps/v1/namespaces/${ns}/deployments`;
  const merge = { 'content-type': 'application/merge-patch+json' };

  test('setup', async () => {
    raw = new RawClient(srv().kubeconfig);
    assert.equal((await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }))).status, 201);
  });

  test('generation moves with spec changes only; status and spec are written separately', async () => {
    const d = (await raw.request('POST', base, deploy('gen'))).json();
    assert.equal(d.metadata.generation, 1);
    assert.equal(d.status, undefined);
    const s = await raw.request('PATCH', `${base}/gen/status`, JSON.stringify({ status: { replicas: 7 }, spec: { replicas: 9 } }), merge);
    assert.equal(s.status, 200, s.body);
    assert.equal(s.json().status.replicas, 7);
    assert.equal(s.json().spec.replicas, 1, 'status writes ignore spec');
    assert.equal(s.json().metadata.generation, 1);
    const m = (await raw.request('PATCH', `${base}/gen`, JSON.stringify({ spec: { replicas: 3 }, status: { replicas: 0 } }), merge)).json();
    assert.equal(m.metadata.generation, 2);
    assert.equal(m.status.replicas, 7, 'main-resource writes keep status');
    const l = (await raw.request('PATCH', `${base}/gen`, JSON.stringify({ metadata: { labels: { x: 'y' } } }), merge)).json();
    assert.equal(l.metadata.generation, 2);
    const same = (await raw.request('PATCH', `${base}/gen`, JSON.stringify({ metadata: { labels: { x: 'y' } } }), merge)).json();
    assert.equal(same.metadata.resourceVersion, l.metadata.resourceVersion, 'a no-op write keeps the resourceVersion');
  });

  test('scale subresource reads and writes spec.replicas', async () => {
    const sc = (await raw.request('GET', `${base}/gen/scale`)).json();
    assert.equal(sc.kind, 'Scale');
    assert.equal(sc.apiVersion, 'autoscaling/v1');
    assert.equal(sc.spec.replicas, 3);
    assert.equal(sc.status.selector, 'app=gen');
    const put = await raw.request('PUT', `${base}/gen/scale`, JSON.stringify({ ...sc, spec: { replicas: 6 } }));
    assert.equal(put.status, 200, put.body);
    assert.equal((await raw.request('GET', `${base}/gen`)).json().spec.replicas, 6);
    const neg = await raw.request('PATCH', `${base}/gen/scale`, JSON.stringify({ spec: { replicas: -1 } }), merge);
    assert.equal(neg.status, 422);
    assert.match(neg.json().message, /Scale.autoscaling "gen" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0/);
  });

  test('dry run stores nothing', async () => {
    const r = await raw.request('POST', `${base}?dryRun=All`, deploy('dry'));
    assert.equal(r.status, 201);
    assert.ok(r.json().metadata.uid);
    assert.equal((await raw.request('GET', `${base}/dry`)).status, 404);
    assert.equal((await raw.request('DELETE', `${base}/gen?dryRun=All`)).status, 200);
    assert.equal((await raw.request('GET', `${base}/gen`)).status, 200);
  });

  test('finalizers hold a deletion until they are removed', async () => {
    const cm = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    assert.equal((await raw.request('POST', path, cm)).status, 201);
    const del = await raw.request('DELETE', `${path}/held`);
    assert.equal(del.status, 202);
    const held = (await raw.request('GET', `${path}/held`)).json();
    assert.ok(held.metadata.deletionTimestamp);
    assert.equal((await raw.request('PATCH', `${path}/held`, JSON.stringify({ metadata: { finalizers: null } }), merge)).status, 200);
    assert.equal((await raw.request('GET', `${path}/held`)).status, 404);
  });

  test('a pod bound to a node is deleted gracefully; an unbound one at once', async () => {
    const path = `/api/v1/namespaces/${ns}/pods`;
    const pod = (name: string, nodeName?: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName, containers: [{ name: 'c', image: 'registry.local/c:1' }] } });
    assert.equal((await raw.request('POST', path, pod('bound', 'node-a'))).status, 201);
    assert.equal((await raw.request('POST', path, pod('free'))).status, 201);
    const g = await raw.request('DELETE', `${path}/bound`);
    assert.equal(g.status, 202);
    assert.equal(g.json().metadata.deletionGracePeriodSeconds, 30);
    assert.equal((await raw.request('GET', `${path}/bound`)).status, 200);
    assert.equal((await raw.request('DELETE', `${path}/bound`, JSON.stringify({ gracePeriodSeconds: 0 }))).status, 200);
    assert.equal((await raw.request('GET', `${path}/bound`)).status, 404);
    assert.equal((await raw.request('DELETE', `${path}/free`)).status, 200);
  });

  test('deletecollection by label, then deleting the namespace empties it', async () => {
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    for (const [n, l] of [['c1', 'x'], ['c2', 'x'], ['c3', 'y']]) {
      assert.equal((await raw.request('POST', path, JSON.stringify({ metadata: { name: n, labels: { l } } }))).status, 201);
    }
    const dc = await raw.request('DELETE', `${path}?labelSelector=l%3Dx`);
    assert.equal(dc.status, 200, dc.body);
    assert.deepEqual((await raw.request('GET', path)).json().items.map((i: { metadata: { name: string } }) => i.metadata.name), ['c3']);
    const r = await srv().kubectl(['delete', 'ns', ns, '--timeout=30s']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await raw.request('GET', `/api/v1/namespaces/${ns}`)).status, 404);
    assert.equal((await raw.request('GET', `${path}/c3`)).status, 404);
    assert.equal((await raw.request('GET', `${base}/gen`)).status, 404);
    raw.close();
  });
}
