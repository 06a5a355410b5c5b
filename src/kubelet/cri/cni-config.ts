// The pod network containerd sets up through CNI: a conflist in the CNI conf dir that containerd
// was given (cniConfDir). bridge + host-local + portmap + loopback is what k3s's default network
// and the measured notes use; plugins 1.1.1 accept cniVersion 1.0.0.

export interface BridgeNetworkOptions {
  /** The network's name (libcni keys its cache and iptables comments by it). */
  name: string;
  /** Linux bridge device (at most 15 characters). */
  bridge: string;
  /** The node's pod CIDR, e.g. 10.42.0.0/24. */
  subnet: string;
  /** Default: the first address of the subnet. */
  gateway?: string;
  /** host-local's allocation state (default /var/lib/cni/networks); keep it per node. */
  ipamDataDir?: string;
  mtu?: number;
}

/** The first host address of an IPv4 CIDR. */
export function firstAddress(cidr: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  const bits = Number(m[5]);
  if (bits > 30) throw new Error(`pod CIDR ${cidr} is too small`);
  const n = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const first = ((n & mask) + 1) >>> 0;
  return [first >>> 24, (first >>> 16) & 255, (first >>> 8) & 255, first & 255].join('.');
}

export function bridgeConflist(o: BridgeNetworkOptions): string {
  if (o.bridge.length > 15) throw new Error(`bridge name ${o.bridge} is longer than 15 characters`);
  const gateway = o.gateway ?? firstAddress(o.subnet);
  return (
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: o.name,
        plugins: [
          {
            type: 'bridge',
            bridge: o.bridge,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ...(o.mtu ? { mtu: o.mtu } : {}),
            ipam: {
              type: 'host-local',
              ...(o.ipamDataDir ? { dataDir: o.ipamDataDir } : {}),
              ranges: [[{ subnet: o.subnet, gateway }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'loopback' },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}
