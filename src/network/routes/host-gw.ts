// Routes between nodes' pod networks (flannel's host-gw backend): for every other node, a route
// to its podCIDR via its InternalIP, kept in sync with the Node objects. Works when nodes share
// an L2 segment (the `k8ts up` bridge, or one LAN). Routes this controller added carry a
// protocol number of their own, so stale ones can be found and removed without touching others.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { NodeSync, nodeInternalIP } from './node-sync.js';
import type { Logger } from '../../machinery/logger.js';

const execFileP = promisify(execFile);

/** rtnetlink protocol number tagging k8ts's routes (any unused value 5–250 works). */
export const ROUTE_PROTO = '149';

export interface HostGwOptions {
  client: Client;
  nodeName: string;
  log: Pick<Logger, 'info' | 'warn'>;
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
    const via = nodeInternalIP(n);
    if (cidr && via && !via.startsWith('127.')) out.push({ cidr, via });
  }
  return out.sort((a, b) => (a.cidr < b.cidr ? -1 : 1));
}

export class HostGwRoutes {
  private readonly nodes: NodeSync;

  constructor(private readonly o: HostGwOptions) {
    this.nodes = new NodeSync(o.client, (nodes) => this.apply(nodes), o.log);
  }

  private ip(args: string[]): Promise<{ stdout: string }> {
    return this.o.netns ? execFileP('ip', ['netns', 'exec', this.o.netns, 'ip', ...args]) : execFileP('ip', args);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.nodes.run(signal);
  }

  /** Makes the kernel's routes match the Node objects. */
  private async apply(nodes: KubeObject[]): Promise<void> {
    const want = desiredRoutes(nodes, this.o.nodeName);
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
  }

  /** Removes every route this controller added. */
  async cleanup(): Promise<void> {
    await this.ip(['-4', 'route', 'flush', 'proto', ROUTE_PROTO]).catch(() => undefined);
  }
}
