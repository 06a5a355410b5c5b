// Shared by the pod-route backends: watch the Nodes and run `apply` with the current list after
// each change, coalesced (200 ms) and never two at a time (a change during a run runs it again).

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import type { Logger } from '../../machinery/logger.js';

/** A Node's InternalIP (where its pod range is routed), if it reports one. */
export function nodeInternalIP(node: KubeObject): string | undefined {
  return (node.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address;
}

export class NodeSync {
  private readonly nodes: SharedInformer;
  private timer?: NodeJS.Timeout;
  private syncing = false;
  private again = false;

  constructor(
    client: Client,
    private readonly apply: (nodes: KubeObject[]) => Promise<void>,
    log: Pick<Logger, 'warn'>,
  ) {
    this.nodes = new SharedInformer(client, R.nodes, { onError: (err) => log.warn({ err: String(err) }, 'node watch ended; resuming') });
    const poke = () => this.schedule();
    this.nodes.addEventHandler({ add: poke, update: poke, delete: poke });
  }

  async run(signal: AbortSignal): Promise<void> {
    void this.nodes.run(signal);
    await this.nodes.waitForSync();
    await this.sync();
    signal.addEventListener('abort', () => clearTimeout(this.timer), { once: true });
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, 200);
  }

  async sync(): Promise<void> {
    if (!this.nodes.hasSynced) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      await this.apply(this.nodes.indexer.list());
    } finally {
      this.syncing = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }
}
