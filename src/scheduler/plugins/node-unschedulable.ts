// NodeUnschedulable: cordoned nodes (spec.unschedulable) only take pods tolerating
// node.kubernetes.io/unschedulable:NoSchedule.

import { type Plugin, Status, type Taint } from '../framework/types.js';
import { toleratedBy } from './helpers.js';

export const NODE_UNSCHEDULABLE = 'NodeUnschedulable';
export const ERR_REASON_UNSCHEDULABLE = 'node(s) were unschedulable';
const REJECT = new Status('UnschedulableAndUnresolvable', [ERR_REASON_UNSCHEDULABLE]);
const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export function nodeUnschedulablePlugin(): Plugin {
  return {
    name: NODE_UNSCHEDULABLE,
    filter(_state, pod, node) {
      if (!node.unschedulable) return null;
      return toleratedBy(UNSCHEDULABLE_TAINT, pod.tolerations) ? null : REJECT;
    },
  };
}
