// VolumeBinding (reduced): every PersistentVolumeClaim the pod uses must exist, not be
// terminating, and be bound. Dynamic provisioning and WaitForFirstConsumer binding are not
// modelled: an unbound claim makes the pod unschedulable until it is bound.

import type { KubeObject } from '../../api/meta/v1.js';
import { type Plugin, Status } from '../framework/types.js';

export const VOLUME_BINDING = 'VolumeBinding';
export const ERR_REASON_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';
const SKIP = new Status('Skip');

/** Returns the claim, or undefined when it does not exist. */
export type PVCLookup = (namespace: string, name: string) => KubeObject | undefined;

export function volumeBindingPlugin(lookup?: PVCLookup): Plugin {
  return {
    name: VOLUME_BINDING,
    preFilter(_state, pod) {
      const volumes = (pod.pod.spec?.volumes ?? []) as { name?: string; persistentVolumeClaim?: { claimName?: string }; ephemeral?: unknown }[];
      let hasPVC = false;
      let unbound = false;
      for (const v of volumes) {
        let claim: string | undefined;
        let ephemeral = false;
        if (v.persistentVolumeClaim?.claimName) claim = v.persistentVolumeClaim.claimName;
        else if (v.ephemeral) {
          claim = `${pod.name}-${v.name ?? ''}`;
          ephemeral = true;
        }
        if (!claim) continue;
        hasPVC = true;
        const pvc = lookup?.(pod.namespace, claim);
        if (!pvc) return new Status('UnschedulableAndUnresolvable', [`persistentvolumeclaim "${claim}" not found`]);
        if (pvc.metadata?.deletionTimestamp) return new Status('UnschedulableAndUnresolvable', [`persistentvolumeclaim "${claim}" is being deleted`]);
        if (ephemeral && !(pvc.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === pod.uid)) {
          return new Status('UnschedulableAndUnresolvable', [`PVC ${pod.namespace}/${claim} was not created for pod ${pod.namespace}/${pod.name} (pod is not owner)`]);
        }
        if (!pvc.spec?.volumeName) unbound = true;
      }
      if (!hasPVC) return SKIP;
      if (unbound) return new Status('UnschedulableAndUnresolvable', [ERR_REASON_UNBOUND_IMMEDIATE]);
      return SKIP;
    },
  };
}
