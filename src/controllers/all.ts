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
import { RootCAPublisher } from './root-ca-publisher/root-ca-publisher.js';
import { HorizontalPodAutoscalerController } from './podautoscaler/podautoscaler.js';
import { ResourceQuotaController } from './resourcequota/resourcequota.js';
import { DisruptionController } from './disruption/disruption.js';
import { EndpointsController } from './endpoints/endpoints.js';
import { EndpointSliceController } from './endpointslice/endpointslice.js';
import { GarbageCollector } from './garbage-collector/garbage-collector.js';
import { NamespaceController } from './namespace/namespace.js';
import { NodeIpamController } from './node-ipam/node-ipam.js';
import { NodeLifecycleController } from './node-lifecycle/node-lifecycle.js';
import { PodGCController } from './podgc/podgc.js';
import { ServiceAccountController } from './serviceaccount/serviceaccount.js';

export const CONTROLLERS: Record<string, (o: ControllerOptions) => Controller | undefined> = {
  'root-ca-certificate-publisher': (o) => (o.rootCACert ? new RootCAPublisher(o.rootCACert) : undefined),
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
  horizontalpodautoscaling: () => new HorizontalPodAutoscalerController(),
  resourcequota: () => new ResourceQuotaController(),
  'persistentvolume-binder': () => new PersistentVolumeController(),
};

/**
 * The controllers to run: `selection` as kube-controller-manager's --controllers ("*" all,
 * "name" one, "-name" not that one), minus `disabled` (k3s-style --disable; "controllers" = all).
 */
export interface ControllerOptions {
  /** The cluster CA certificate (PEM), published in every namespace. */
  rootCACert?: string;
}

export function enabledControllers(disabled: string[], selection: string[] = ['*'], opts: ControllerOptions = {}): Controller[] {
  if (disabled.includes('controllers') || disabled.includes('controller-manager')) return [];
  // Server components that are not controllers may be named in --disable too.
  const components = new Set(['*', 'scheduler', 'ingress', 'dns']);
  const unknown = [...selection.map((s) => s.replace(/^-/, '')), ...disabled].filter((n) => !components.has(n) && !(n in CONTROLLERS));
  if (unknown.length) throw new Error(`unknown controller(s): ${unknown.join(', ')} (known: ${Object.keys(CONTROLLERS).join(', ')})`);
  const on = (name: string) => {
    if (disabled.includes(name) || selection.includes(`-${name}`)) return false;
    return selection.includes('*') || selection.includes(name);
  };
  return Object.entries(CONTROLLERS)
    .filter(([name]) => on(name))
    .map(([, make]) => make(opts))
    .filter((c): c is Controller => !!c);
}
