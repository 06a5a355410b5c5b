// The node's pod network as a CNI config for the runtime: a Linux bridge with host-local IPAM
// over the node's podCIDR (assigned by the node-ipam controller), portmap for hostPorts, and
// loopback. Written once the podCIDR is known; the runtime reports NetworkReady after that.
// Pod traffic to anything outside the cluster's pod network is masqueraded (the bridge plugin's
// ipMasq) unless turned off, as test clusters do.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CNI_CONFIG_NAME = '10-k8ts.conflist';

export interface PodNetworkOptions {
  confDir: string;
  /** host-local's allocation records. */
  ipamDataDir: string;
  podCIDR: string;
  /** Linux interface names are at most 15 bytes. */
  bridge: string;
  mtu?: number;
  /** Masquerade pod traffic leaving the pod network (default true). */
  masquerade?: boolean;
}

export function podNetworkConfig(o: PodNetworkOptions): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'k8ts-pod-network',
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridge,
        isGateway: true,
        ipMasq: o.masquerade !== false,
        hairpinMode: true,
        ...(o.mtu ? { mtu: o.mtu } : {}),
        ipam: { type: 'host-local', dataDir: o.ipamDataDir, ranges: [[{ subnet: o.podCIDR }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'loopback' },
    ],
  };
}

/** Writes the conflist atomically; returns true when it changed. */
export function writePodNetworkConfig(o: PodNetworkOptions): boolean {
  if (o.bridge.length > 15) throw new Error(`bridge name ${o.bridge} is longer than 15 characters`);
  mkdirSync(o.confDir, { recursive: true });
  mkdirSync(o.ipamDataDir, { recursive: true });
  const path = join(o.confDir, CNI_CONFIG_NAME);
  const text = JSON.stringify(podNetworkConfig(o), null, 2) + '\n';
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return false;
  writeFileSync(path + '.tmp', text);
  renameSync(path + '.tmp', path);
  return true;
}
