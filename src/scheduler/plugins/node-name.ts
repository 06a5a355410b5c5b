// NodeName: a pod with spec.nodeName set fits only that node.

import { type Plugin, Status } from '../framework/types.js';

export const NODE_NAME = 'NodeName';
export const ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name";
const REJECT = new Status('UnschedulableAndUnresolvable', [ERR_REASON_NODE_NAME]);

export function nodeNamePlugin(): Plugin {
  return {
    name: NODE_NAME,
    filter(_state, pod, node) {
      const want = pod.pod.spec?.nodeName;
      return want && want !== node.name ? REJECT : null;
    },
  };
}
