// Routes between nodes' pod networks (flannel's host-gw backend): for every other node, a route
// to its podCIDR via its InternalIP, kept in sync with the Node objects. Works when nodes share
// an L2 segment (the `k8ts up` bridge, or one LAN). Routes this controller added carry a
// protocol number of their own, so stale ones can be found and removed without touching others.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';

const execFileP = promisify(execFile);

/** rtnetlink protocol number tagging k8ts's routes (any unused value 5–250 works). */
export const ROUTE_PROTO = '149';

export interface HostGwOptions {
  client: Client;
  nodeName: string;
  log: { info(o: unknown, m?: string): void; warn(o: unknown, m?: string): void };
  /** Run `ip` inside this network namespace (tests); default the agent's own. */
  netns?: string;
}

export interface PodRoute {
  cidr: string;
  via: string;
}

/** The routes this node needs: every other node's podCIDR via its InternalIP. */
export function desiredRoutes(nodes: KubeObject[], self: string): PodRoute[] {
  const out: PodRoute[] = [];
  for (const n of nodes) {
    if (n.metadata.name === self) continue;
    const cidr = n.spec?.podCIDR;
    const via = (n.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address;
    if (cidr && via && !via.startsWith('127.')) out.push({ cidr, via });
  }
  return out.sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
}

export class HostGwRoutes {
  private readonly nodes: SharedInformer;
  private timer?: NodeJS.Timeout;
  private syncing = false;
  private again = false;

  constructor(private readonly o: HostGwOptions) {
    this.nodes = new SharedInformer(o.client, R.nodes, { onError: (err) => o.log.warn({ err: String(err) }, 'node watch ended; resuming') });
    const poke = () => this.schedule();
    this.nodes.addEventHandler({ add: poke, update: poke, delete: poke });
  }

  private ip(args: string[]): Promise<{ stdout: string }> {
    return this.o.netns ? execFileP('ip', ['netns', 'exec', this.o.netns, 'ip', ...args]) : execFileP('ip', args);
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

  /** Makes the kernel's routes match the Node objects. */
  async sync(): Promise<void> {
    if (!this.nodes.hasSynced) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      const want = desiredRoutes(this.nodes.indexer.list(), this.o.nodeName);
      const { stdout } = await this.ip(['-4', 'route', 'show', 'proto', ROUTE_PROTO]);
      const have = new Map<string, string>();
      for (const line of stdout.split('\n')) {
        const m = /^(\S+)\s+via\s+(\S+)/.exec(line.trim());
        if (m) have.set(m[1], m[2]);
      }
      for (const r of want) {
        if (have.get(r.cidr) === r.via) continue;
        try {
          await this.ip(['route', 'replace', r.cidr, 'via', r.via, 'proto', ROUTE_PROTO]);
          this.o.log.info({ cidr: r.cidr, via: r.via }, 'route to a node\'s pods');
        } catch (err) {
          this.o.log.warn({ cidr: r.cidr, via: r.via, err: String((err as Error).message) }, 'could not add the route to a node\'s pods');
        }
      }
      const wanted = new Set(want.map((r) => r.cidr));
      for (const cidr of have.keys()) {
        if (!wanted.has(cidr)) await this.ip(['route', 'del', cidr, 'proto', ROUTE_PROTO]).catch(() => undefined);
      }
    } finally {
      this.syncing = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  /** Removes every route this controller added. */
  async cleanup(): Promise<void> {
    await this.ip(['-4', 'route', 'flush', 'proto', ROUTE_PROTO]).catch(() => undefined);
  }
}
