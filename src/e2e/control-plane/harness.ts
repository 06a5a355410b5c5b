// Shared pieces of the control-plane acceptance tests: kubectl helpers and polling.

import assert from 'node:assert/strict';
import type { K8tsServer } from '../../testing/k8ts-server.js';

export type Kubectl = (args: string[], opts?: { input?: string; timeoutMs?: number }) => Promise<string>;

export function kubectlOf(srv: () => K8tsServer): Kubectl {
  return async (args, opts) => {
    const r = await srv().kubectl(args, opts);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  };
}

/** Retries `fn` until it returns a truthy value or throws the last failure after the timeout. */
export async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** `kubectl get pods -o json` as objects. */
export async function pods(k: Kubectl, ns: string, selector?: string): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const out = await k(['get', 'pods', '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])]);
  return JSON.parse(out).items;
}
