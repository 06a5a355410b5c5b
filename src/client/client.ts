// A typed client: one ResourceClient per resource with the verbs of the API, over any Transport.

import type { KubeObject } from '../api/meta/v1.js';
import { collectionPath, objectPath, type GVR } from './resources.js';
import type { RequestOptions, Transport, WatchEvent } from './transport.js';

export interface ObjectList<T = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';
const PATCH_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export class ResourceClient<T extends KubeObject = KubeObject> {
  constructor(
    private readonly t: Transport,
    readonly gvr: GVR,
    private readonly fieldManager: string,
  ) {}

  get(namespace: string | undefined, name: string): Promise<T> {
    return this.t.request<T>('GET', objectPath(this.gvr, namespace, name));
  }

  list(namespace?: string, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return this.t.request<ObjectList<T>>('GET', collectionPath(this.gvr, namespace), { query: { ...opts } });
  }

  create(namespace: string | undefined, obj: Partial<T> & { metadata: KubeObject['metadata'] }, opts: { dryRun?: boolean } = {}): Promise<T> {
    return this.t.request<T>('POST', collectionPath(this.gvr, namespace), {
      body: { apiVersion: this.gvr.group ? `${this.gvr.group}/${this.gvr.version}` : this.gvr.version, kind: this.gvr.kind, ...obj },
      query: { fieldManager: this.fieldManager, dryRun: opts.dryRun ? 'All' : undefined },
    });
  }

  update(obj: T, subresource?: string): Promise<T> {
    return this.t.request<T>('PUT', objectPath(this.gvr, obj.metadata.namespace, obj.metadata.name!, subresource), {
      body: obj,
      query: { fieldManager: this.fieldManager },
    });
  }

  updateStatus(obj: T): Promise<T> {
    return this.update(obj, 'status');
  }

  patch(namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: { subresource?: string; force?: boolean } = {}): Promise<T> {
    return this.t.request<T>('PATCH', objectPath(this.gvr, namespace, name, opts.subresource), {
      body: patch,
      contentType: PATCH_TYPES[type],
      query: { fieldManager: this.fieldManager, force: opts.force ? true : undefined },
    });
  }

  delete(namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<unknown> {
    const body = Object.keys(opts).length ? { apiVersion: 'v1', kind: 'DeleteOptions', ...opts } : undefined;
    return this.t.request('DELETE', objectPath(this.gvr, namespace, name), { body });
  }

  /** POST to a subresource (binding, eviction). */
  createSubresource(namespace: string | undefined, name: string, subresource: string, body: unknown): Promise<unknown> {
    return this.t.request('POST', objectPath(this.gvr, namespace, name, subresource), { body });
  }

  watch(namespace: string | undefined, opts: WatchOptions, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    return this.t.watch(collectionPath(this.gvr, namespace), { ...opts }, onEvent, signal);
  }
}

export class Client {
  private readonly clients = new Map<string, ResourceClient>();

  /** fieldManager: recorded in managedFields for every write (e.g. "kube-controller-manager"). */
  constructor(
    readonly transport: Transport,
    readonly fieldManager = 'k8ts',
  ) {}

  resource<T extends KubeObject = KubeObject>(gvr: GVR): ResourceClient<T> {
    const k = `${gvr.group}/${gvr.version}/${gvr.plural}`;
    let c = this.clients.get(k);
    if (!c) this.clients.set(k, (c = new ResourceClient(this.transport, gvr, this.fieldManager)));
    return c as unknown as ResourceClient<T>;
  }

  /** Raw access for paths outside the resource model (discovery, /version). */
  request<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    return this.transport.request<T>(method, path, opts);
  }

  close(): void {
    this.transport.close();
  }
}
