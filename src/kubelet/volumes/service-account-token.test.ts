import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from '../../client/client.js';
import type { RequestOptions, Transport } from '../../client/transport.js';
import { ServiceAccountTokens } from './service-account-token.js';

/** A transport that serves discovery and TokenRequest, and records the requests. */
function tokenServer(withTokenApi: boolean) {
  const requests: { method: string; path: string; body?: unknown }[] = [];
  let n = 0;
  const transport: Transport = {
    async request<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
      requests.push({ method, path, body: opts?.body });
      if (path === '/api/v1') return { resources: [{ name: 'pods' }, ...(withTokenApi ? [{ name: 'serviceaccounts/token' }] : [])] } as T;
      const spec = (opts?.body as { spec: { expirationSeconds: number } }).spec;
      return { status: { token: `token-${++n}`, expirationTimestamp: new Date(Date.UTC(2026, 10, 25, 10) + spec.expirationSeconds * 1000).toISOString() } } as T;
    },
    watch: async () => undefined,
    close() {},
  };
  return { client: new Client(transport, 'kubelet'), requests };
}

const pod = { metadata: { name: 'web', namespace: 'shop', uid: 'u1' }, spec: { serviceAccountName: 'builder' } };

describe('service account tokens', () => {
  test('requested bound to the pod, cached, renewed after 80% of their life', async () => {
    const { client, requests } = tokenServer(true);
    let now = Date.UTC(2026, 10, 25, 10);
    const tokens = new ServiceAccountTokens(client, () => now);
    assert.equal(await tokens.available(), true);
    assert.equal(await tokens.token(pod, { expirationSeconds: 3600, audience: 'vault' }), 'token-1');
    const post = requests.find((r) => r.method === 'POST')!;
    assert.equal(post.path, '/api/v1/namespaces/shop/serviceaccounts/builder/token');
    assert.deepEqual(post.body, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: ['vault'], expirationSeconds: 3600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: 'u1' } },
    });
    now += 2879_000;
    assert.equal(await tokens.token(pod, { expirationSeconds: 3600, audience: 'vault' }), 'token-1', 'cached before 80%');
    now += 2_000;
    assert.equal(await tokens.token(pod, { expirationSeconds: 3600, audience: 'vault' }), 'token-2', 'renewed after 80%');
    tokens.forget('u1');
    assert.equal(await tokens.token(pod, { expirationSeconds: 3600, audience: 'vault' }), 'token-3');
  });

  test('a server without TokenRequest is detected through discovery', async () => {
    const { client } = tokenServer(false);
    assert.equal(await new ServiceAccountTokens(client).available(), false);
  });
});
