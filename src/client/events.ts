// Records core/v1 Events about objects, as upstream's record.EventRecorder: repeats of the same
// event (same object, reason, message, source) bump count and lastTimestamp instead of making a
// new Event. Recording never throws: events are best effort.

import type { KubeObject } from '../api/meta/v1.js';
import type { Client } from './client.js';
import { R } from './resources.js';

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();

  constructor(
    private readonly client: Client,
    private readonly component: string,
    private readonly host?: string,
    private readonly onError?: (e: unknown) => void,
  ) {}

  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    void this.record(obj, type, reason, message).catch((e) => this.onError?.(e));
  }

  private async record(obj: KubeObject, type: string, reason: string, message: string): Promise<void> {
    const m = obj.metadata;
    const namespace = m.namespace || 'default';
    const involvedObject = {
      kind: obj.kind,
      namespace: m.namespace,
      name: m.name,
      uid: m.uid,
      apiVersion: obj.apiVersion,
      resourceVersion: m.resourceVersion,
    };
    const key = [m.uid, reason, message, type].join('\u0000');
    const events = this.client.resource(R.events);
    const ts = now();
    const prev = this.seen.get(key);
    if (prev) {
      prev.count++;
      try {
        await events.patch(prev.namespace, prev.name, 'merge', { count: prev.count, lastTimestamp: ts });
        return;
      } catch {
        this.seen.delete(key);
      }
    }
    const name = `${m.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    await events.create(namespace, {
      metadata: { name, namespace },
      involvedObject,
      reason,
      message,
      type,
      source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: this.component,
      reportingInstance: this.host ?? '',
    });
    this.seen.set(key, { name, namespace, count: 1, firstTimestamp: ts });
    if (this.seen.size > 4096) this.seen.delete(this.seen.keys().next().value!);
  }
}
