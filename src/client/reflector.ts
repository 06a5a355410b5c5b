// The reflector keeps a local copy of a resource in step with the server: list, then watch from
// the list's resourceVersion; after a dropped watch it resumes from the last version seen, and
// after 410 Gone (version compacted away) it lists again and reconciles the difference.

import type { KubeObject } from '../api/meta/v1.js';
import type { ResourceClient } from './client.js';
import { sleep } from './sleep.js';
import { ApiError, isGone } from './transport.js';

export interface ReflectorSink {
  /** The full state after a (re)list: the sink drops what is missing and adds what is new. */
  replace(items: KubeObject[], resourceVersion: string): void;
  add(obj: KubeObject): void;
  update(obj: KubeObject): void;
  delete(obj: KubeObject): void;
}

export interface ReflectorOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size for lists; 0 lists everything in one response (from the watch cache). */
  pageSize?: number;
  onError?: (err: unknown) => void;
}


export class Reflector {
  lastResourceVersion = '';

  constructor(
    private readonly client: ResourceClient,
    private readonly sink: ReflectorSink,
    private readonly opts: ReflectorOptions = {},
  ) {}

  private async list(): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    const { labelSelector, fieldSelector } = this.opts;
    do {
      // resourceVersion=0 lets the server answer from its cache; paging needs an exact snapshot.
      const page = await this.client.list(this.opts.namespace, {
        labelSelector,
        fieldSelector,
        limit: this.opts.pageSize || undefined,
        continue: cont,
        resourceVersion: this.opts.pageSize ? undefined : '0',
      });
      for (const it of page.items) items.push(it);
      rv = page.metadata.resourceVersion ?? rv;
      cont = page.metadata.continue || undefined;
    } while (cont);
    this.sink.replace(items, rv);
    this.lastResourceVersion = rv;
  }

  /** Runs until the signal aborts. Errors back off (up to 30 s) and never end the loop. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = 200;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        await this.client.watch(
          this.opts.namespace,
          {
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            resourceVersion: this.lastResourceVersion,
            allowWatchBookmarks: true,
            // The server ends watches now and then; upstream picks 5-10 minutes at random.
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          },
          (e) => {
            if (e.type === 'ERROR') {
              const code = e.object?.code ?? 500;
              throw new ApiError(code, e.object ?? {});
            }
            const obj = e.object as KubeObject;
            if (e.type === 'ADDED') this.sink.add(obj);
            else if (e.type === 'MODIFIED') this.sink.update(obj);
            else if (e.type === 'DELETED') this.sink.delete(obj);
            if (obj?.metadata?.resourceVersion) this.lastResourceVersion = obj.metadata.resourceVersion;
            backoff = 200;
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          // Our version was compacted away (or fell out of the server's window): list again.
          this.opts.onError?.(err);
          needList = true;
          continue;
        }
        this.opts.onError?.(err);
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 30_000);
        // A failed list must be retried; a failed watch resumes from the last version.
        if (!this.lastResourceVersion) needList = true;
      }
    }
  }
}
