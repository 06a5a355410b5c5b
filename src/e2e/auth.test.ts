// Acceptance: authentication by client certificate and by static bearer token; anything else 401.
// Also: the PKI is created once and reused across restarts.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kubeconfigYaml } from '../apiserver/pki/kubeconfig.js';
import { startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { RawClient } from '../testing/raw-client.js';

let srv: K8tsServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-auth-'));
  writeFileSync(join(dir, 'tokens.csv'), 'tok-alice,alice,1001,"dev,ops"\n# a comment\ntok-bob,bob,1002\n');
  srv = await startK8ts({ extraArgs: ['--token-auth-file', join(dir, 'tokens.csv')] });
});

after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a bearer token from the token file authenticates kubectl; a wrong one gets 401', async () => {
  const ca = readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8');
  const good = join(dir, 'alice.kubeconfig');
  writeFileSync(good, kubeconfigYaml({ server: srv.url, caCert: ca, token: 'tok-alice', user: 'alice' }));
  const r = await srv.kubectl(['get', 'ns', 'default', '-o', 'name'], { env: { KUBECONFIG: good } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'namespace/default');
  const bad = join(dir, 'bad.kubeconfig');
  writeFileSync(bad, kubeconfigYaml({ server: srv.url, caCert: ca, token: 'nope', user: 'x' }));
  const r2 = await srv.kubectl(['get', 'ns'], { env: { KUBECONFIG: bad } });
  assert.notEqual(r2.code, 0);
  assert.match(r2.stderr, /Unauthorized|must be logged in/);
  const raw = new RawClient(srv.kubeconfig, { token: 'tok-bob' });
  try {
    assert.equal((await raw.request('GET', '/api/v1/namespaces')).status, 200);
  } finally {
    raw.close();
  }
});

test('the PKI survives a restart: same CA, and the old kubeconfig still works', async () => {
  const caBefore = readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8');
  const kcBefore = readFileSync(srv.kubeconfig, 'utf8');
  await srv.restart();
  assert.equal(readFileSync(join(srv.dataDir, 'tls', 'ca.crt'), 'utf8'), caBefore);
  writeFileSync(join(dir, 'old.kubeconfig'), kcBefore);
  const r = await srv.kubectl(['get', 'ns', 'kube-system', '-o', 'name'], { env: { KUBECONFIG: join(dir, 'old.kubeconfig') } });
  assert.equal(r.code, 0, r.stderr);
});
