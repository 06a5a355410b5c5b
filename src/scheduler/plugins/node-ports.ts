// NodePorts: the pod's host ports must be free on the node.

import { type Plugin, Status } from '../framework/types.js';

export const NODE_PORTS = 'NodePorts';
export const ERR_REASON_PORTS = "node(s) didn't have free ports for the requested pod ports";
const REJECT = new Status('Unschedulable', [ERR_REASON_PORTS]);
const SKIP = new Status('Skip');

export function nodePortsPlugin(): Plugin {
  return {
    name: NODE_PORTS,
    preFilter(_state, pod) {
      return pod.hostPorts.length === 0 ? SKIP : null;
    },
    filter(_state, pod, node) {
      for (const hp of pod.hostPorts) if (node.portConflicts(hp)) return REJECT;
      return null;
    },
  };
}
