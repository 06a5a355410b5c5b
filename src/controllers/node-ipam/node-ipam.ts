// Node IPAM (upstream's range allocator): each node gets spec.podCIDR (and podCIDRs), a /24 by
// default from --cluster-cidr (10.42.0.0/16). Allocations are rebuilt from the nodes at start,
// so a restart never hands out a CIDR twice; released when a node is deleted.

import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../context.js';

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

function intToIP(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export class CIDRAllocator {
  private readonly base: number;
  private readonly count: number;
  private readonly used = new Set<number>();
  private next = 0;

  constructor(
    clusterCIDR: string,
    private readonly maskSize: number,
  ) {
    const [ip, bits] = clusterCIDR.split('/');
    const prefix = Number(bits);
    if (!(prefix >= 0 && prefix <= maskSize && maskSize <= 32)) throw new Error(`cluster CIDR ${clusterCIDR} cannot hold /${maskSize} node ranges`);
    this.base = ipToInt(ip) & (prefix === 0 ? 0 : ~((1 << (32 - prefix)) - 1) >>> 0);
    this.count = 2 ** (maskSize - prefix);
  }

  private indexOf(cidr: string): number | undefined {
    const [ip, bits] = cidr.split('/');
    if (Number(bits) !== this.maskSize) return undefined;
    const off = (ipToInt(ip) - this.base) / 2 ** (32 - this.maskSize);
    return Number.isInteger(off) && off >= 0 && off < this.count ? off : undefined;
  }

  occupy(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.add(i);
  }

  release(cidr: string): void {
    const i = this.indexOf(cidr);
    if (i !== undefined) this.used.delete(i);
  }

  allocate(): string | undefined {
    for (let k = 0; k < this.count; k++) {
      const i = (this.next + k) % this.count;
      if (!this.used.has(i)) {
        this.used.add(i);
        this.next = (i + 1) % this.count;
        return `${intToIP((this.base + i * 2 ** (32 - this.maskSize)) >>> 0)}/${this.maskSize}`;
      }
    }
    return undefined;
  }
}

export class NodeIpamController implements Controller {
  readonly name = 'node-ipam';
  private readonly queue = new WorkQueue<string>();
  private allocator?: CIDRAllocator;

  start(ctx: ControllerContext): void {
    this.allocator = new CIDRAllocator(ctx.settings.clusterCIDR, ctx.settings.nodeCIDRMaskSize);
    const nodes = ctx.informers.for(R.nodes);
    nodes.addEventHandler({
      add: (n) => this.observe(n),
      update: (_o, n) => this.observe(n),
      delete: (n: KubeObject) => n.spec?.podCIDR && this.allocator!.release(n.spec.podCIDR),
    });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void (async () => {
      await nodes.waitForSync();
      // Every existing allocation is known before any new one is made.
      for (const n of nodes.indexer.list()) if (!n.spec?.podCIDR) this.queue.add(n.metadata.name!);
      await runWorkers(this.queue, 1, (name) => this.sync(ctx, name), (name, err) => ctx.log.debug({ err, name }, 'node-ipam: retry'));
    })();
  }

  private observe(n: KubeObject): void {
    if (n.spec?.podCIDR) this.allocator!.occupy(n.spec.podCIDR);
    else this.queue.add(n.metadata.name!);
  }

  private async sync(ctx: ControllerContext, name: string): Promise<void> {
    const node = ctx.informers.for(R.nodes).indexer.getByName(undefined, name);
    if (!node || node.spec?.podCIDR || !ctx.informers.for(R.nodes).hasSynced) return;
    const cidr = this.allocator!.allocate();
    if (!cidr) {
      ctx.recorder('cidrAllocator').event(node, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      return;
    }
    try {
      await ctx.client.resource(R.nodes).patch(undefined, name, 'merge', { spec: { podCIDR: cidr, podCIDRs: [cidr] } });
    } catch (e) {
      this.allocator!.release(cidr);
      if (!isNotFound(e)) throw e;
    }
  }
}
