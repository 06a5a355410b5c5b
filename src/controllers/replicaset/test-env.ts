// Test support for the workload controllers: an in-process API server, shared informers and a
// ControllerContext running the given controllers, and polling helpers.

import type { KubeObject } from '../../api/meta/v1.js';
import { Client } from '../../client/client.js';
import type { ApiError, Transport } from '../../client/transport.js';
import { EventRecorder } from '../../client/events.js';
import { InformerFactory } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { defaultControllerSettings, type Controller, type ControllerContext, type ControllerSettings } from '../context.js';

export interface ControllerEnv {
  api: TestApi;
  client: Client;
  ctx: ControllerContext;
  stop(): Promise<void>;
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A fault to inject into the controllers' requests: return an error to fail the request with it. */
export type Fault = (method: string, path: string) => ApiError | undefined;

export async function startControllers(controllers: Controller[], settings: Partial<ControllerSettings> = {}, fault?: Fault): Promise<ControllerEnv> {
  const api = await startTestApi();
  const client = api.client('test');
  const base = api.client('kube-controller-manager');
  const t = base.transport;
  const faulty: Transport = {
    request: (method, path, opts) => {
      const e = fault?.(method, path);
      return e ? Promise.reject(e) : t.request(method, path, opts);
    },
    watch: (path, query, onEvent, signal) => t.watch(path, query, onEvent, signal),
    close: () => t.close(),
  };
  const cmClient = new Client(faulty, 'kube-controller-manager');
  const ac = new AbortController();
  const informers = new InformerFactory(cmClient);
  const ctx: ControllerContext = {
    client: cmClient,
    informers,
    recorder: (component) => new EventRecorder(cmClient, component),
    log: quiet,
    settings: { ...defaultControllerSettings(), workers: 2, ...settings },
    signal: ac.signal,
  };
  for (const c of controllers) c.start(ctx);
  informers.start(ac.signal);
  await informers.waitForSync();
  return {
    api,
    client,
    ctx,
    async stop() {
      ac.abort();
      await api.stop();
    },
  };
}

/** Polls until fn returns a truthy value (which it returns), or throws after the deadline with the last seen value. */
export async function eventually<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function listPods(client: Client, namespace: string, labelSelector?: string): Promise<KubeObject[]> {
  return (await client.resource(R.pods).list(namespace, { labelSelector })).items;
}

/** Makes a pod Running and Ready, as a kubelet would. */
export async function markReady(client: Client, pod: KubeObject): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  await client.resource(R.pods).patch(pod.metadata.namespace, pod.metadata.name!, 'merge', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }] } }, { subresource: 'status' });
}

export const podTemplate = (labels: Record<string, string>, image = 'nginx:1') => ({
  metadata: { labels },
  spec: { containers: [{ name: 'c', image }] },
});

export async function eventsFor(client: Client, namespace: string, name: string): Promise<KubeObject[]> {
  return (await client.resource(R.events).list(namespace)).items.filter((e) => e.involvedObject?.name === name);
}
