// Namespace deletion: a namespace being deleted (phase Terminating, finalizer "kubernetes" in
// spec.finalizers) is emptied, then its finalizer is removed so the namespace itself goes.
// A minimal stand-in for upstream's namespace controller, which the controller manager takes
// over in a later issue.

import type { KubeObject } from '../api/meta/v1.js';
import { StatusError } from '../machinery/errors.js';
import type { RequestContext, WriteOptions } from './context.js';
import { listPrefix } from './rest/keys.js';
import type { ApiServer } from './server.js';

const ctx = (): RequestContext => ({ userAgent: 'k8ts-namespace-lifecycle', warnings: [] });
// The finalize subresource is the only way to change spec.finalizers (as upstream).
const writeOpts: WriteOptions = { dryRun: false, fieldValidation: 'Ignore', subresource: 'finalize', fieldManager: 'namespace-controller' };

export function startNamespaceLifecycle(server: ApiServer, signal: AbortSignal, intervalMs = 500): void {
  let busy = false;
  const tick = async () => {
    if (busy || signal.aborted) return;
    busy = true;
    try {
      const nsCache = server.dispatcher.cacheFor('/registry/namespaces/');
      for (const c of nsCache.list('/registry/namespaces/')) {
        if (c.obj.metadata.deletionTimestamp) await finalize(server, c.obj);
      }
    } catch {
      // Retried on the next tick.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}

async function finalize(server: ApiServer, ns: KubeObject): Promise<void> {
  const name = ns.metadata.name!;
  let remaining = 0;
  for (const def of server.registry.all()) {
    if (!def.namespaced || def.storage) continue;
    const cache = server.dispatcher.cacheFor(`/registry/${def.plural}/`);
    const items = cache.list(listPrefix(def, name));
    const store = server.resourceStore(def.group, def.version, def.plural);
    for (const it of items) {
      remaining++;
      if (it.obj.metadata.deletionTimestamp) continue;
      try {
        await store.delete(name, it.obj.metadata.name!, { dryRun: false, gracePeriodSeconds: 0 });
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
  }
  if (remaining > 0) return;
  const nsStore = server.resourceStore('', 'v1', 'namespaces');
  await nsStore.guaranteedUpdate(undefined, name, writeOpts, ctx(), (cur) => {
    const next = cur!;
    next.spec = { ...(next.spec ?? {}), finalizers: (next.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes') };
    return next;
  });
}
