// Runs controllers (and optionally simulated nodes) against an in-process test API, for
// controller tests: real HTTP, real storage, real informers.

import type { Client } from '../client/client.js';
import type { Controller, ControllerSettings } from '../controllers/context.js';
import { defaultControllerSettings } from '../controllers/context.js';
import { ControllerManager } from '../controllers/manager.js';
import { startTestApi, type TestApi } from './api-harness.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

export interface ControlPlane {
  api: TestApi;
  client: Client;
  signal: AbortSignal;
  stop(): Promise<void>;
}

export async function startControlPlane(controllers: Controller[], settings: Partial<ControllerSettings> = {}): Promise<ControlPlane> {
  const api = await startTestApi();
  const ac = new AbortController();
  const manager = new ControllerManager({
    client: api.client('kube-controller-manager'),
    controllers,
    settings: { ...defaultControllerSettings(), ...settings },
    log: process.env.K8TS_TEST_LOG ? { ...console, debug: console.log } : quiet,
    leaderElect: false,
  });
  void manager.run(ac.signal);
  return {
    api,
    client: api.client('test'),
    signal: ac.signal,
    async stop() {
      ac.abort();
      await api.stop();
    },
  };
}

/** Polls `fn` until it returns a truthy value (returned) or the deadline passes (throws with the last value). */
export async function eventually<T>(fn: () => Promise<T> | T, what = 'condition', timeoutMs = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(last)?.slice(0, 500)} ${lastErr ? `last error ${lastErr}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
