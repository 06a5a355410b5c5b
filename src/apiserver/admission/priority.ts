// The Priority admission plugin: a new pod's spec.priority (and preemptionPolicy) come from its
// PriorityClass, or from the global default class, or are 0. Unknown class names are rejected,
// as upstream ("no PriorityClass with name x was found").

import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';

const SYSTEM_CLASSES: Record<string, number> = { 'system-cluster-critical': 2000000000, 'system-node-critical': 2000001000 };

export function admitPodPriority(pod: KubeObject, lookup: (name: string) => KubeObject | undefined, all: () => KubeObject[]): void {
  const spec = (pod.spec ??= {});
  const name: string | undefined = spec.priorityClassName || undefined;
  let value: number;
  let policy: string | undefined;
  if (name) {
    const pc = lookup(name);
    if (pc) {
      value = pc.value;
      policy = pc.preemptionPolicy;
    } else if (name in SYSTEM_CLASSES) value = SYSTEM_CLASSES[name];
    else throw StatusError.forbidden({ group: '', resource: 'pods' }, pod.metadata.name ?? '', `no PriorityClass with name ${name} was found`);
  } else {
    const def = all().filter((c) => c.globalDefault).sort((a, b) => a.value - b.value)[0];
    value = def?.value ?? 0;
    policy = def?.preemptionPolicy;
    if (def) spec.priorityClassName = def.metadata.name;
  }
  if (spec.priority !== undefined && spec.priority !== null && spec.priority !== value) {
    throw StatusError.forbidden({ group: '', resource: 'pods' }, pod.metadata.name ?? '', 'the integer value of priority must not be provided in pod spec; priority admission controller computed ' + value + ' from the given PriorityClass name');
  }
  spec.priority = value;
  spec.preemptionPolicy ??= policy ?? 'PreemptLowerPriority';
}
