// Acceptance: list/watch resourceVersion semantics, pagination, bookmarks, initial events,
// Table and discovery negotiation, OpenAPI, and field validation modes, over raw HTTPS.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

export function apiSemantics(srv: () => K8tsServer, ns: string): void {
  let raw: RawClient;
  const path = `/api/v1/namespaces/${ns}/configmaps`;
  const cm = (name: string, labels: Record<string, string> = {}) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { k: name } });

  test('setup: 25 configmaps', async () => {
    raw = new RawClient(srv().kubeconfig);
    assert.equal((await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }))).status, 201);
    for (let i = 0; i < 25; i++) assert.equal((await raw.request('POST', path, cm(`c${String(i).padStart(2, '0')}`, { even: String(i % 2 === 0) }))).status, 201);
  });

  test('limit/continue pages through a consistent snapshot with remainingItemCount', async () => {
    const p1 = (await raw.request('GET', `${path}?limit=10`)).json();
    assert.equal(p1.items.length, 10);
    assert.equal(p1.metadata.remainingItemCount, 15);
    assert.ok(p1.metadata.continue);
    // A write between pages does not show up in the snapshot.
    assert.equal((await raw.request('POST', path, cm('zz-new'))).status, 201);
    const p2 = (await raw.request('GET', `${path}?limit=10&continue=${encodeURIComponent(p1.metadata.continue)}`)).json();
    const p3 = (await raw.request('GET', `${path}?limit=10&continue=${encodeURIComponent(p2.metadata.continue)}`)).json();
    assert.equal(p3.metadata.continue, undefined);
    const names = [...p1.items, ...p2.items, ...p3.items].map((i: { metadata: { name: string } }) => i.metadata.name);
    assert.equal(names.length, 25);
    assert.ok(!names.includes('zz-new'));
    assert.equal(p2.metadata.resourceVersion, p1.metadata.resourceVersion);
    const bad = await raw.request('GET', `${path}?limit=10&continue=garbage`);
    assert.equal(bad.status, 400);
    const sel = (await raw.request('GET', `${path}?limit=4&labelSelector=even%3Dtrue`)).json();
    assert.equal(sel.items.length, 4);
    assert.ok(sel.metadata.continue);
  });

  test('resourceVersion semantics: 0, NotOlderThan, Exact, too large', async () => {
    const now = (await raw.request('GET', path)).json();
    const rv = Number(now.metadata.resourceVersion);
    assert.equal((await raw.request('GET', `${path}?resourceVersion=0`)).status, 200);
    assert.equal((await raw.request('GET', `${path}?resourceVersion=${rv}&resourceVersionMatch=NotOlderThan`)).status, 200);
    // Just before zz-new was written (other writers, e.g. leader-election Leases, move the
    // global revision too, so take zz-new's own revision).
    const newRV = Number((await raw.request('GET', `${path}/zz-new`)).json().metadata.resourceVersion);
    const exact = (await raw.request('GET', `${path}?resourceVersion=${newRV - 1}&resourceVersionMatch=Exact`)).json();
    assert.equal(exact.metadata.resourceVersion, String(newRV - 1));
    assert.equal(exact.items.length, now.items.length - 1);
    assert.ok(!exact.items.some((i: { metadata: { name: string } }) => i.metadata.name === 'zz-new'));
    const big = await raw.request('GET', `${path}?resourceVersion=${rv + 1000}&resourceVersionMatch=NotOlderThan`);
    assert.equal(big.status, 504);
    assert.match(big.json().message, /Too large resource version/);
    const noRV = await raw.request('GET', `${path}?resourceVersionMatch=Exact`);
    assert.equal(noRV.status, 422);
  });

  test('watch: initial events with the initial-events-end bookmark, then live events, until timeoutSeconds', async () => {
    const w = raw.watch(
      `${path}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=even%3Dtrue&timeoutSeconds=5`,
      (evs) => evs.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'live-even'),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await raw.request('POST', path, cm('live-odd', { even: 'false' }))).status, 201);
    assert.equal((await raw.request('POST', path, cm('live-even', { even: 'true' }))).status, 201);
    const { events } = await w;
    const types = events.map((e) => e.type);
    const bm = events.findIndex((e) => e.type === 'BOOKMARK');
    assert.equal(types.slice(0, bm).filter((t) => t === 'ADDED').length, 13);
    assert.equal(events[bm].object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.deepEqual(events.slice(bm + 1).map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:live-even']);
    // Relabel out of the selection: the watcher sees DELETED.
    const w2 = raw.watch(`${path}?watch=1&resourceVersion=${events[bm].object.metadata.resourceVersion}&labelSelector=even%3Dtrue`, (evs) => evs.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    await raw.request('PATCH', `${path}/live-even`, JSON.stringify({ metadata: { labels: { even: 'no' } } }), { 'content-type': 'application/merge-patch+json' });
    const w2r = await w2;
    assert.deepEqual(w2r.events.map((e) => `${e.type}:${e.object.metadata.name}`).slice(-1), ['DELETED:live-even']);
    const t0 = Date.now();
    const timed = await raw.watch(`${path}?watch=1&timeoutSeconds=1&resourceVersion=0`, () => false, 10_000);
    assert.ok(Date.now() - t0 < 5000, 'timeoutSeconds ends the watch');
    assert.equal(timed.status, 200);
  });

  test('Table responses, YAML, aggregated discovery, OpenAPI', async () => {
    const table = (await raw.request('GET', path, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' })).json();
    assert.equal(table.kind, 'Table');
    assert.deepEqual(table.columnDefinitions.map((c: { name: string }) => c.name), ['Name', 'Data', 'Age']);
    assert.equal(table.rows[0].object.kind, 'PartialObjectMetadata');
    const yaml = await raw.request('GET', `${path}/c00`, undefined, { accept: 'application/yaml' });
    assert.match(yaml.body, /^kind: ConfigMap$/m);
    const disc = await raw.request('GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    assert.equal(disc.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const apps = disc.json().items.find((g: { metadata: { name: string } }) => g.metadata.name === 'apps');
    const d = apps.versions[0].resources.find((r: { resource: string }) => r.resource === 'deployments');
    assert.deepEqual(d.subresources.map((s: { subresource: string }) => s.subresource).sort(), ['scale', 'status']);
    const root = (await raw.request('GET', '/openapi/v3')).json();
    assert.match(root.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
    const v2 = await raw.request('GET', '/openapi/v2', undefined, { accept: 'application/json' });
    assert.equal(v2.json().swagger, '2.0');
  });

  test('fieldValidation: Strict rejects, Warn warns and drops, Ignore drops silently', async () => {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fv' }, data: { a: 'b' }, extra: 1 });
    const strict = await raw.request('POST', `${path}?fieldValidation=Strict`, body);
    assert.equal(strict.status, 400);
    assert.equal(strict.json().message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "extra"');
    const warn = await raw.request('POST', `${path}?fieldValidation=Warn`, body);
    assert.equal(warn.status, 201);
    assert.match(String(warn.headers.warning), /299 - "unknown field \\"extra\\""/);
    assert.equal(warn.json().extra, undefined);
    const ign = await raw.request('POST', `${path}?fieldValidation=Ignore`, body.replace('"fv"', '"fv2"'));
    assert.equal(ign.status, 201);
    assert.equal(ign.headers.warning, undefined);
    const dup = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},"data":{"a":"1","a":"2"}}';
    const sd = await raw.request('POST', `${path}?fieldValidation=Strict`, dup);
    assert.equal(sd.status, 400);
    assert.match(sd.json().message, /strict decoding error: duplicate field "data\.a"/);
    const wd = await raw.request('POST', path, dup);
    assert.equal(wd.status, 201);
    assert.equal(wd.json().data.a, '2');
    assert.match(String(wd.headers.warning), /duplicate field/);
    raw.close();
  });
}
