// The node heartbeat: the Lease named after the node in kube-node-lease (40 s duration, owned by
// the Node so it goes with it), renewed by patch and created when missing. Used by real and
// simulated nodes alike.

import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';

const microTime = () => new Date().toISOString().replace('Z', '000Z');

export async function renewNodeLease(client: Client, nodeName: string, nodeUID?: string): Promise<void> {
  const leases = client.resource(R.leases);
  const spec = { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: microTime() };
  try {
    await leases.patch('kube-node-lease', nodeName, 'merge', { spec });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    const uid = nodeUID ?? (await client.resource(R.nodes).get(undefined, nodeName)).metadata.uid;
    try {
      await leases.create('kube-node-lease', {
        metadata: { name: nodeName, namespace: 'kube-node-lease', ownerReferences: uid ? [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid }] : [] },
        spec,
      });
    } catch (e2) {
      if (!isAlreadyExists(e2) && !isConflict(e2)) throw e2;
    }
  }
}
