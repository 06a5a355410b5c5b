// Chain names as upstream kube-proxy makes them: a prefix and the first 16 characters of the
// base32 (RFC 4648) encoding of sha256(servicePortName + protocol[, endpoint]). Keeping the same
// names lets people read `iptables-save` with upstream's docs in hand.

import { createHash } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The first 16 base32 characters (80 bits = the first 10 bytes) of the digest. */
function hash16(input: string): string {
  const d = createHash('sha256').update(input).digest();
  let out = '';
  let bits = 0;
  let acc = 0;
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | d[i];
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

const cache = new Map<string, string>();
function cached(key: string): string {
  let v = cache.get(key);
  if (v === undefined) {
    if (cache.size > 200_000) cache.clear();
    v = hash16(key);
    cache.set(key, v);
  }
  return v;
}

const portProto = (servicePortName: string, protocol: string) => servicePortName + protocol.toLowerCase();

/** KUBE-SVC-: the cluster policy chain (every usable endpoint). */
export const serviceChain = (spn: string, protocol: string) => `KUBE-SVC-${cached(portProto(spn, protocol))}`;
/** KUBE-SVL-: the local policy chain (this node's endpoints only). */
export const serviceLocalChain = (spn: string, protocol: string) => `KUBE-SVL-${cached(portProto(spn, protocol))}`;
/** KUBE-EXT-: what NodePorts, external and load-balancer IPs jump to. */
export const externalChain = (spn: string, protocol: string) => `KUBE-EXT-${cached(portProto(spn, protocol))}`;
/** KUBE-SEP-: one endpoint ("ip:port") of a service port. */
export const endpointChain = (spn: string, protocol: string, endpoint: string) => `KUBE-SEP-${cached(portProto(spn, protocol) + endpoint)}`;

/** Per-service chains the proxy owns and may delete when stale. */
export const PER_SERVICE_CHAIN = /^KUBE-(SVC|SVL|EXT|SEP|FW)-[A-Z2-7]{16}$/;
