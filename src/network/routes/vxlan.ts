// The VXLAN backend (flannel's vxlan, for nodes that share no L2 segment): a VXLAN device per node
// whose address is the network address of its podCIDR; each node publishes the device's MAC in
// an annotation; for every other node the agent keeps a permanent neighbour entry (its VTEP
// address → its MAC), a forwarding entry (its MAC → its node address) and a route to its podCIDR
// via its VTEP address over the device. Packets between pods then travel UDP-encapsulated
// (port 8472) between the node addresses.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { NodeSync, nodeInternalIP } from './node-sync.js';
import { ROUTE_PROTO } from './host-gw.js';
import type { Logger } from '../../machinery/logger.js';

const execFileP = promisify(execFile);

export const VXLAN_DEVICE = 'k8ts.vxlan';
export const VTEP_MAC_ANNOTATION = 'k8ts.io/vtep-mac';
const VNI = '1';
const PORT = '8472';

export interface VxlanOptions {
  client: Client;
  nodeName: string;
  nodeIP: string;
  podCIDR: string;
  log: Pick<Logger, 'info' | 'warn'>;
}

/** The network address of a CIDR: the VTEP address of that node. */
export function vtepAddress(cidr: string): string {
  return cidr.split('/')[0];
}

export interface VxlanPeer {
  cidr: string;
  vtep: string;
  mac: string;
  nodeIP: string;
}

export function vxlanPeers(nodes: KubeObject[], self: string): VxlanPeer[] {
  const out: VxlanPeer[] = [];
  for (const n of nodes) {
    if (n.metadata.name === self) continue;
    const cidr = n.spec?.podCIDR;
    const mac = n.metadata.annotations?.[VTEP_MAC_ANNOTATION];
    const nodeIP = nodeInternalIP(n);
    if (cidr && mac && nodeIP) out.push({ cidr, vtep: vtepAddress(cidr), mac, nodeIP });
  }
  return out;
}

export class VxlanRoutes {
  private readonly nodes: NodeSync;
  private readonly applied = new Map<string, string>();

  constructor(private readonly o: VxlanOptions) {
    this.nodes = new NodeSync(o.client, (nodes) => this.apply(nodes), o.log);
  }

  private ip(args: string[]) {
    return execFileP('ip', args);
  }

  /** Creates the device, publishes its MAC, then keeps the peers in sync until aborted. */
  async run(signal: AbortSignal): Promise<void> {
    const exists = await this.ip(['link', 'show', VXLAN_DEVICE]).then(() => true, () => false);
    if (!exists) {
      await this.ip(['link', 'add', VXLAN_DEVICE, 'type', 'vxlan', 'id', VNI, 'local', this.o.nodeIP, 'dstport', PORT, 'nolearning']);
      await this.ip(['link', 'set', VXLAN_DEVICE, 'mtu', '1450']);
    }
    await this.ip(['addr', 'replace', `${vtepAddress(this.o.podCIDR)}/32`, 'dev', VXLAN_DEVICE]);
    await this.ip(['link', 'set', VXLAN_DEVICE, 'up']);
    const { stdout } = await this.ip(['-o', 'link', 'show', VXLAN_DEVICE]);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(stdout)?.[1];
    if (!mac) throw new Error(`no MAC address on ${VXLAN_DEVICE}`);
    await this.o.client.resource(R.nodes).patch(undefined, this.o.nodeName, 'merge', { metadata: { annotations: { [VTEP_MAC_ANNOTATION]: mac } } });
    await this.nodes.run(signal);
  }

  private async apply(nodes: KubeObject[]): Promise<void> {
    const peers = vxlanPeers(nodes, this.o.nodeName);
    const want = new Set(peers.map((p) => p.cidr));
    for (const p of peers) {
      const key = `${p.vtep} ${p.mac} ${p.nodeIP}`;
      if (this.applied.get(p.cidr) === key) continue;
      try {
        await this.ip(['neigh', 'replace', p.vtep, 'lladdr', p.mac, 'dev', VXLAN_DEVICE, 'nud', 'permanent']);
        await execFileP('bridge', ['fdb', 'replace', p.mac, 'dev', VXLAN_DEVICE, 'dst', p.nodeIP]);
        await this.ip(['route', 'replace', p.cidr, 'via', p.vtep, 'dev', VXLAN_DEVICE, 'onlink', 'proto', ROUTE_PROTO]);
        this.applied.set(p.cidr, key);
        this.o.log.info({ cidr: p.cidr, node: p.nodeIP }, 'vxlan route to a node\'s pods');
      } catch (err) {
        this.o.log.warn({ cidr: p.cidr, err: String((err as Error).message) }, 'could not program the vxlan peer');
      }
    }
    for (const cidr of [...this.applied.keys()]) {
      if (want.has(cidr)) continue;
      await this.ip(['route', 'del', cidr, 'proto', ROUTE_PROTO]).catch(() => undefined);
      this.applied.delete(cidr);
    }
  }
}
