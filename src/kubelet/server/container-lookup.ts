// Which runtime container a logs/exec/attach request means, from the runtime's instances of one
// pod container (e.g. RuntimePod.containers filtered by name), with the kubelet's messages
// (upstream validateContainerLogStatus). A helper for KubeletServerDeps.findContainer.

import type { ContainerStatus } from '../runtime/runtime.js';

export interface ContainerInstance {
  id: string;
  /** CRI metadata.attempt (the restart count it was started with). */
  attempt: number;
  status: Pick<ContainerStatus, 'state' | 'log_path' | 'reason'>;
}

/**
 * `instances` are one container's runtime instances in any order. The current instance is the
 * newest attempt; `previous` asks for the one before it, which must have exited.
 * Returns the container ID and its absolute log path, or the error text for the client.
 */
export function selectContainerInstance(o: {
  podName: string;
  container: string;
  instances: ContainerInstance[];
  previous?: boolean;
}): { containerId: string; logPath: string } | string {
  const sorted = [...o.instances].sort((a, b) => b.attempt - a.attempt);
  const [current, before] = sorted;
  if (o.previous) {
    // The newest instance has exited and nothing newer was started yet (back-off): it is the
    // previous one only if an older one exists too; otherwise upstream has no last state.
    const prev = before && before.status.state === 'CONTAINER_EXITED' ? before : undefined;
    if (!prev) return `previous terminated container "${o.container}" in pod "${o.podName}" not found`;
    return { containerId: prev.id, logPath: prev.status.log_path };
  }
  if (!current) return `container "${o.container}" in pod "${o.podName}" is waiting to start: ContainerCreating`;
  if (current.status.state === 'CONTAINER_CREATED' || current.status.state === 'CONTAINER_UNKNOWN') {
    // A container that never ran shows the last run's logs when there was one, as upstream does.
    if (before) return { containerId: before.id, logPath: before.status.log_path };
    return `container "${o.container}" in pod "${o.podName}" is waiting to start: ${current.status.reason || 'ContainerCreating'}`;
  }
  return { containerId: current.id, logPath: current.status.log_path };
}
