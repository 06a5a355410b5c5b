// Acceptance: a program using @kubernetes/client-node lists, creates, patches and watches
// (through its informer) against the server.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import type { K8tsServer } from '../../testing/k8ts-server.js';

export function clientNode(srv: () => K8tsServer, ns: string): void {
  test('client-node: list, create, patch and an informer', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(srv().kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });
    const nsList = await core.listNamespace();
    assert.ok(nsList.items.some((n) => n.metadata?.name === 'kube-system'));

    const seen: string[] = [];
    const informer = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`, () => core.listNamespacedConfigMap({ namespace: ns }));
    const events = new Promise<void>((resolve) => {
      informer.on('add', (o: k8s.V1ConfigMap) => seen.push(`add:${o.metadata?.name}`));
      informer.on('update', (o: k8s.V1ConfigMap) => {
        seen.push(`update:${o.metadata?.name}:${o.data?.k}`);
        if (o.data?.k === 'patched') resolve();
      });
    });
    await informer.start();
    try {
      const created = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'cn' }, data: { k: 'v' } } });
      assert.equal(created.metadata?.name, 'cn');
      const patched = await core.patchNamespacedConfigMap(
        { name: 'cn', namespace: ns, body: { data: { k: 'patched' } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      assert.equal(patched.data?.k, 'patched');
      const list = await core.listNamespacedConfigMap({ namespace: ns });
      assert.deepEqual(list.items.map((c) => c.metadata?.name), ['cn']);
      await Promise.race([events, new Promise((_, rej) => setTimeout(() => rej(new Error(`informer saw only ${seen}`)), 10_000))]);
      assert.ok(seen.includes('add:cn'), seen.join(','));
      assert.ok(seen.includes('update:cn:patched'), seen.join(','));
      assert.equal((informer as unknown as k8s.ObjectCache<k8s.V1ConfigMap>).list(ns).length, 1);
    } finally {
      await informer.stop();
    }
  });
}
