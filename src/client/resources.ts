// The resources the control plane reads and writes, by group/version/plural.

export interface GVR {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const core = (plural: string, kind: string, namespaced = true): GVR => ({ group: '', version: 'v1', plural, kind, namespaced });
const g = (group: string, version: string, plural: string, kind: string, namespaced = true): GVR => ({ group, version, plural, kind, namespaced });

export const R = {
  pods: core('pods', 'Pod'),
  nodes: core('nodes', 'Node', false),
  namespaces: core('namespaces', 'Namespace', false),
  services: core('services', 'Service'),
  endpoints: core('endpoints', 'Endpoints'),
  events: core('events', 'Event'),
  configmaps: core('configmaps', 'ConfigMap'),
  secrets: core('secrets', 'Secret'),
  serviceaccounts: core('serviceaccounts', 'ServiceAccount'),
  persistentvolumeclaims: core('persistentvolumeclaims', 'PersistentVolumeClaim'),
  persistentvolumes: core('persistentvolumes', 'PersistentVolume', false),
  replicationcontrollers: core('replicationcontrollers', 'ReplicationController'),
  resourcequotas: core('resourcequotas', 'ResourceQuota'),
  limitranges: core('limitranges', 'LimitRange'),
  deployments: g('apps', 'v1', 'deployments', 'Deployment'),
  replicasets: g('apps', 'v1', 'replicasets', 'ReplicaSet'),
  statefulsets: g('apps', 'v1', 'statefulsets', 'StatefulSet'),
  daemonsets: g('apps', 'v1', 'daemonsets', 'DaemonSet'),
  controllerrevisions: g('apps', 'v1', 'controllerrevisions', 'ControllerRevision'),
  jobs: g('batch', 'v1', 'jobs', 'Job'),
  cronjobs: g('batch', 'v1', 'cronjobs', 'CronJob'),
  leases: g('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  endpointslices: g('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice'),
  poddisruptionbudgets: g('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget'),
  priorityclasses: g('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false),
  horizontalpodautoscalers: g('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler'),
} as const satisfies Record<string, GVR>;

export function apiVersion(r: GVR): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** The collection path, e.g. /apis/apps/v1/namespaces/ns/deployments or /api/v1/nodes. */
export function collectionPath(r: GVR, namespace?: string): string {
  const root = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace ? `${root}/namespaces/${encodeURIComponent(namespace)}/${r.plural}` : `${root}/${r.plural}`;
}

export function objectPath(r: GVR, namespace: string | undefined, name: string, subresource?: string): string {
  const p = `${collectionPath(r, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${p}/${subresource}` : p;
}
