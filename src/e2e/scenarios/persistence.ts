// Acceptance: restarts keep every object, resourceVersions only grow, watches resume from an
// earlier resourceVersion, compacted revisions give 410, and kill -9 loses no acknowledged write.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

const cm = (name: string, v = '1') => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

export function persistence(srv: () => K8tsServer, ns: string): void {
  const path = `/api/v1/namespaces/${ns}/configmaps`;

  test('restart keeps objects; resourceVersions grow; watches resume and 410 once compacted', async () => {
    let raw = new RawClient(srv().kubeconfig);
    assert.equal((await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }))).status, 201);
    const first = (await raw.request('POST', path, cm('keep'))).json();
    const rv1 = Number(first.metadata.resourceVersion);
    for (let i = 0; i < 5; i++) assert.equal((await raw.request('POST', path, cm(`m${i}`))).status, 201);
    const listBefore = (await raw.request('GET', path)).json();
    raw.close();

    await srv().restart();
    raw = new RawClient(srv().kubeconfig);
    try {
      const listAfter = (await raw.request('GET', path)).json();
      assert.deepEqual(
        listAfter.items.map((o: any) => [o.metadata.name, o.metadata.uid, o.metadata.resourceVersion]), // eslint-disable-line @typescript-eslint/no-explicit-any
        listBefore.items.map((o: any) => [o.metadata.name, o.metadata.uid, o.metadata.resourceVersion]), // eslint-disable-line @typescript-eslint/no-explicit-any
      );
      assert.ok(Number(listAfter.metadata.resourceVersion) >= Number(listBefore.metadata.resourceVersion));
      const next = (await raw.request('POST', path, cm('after'))).json();
      assert.ok(Number(next.metadata.resourceVersion) > Number(listBefore.metadata.resourceVersion));

      // Resume from before the restart: the missed events (m0..m4, after) arrive in order.
      const w = await raw.watch(`${path}?watch=1&resourceVersion=${rv1}`, (evs) => evs.some((e) => e.object?.metadata?.name === 'after'));
      assert.equal(w.status, 200);
      const names = w.events.map((e) => `${e.type}:${e.object.metadata.name}`);
      assert.deepEqual(names, ['ADDED:m0', 'ADDED:m1', 'ADDED:m2', 'ADDED:m3', 'ADDED:m4', 'ADDED:after']);

      // Wait for the compactor (a short --compaction-interval) to pass rv1: an exact list at rv1
      // answers 410 then. Restart so the watch cache window no longer covers rv1, and ask
      // again: 410 Gone (Expired) in the stream.
      for (let i = 0; i < 3; i++) await raw.request('PUT', `${path}/keep`, JSON.stringify({ ...first, metadata: { name: 'keep' }, data: { v: String(i) } }));
      for (let t = 0, end = Date.now() + 100_000; Date.now() < end; t++) {
        const exact = await raw.request('GET', `${path}?resourceVersion=${rv1}&resourceVersionMatch=Exact`);
        if (exact.status === 410) break;
        await raw.request('PUT', `${path}/keep`, JSON.stringify({ ...first, metadata: { name: 'keep' }, data: { v: `t${t}` } }));
        await new Promise((r) => setTimeout(r, 250));
      }
      raw.close();
      await srv().restart();
      raw = new RawClient(srv().kubeconfig);
      const gone = await raw.watch(`${path}?watch=1&resourceVersion=${rv1}`, (evs) => evs.length > 0);
      const err = gone.events.find((e) => e.type === 'ERROR');
      assert.ok(err, JSON.stringify(gone));
      assert.equal(err.object.code, 410);
      assert.equal(err.object.reason, 'Expired');
      const listOld = await raw.request('GET', `${path}?resourceVersion=${rv1}&resourceVersionMatch=Exact`);
      assert.equal(listOld.status, 410, listOld.body);
    } finally {
      raw.close();
    }
  });

  test('kill -9 during a write loop loses no acknowledged write', async () => {
    const raw = new RawClient(srv().kubeconfig);
    const acked: string[] = [];
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop && i < 100_000; i++) {
        try {
          const r = await raw.request('POST', path, cm(`k-${i}`));
          if (r.status === 201) acked.push(`k-${i}`);
        } catch {
          return;
        }
      }
    })();
    while (acked.length < 200) await new Promise((r) => setTimeout(r, 20));
    await srv().kill9();
    stop = true;
    await loop;
    raw.close();
    await srv().restart();
    const raw2 = new RawClient(srv().kubeconfig);
    try {
      const list = (await raw2.request('GET', path)).json();
      const names = new Set(list.items.map((o: any) => o.metadata.name)); // eslint-disable-line @typescript-eslint/no-explicit-any
      const missing = acked.filter((n) => !names.has(n));
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged writes lost`);
    } finally {
      raw2.close();
    }
  });
}
