// An API server inside the test process (in-memory SQLite, fresh PKI in a temp dir, port 0) and
// a client for it: what controller and scheduler tests run against. Real HTTP, real storage.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinResources } from '../api/builtin.js';
import { bootstrapObjects } from '../apiserver/bootstrap.js';
import { createAuthenticator } from '../apiserver/pki/authenticate.js';
import { ensurePKI, tlsServerOptions, type PKI } from '../apiserver/pki/pki.js';
import { ApiServer } from '../apiserver/server.js';
import { Client } from '../client/client.js';
import type { ClientConfig } from '../client/config.js';
import { HttpTransport } from '../client/transport.js';
import { SqliteStore } from '../storage/sqlite/sqlite-store.js';
import type { Store } from '../storage/store.js';

export interface TestApi {
  server: ApiServer;
  store: Store;
  config: ClientConfig;
  /** The cluster PKI (e.g. to issue a kubelet's serving certificate). */
  pki: PKI;
  /** A new client (its own connection pool) with the given field manager. */
  client(fieldManager?: string): Client;
  stop(): Promise<void>;
}

export async function startTestApi(opts: { store?: Store; serviceClusterIPRange?: string } = {}): Promise<TestApi> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-api-'));
  const pki = await ensurePKI({ dataDir: dir });
  const store = opts.store ?? new SqliteStore({ path: ':memory:' });
  const auth = createAuthenticator({});
  const server = new ApiServer({
    store,
    resources: builtinResources(),
    tls: tlsServerOptions(pki),
    kubeletClient: { cert: pki.kubeletClientCert, key: pki.kubeletClientKey, ca: pki.caCert },
    authenticate: (req) => auth.authenticate(req),
    port: 0,
    bindAddress: '127.0.0.1',
  });
  await server.start();
  await bootstrapObjects(server, { kubernetesServiceIP: '10.43.0.1', endpointIP: '127.0.0.1', securePort: server.port });
  server.markReady();
  const config: ClientConfig = { server: `https://127.0.0.1:${server.port}`, ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey };
  const clients: Client[] = [];
  return {
    server,
    store,
    config,
    pki,
    client(fieldManager = 'test') {
      const c = new Client(new HttpTransport({ ...config, userAgent: fieldManager }), fieldManager);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.close();
      await server.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
