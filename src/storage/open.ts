// Chooses the datastore like k3s's --datastore-endpoint: none means the embedded SQLite database
// under the data directory; `etcd://host:2379,...` means an external etcd cluster.

import { join } from 'node:path';
import { EtcdStore } from './etcd/etcd-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** The server's data directory; SQLite lives in `<dataDir>/db/state.db`. */
  dataDir: string;
  /** `--datastore-endpoint`; empty or absent selects SQLite. */
  datastoreEndpoint?: string;
}

export const SUPPORTED_DATASTORE_SCHEMES = ['sqlite', 'etcd', 'http'] as const;

/** The SQLite file used when no datastore endpoint is given. */
export function defaultSqlitePath(dataDir: string): string {
  return join(dataDir, 'db', 'state.db');
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const endpoint = opts.datastoreEndpoint?.trim() ?? '';
  if (endpoint === '') return new SqliteStore({ path: defaultSqlitePath(opts.dataDir) });

  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(endpoint)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    // sqlite:///abs/path.db or sqlite://relative.db (relative to the data directory).
    const path = endpoint.slice('sqlite://'.length);
    if (!path) throw new Error('datastore endpoint sqlite:// names no file');
    return new SqliteStore({ path: path.startsWith('/') || path === ':memory:' ? path : join(opts.dataDir, path) });
  }
  if (scheme === 'etcd' || scheme === 'http') {
    const store = new EtcdStore({ endpoints: endpoint });
    try {
      await store.currentRevision(); // fail at startup, not on the first request
    } catch (err) {
      await store.close();
      throw new Error(`cannot reach etcd at ${endpoint}: ${(err as Error).message}`);
    }
    return store;
  }
  throw new Error(
    `unsupported datastore endpoint ${JSON.stringify(endpoint)}: expected etcd://host:port[,etcd://host:port...] ` +
      `(or sqlite://path); leave it empty for the embedded SQLite database`,
  );
}
