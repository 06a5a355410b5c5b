// The controllers `k8ts server` runs, by upstream name (for --disable and --controllers).

import type { Controller } from './context.js';
import { CronJobController } from './cronjob/index.js';
import { DeploymentController } from './deployment/controller.js';
import { JobController } from './job/index.js';
import { ReplicaSetController, ReplicationManager } from './replicaset/controller.js';
import { TTLAfterFinishedController } from './ttl-after-finished/index.js';
import { DaemonSetController } from './daemonset/daemonset.js';
import { StatefulSetController } from './statefulset/statefulset.js';
import { PersistentVolumeController } from './persistentvolume/persistentvolume.js';
import { DisruptionController } from './disruption/disruption.js';
import { EndpointsController } from './endpoints/endpoints.js';
import { EndpointSliceController } from './endpointslice/endpointslice.js';
import { GarbageCollector } from './garbage-collector/garbage-collector.js';
import { NamespaceController } from './namespace/namespace.js';
import { NodeIpamController } from './node-ipam/node-ipam.js';
import { NodeLifecycleController } from './node-lifecycle/node-lifecycle.js';
import { PodGCController } from './podgc/podgc.js';
import { ServiceAccountController } from './serviceaccount/serviceaccount.js';

export const CONTROLLERS: Record<string, () => Controller> = {
  deployment: () => new DeploymentController(),
  replicaset: () => new ReplicaSetController('ReplicaSet'),
  replicationcontroller: () => new ReplicationManager(),
  statefulset: () => new StatefulSetController(),
  daemonset: () => new DaemonSetController(),
  job: () => new JobController(),
  cronjob: () => new CronJobController(),
  'ttl-after-finished': () => new TTLAfterFinishedController(),
  'garbage-collector': () => new GarbageCollector(),
  namespace: () => new NamespaceController(),
  endpoints: () => new EndpointsController(),
  endpointslice: () => new EndpointSliceController(),
  serviceaccount: () => new ServiceAccountController(),
  'node-ipam': () => new NodeIpamController(),
  'node-lifecycle': () => new NodeLifecycleController(),
  'pod-garbage-collector': () => new PodGCController(),
  disruption: () => new DisruptionController(),
  'persistentvolume-binder': () => new PersistentVolumeController(),
};

/** The controllers to run, without the disabled ones ("*" or a name). */
export function enabledControllers(disabled: string[]): Controller[] {
  if (disabled.includes('controllers') || disabled.includes('controller-manager')) return [];
  return Object.entries(CONTROLLERS)
    .filter(([name]) => !disabled.includes(name))
    .map(([, make]) => make());
}
