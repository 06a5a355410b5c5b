// core/v1 PodSpec and the types it uses (containers, volumes, probes, affinity, ...), their
// defaults and validation. Shared by pods and every workload's pod template.

import { type FieldError, fieldErr, FieldPath } from '../../machinery/field-errors.js';
import { Quantity, quantityError, quantityFrom } from '../../machinery/quantity.js';
import { isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isEnvVarName, isValidPortName } from '../../machinery/validation.js';
import { labelSelector, objectMeta } from '../meta/v1.js';
import { arr, bool, enumOf, int32, int64, intOrString, mapOf, named, obj, quantity, str, time, type Schema } from '../schema.js';

const n = (name: string, s: Schema) => named(`io.k8s.api.core.v1.${name}`, s);

export const localObjectReference = n('LocalObjectReference', obj({ name: str() }, { 'x-kubernetes-map-type': 'atomic' }));
export const objectReference = n(
  'ObjectReference',
  obj({ apiVersion: str(), fieldPath: str(), kind: str(), name: str(), namespace: str(), resourceVersion: str(), uid: str() }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const typedLocalObjectReference = n('TypedLocalObjectReference', obj({ apiGroup: str(), kind: str(), name: str() }, { required: ['kind', 'name'], 'x-kubernetes-map-type': 'atomic' }));
const typedObjectReference = n('TypedObjectReference', obj({ apiGroup: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'] }));

const keyToPath = n('KeyToPath', obj({ key: str(), mode: int32(), path: str() }, { required: ['key', 'path'] }));
const objectFieldSelector = n('ObjectFieldSelector', obj({ apiVersion: str(), fieldPath: str() }, { required: ['fieldPath'], 'x-kubernetes-map-type': 'atomic' }));
const resourceFieldSelector = n('ResourceFieldSelector', obj({ containerName: str(), divisor: quantity(), resource: str() }, { required: ['resource'], 'x-kubernetes-map-type': 'atomic' }));
const configMapKeySelector = n('ConfigMapKeySelector', obj({ key: str(), name: str(), optional: bool() }, { required: ['key'], 'x-kubernetes-map-type': 'atomic' }));
const secretKeySelector = n('SecretKeySelector', obj({ key: str(), name: str(), optional: bool() }, { required: ['key'], 'x-kubernetes-map-type': 'atomic' }));

const envVarSource = n(
  'EnvVarSource',
  obj({ configMapKeyRef: configMapKeySelector, fieldRef: objectFieldSelector, resourceFieldRef: resourceFieldSelector, secretKeyRef: secretKeySelector }),
);
const envVar = n('EnvVar', obj({ name: str(), value: str(), valueFrom: envVarSource }, { required: ['name'] }));
const envFromSource = n(
  'EnvFromSource',
  obj({
    configMapRef: n('ConfigMapEnvSource', obj({ name: str(), optional: bool() })),
    prefix: str(),
    secretRef: n('SecretEnvSource', obj({ name: str(), optional: bool() })),
  }),
);
const containerPort = n(
  'ContainerPort',
  obj({ containerPort: int32(), hostIP: str(), hostPort: int32(), name: str(), protocol: enumOf(['SCTP', 'TCP', 'UDP'], { default: 'TCP' }) }, { required: ['containerPort'] }),
);
const resourceClaim = n('ResourceClaim', obj({ name: str(), request: str() }, { required: ['name'] }));
export const resourceRequirements = n(
  'ResourceRequirements',
  obj({
    claims: arr(resourceClaim, { mapKeys: ['name'], listType: 'map' }),
    limits: mapOf(quantity()),
    requests: mapOf(quantity()),
  }),
);
const volumeMount = n(
  'VolumeMount',
  obj(
    { mountPath: str(), mountPropagation: str(), name: str(), readOnly: bool(), recursiveReadOnly: str(), subPath: str(), subPathExpr: str() },
    { required: ['name', 'mountPath'] },
  ),
);
const volumeDevice = n('VolumeDevice', obj({ devicePath: str(), name: str() }, { required: ['name', 'devicePath'] }));
const execAction = n('ExecAction', obj({ command: arr(str(), { listType: 'atomic' }) }));
const httpHeader = n('HTTPHeader', obj({ name: str(), value: str() }, { required: ['name', 'value'] }));
const httpGetAction = n(
  'HTTPGetAction',
  obj({ host: str(), httpHeaders: arr(httpHeader, { listType: 'atomic' }), path: str(), port: intOrString(), scheme: enumOf(['HTTP', 'HTTPS']) }, { required: ['port'] }),
);
const tcpSocketAction = n('TCPSocketAction', obj({ host: str(), port: intOrString() }, { required: ['port'] }));
const grpcAction = n('GRPCAction', obj({ port: int32(), service: str() }, { required: ['port'] }));
const probe = n(
  'Probe',
  obj({
    exec: execAction,
    failureThreshold: int32(),
    grpc: grpcAction,
    httpGet: httpGetAction,
    initialDelaySeconds: int32(),
    periodSeconds: int32(),
    successThreshold: int32(),
    tcpSocket: tcpSocketAction,
    terminationGracePeriodSeconds: int64(),
    timeoutSeconds: int32(),
  }),
);
const lifecycleHandler = n(
  'LifecycleHandler',
  obj({ exec: execAction, httpGet: httpGetAction, sleep: n('SleepAction', obj({ seconds: int64() }, { required: ['seconds'] })), tcpSocket: tcpSocketAction }),
);
const lifecycle = n('Lifecycle', obj({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: str() }));
const capabilities = n('Capabilities', obj({ add: arr(str(), { listType: 'atomic' }), drop: arr(str(), { listType: 'atomic' }) }));
const seLinuxOptions = n('SELinuxOptions', obj({ level: str(), role: str(), type: str(), user: str() }));
const seccompProfile = n('SeccompProfile', obj({ localhostProfile: str(), type: str() }, { required: ['type'] }));
const appArmorProfile = n('AppArmorProfile', obj({ localhostProfile: str(), type: str() }, { required: ['type'] }));
const windowsOptions = n('WindowsSecurityContextOptions', obj({ gmsaCredentialSpec: str(), gmsaCredentialSpecName: str(), hostProcess: bool(), runAsUserName: str() }));
const securityContext = n(
  'SecurityContext',
  obj({
    allowPrivilegeEscalation: bool(),
    appArmorProfile,
    capabilities,
    privileged: bool(),
    procMount: str(),
    readOnlyRootFilesystem: bool(),
    runAsGroup: int64(),
    runAsNonRoot: bool(),
    runAsUser: int64(),
    seLinuxOptions,
    seccompProfile,
    windowsOptions,
  }),
);
const containerResizePolicy = n('ContainerResizePolicy', obj({ resourceName: str(), restartPolicy: str() }, { required: ['resourceName', 'restartPolicy'] }));

const containerFields = () => ({
  args: arr(str(), { listType: 'atomic' }),
  command: arr(str(), { listType: 'atomic' }),
  env: arr(envVar, { mergeKey: 'name', mapKeys: ['name'] }),
  envFrom: arr(envFromSource, { listType: 'atomic' }),
  image: str(),
  imagePullPolicy: enumOf(['Always', 'IfNotPresent', 'Never']),
  lifecycle,
  livenessProbe: probe,
  name: str(),
  ports: arr(containerPort, { mergeKey: 'containerPort', mapKeys: ['containerPort', 'protocol'] }),
  readinessProbe: probe,
  resizePolicy: arr(containerResizePolicy, { listType: 'atomic' }),
  resources: resourceRequirements,
  restartPolicy: str(),
  securityContext,
  startupProbe: probe,
  stdin: bool(),
  stdinOnce: bool(),
  terminationMessagePath: str(),
  terminationMessagePolicy: enumOf(['FallbackToLogsOnError', 'File']),
  tty: bool(),
  volumeDevices: arr(volumeDevice, { mergeKey: 'devicePath', mapKeys: ['devicePath'] }),
  volumeMounts: arr(volumeMount, { mergeKey: 'mountPath', mapKeys: ['mountPath'] }),
  workingDir: str(),
});
export const container = n('Container', obj(containerFields(), { required: ['name'] }));
const ephemeralContainer = n('EphemeralContainer', obj({ ...containerFields(), targetContainerName: str() }, { required: ['name'] }));

// ---- volumes ---------------------------------------------------------------------------------

export const persistentVolumeClaimSpec = n(
  'PersistentVolumeClaimSpec',
  obj({
    accessModes: arr(str(), { listType: 'atomic' }),
    dataSource: typedLocalObjectReference,
    dataSourceRef: typedObjectReference,
    resources: n('VolumeResourceRequirements', obj({ limits: mapOf(quantity()), requests: mapOf(quantity()) })),
    selector: labelSelector,
    storageClassName: str(),
    volumeAttributesClassName: str(),
    volumeMode: enumOf(['Block', 'Filesystem']),
    volumeName: str(),
  }),
);

const downwardAPIVolumeFile = n('DownwardAPIVolumeFile', obj({ fieldRef: objectFieldSelector, mode: int32(), path: str(), resourceFieldRef: resourceFieldSelector }, { required: ['path'] }));
const keyItems = () => arr(keyToPath, { listType: 'atomic' });
const volumeProjection = n(
  'VolumeProjection',
  obj({
    clusterTrustBundle: n('ClusterTrustBundleProjection', obj({ labelSelector, name: str(), optional: bool(), path: str(), signerName: str() }, { required: ['path'] })),
    configMap: n('ConfigMapProjection', obj({ items: keyItems(), name: str(), optional: bool() })),
    downwardAPI: n('DownwardAPIProjection', obj({ items: arr(downwardAPIVolumeFile, { listType: 'atomic' }) })),
    secret: n('SecretProjection', obj({ items: keyItems(), name: str(), optional: bool() })),
    serviceAccountToken: n('ServiceAccountTokenProjection', obj({ audience: str(), expirationSeconds: int64(), path: str() }, { required: ['path'] })),
  }),
);
export const persistentVolumeSourceFields = () => ({
  awsElasticBlockStore: obj({ fsType: str(), partition: int32(), readOnly: bool(), volumeID: str() }),
  azureDisk: obj({ cachingMode: str(), diskName: str(), diskURI: str(), fsType: str(), kind: str(), readOnly: bool() }),
  cephfs: obj({ monitors: arr(str()), path: str(), readOnly: bool(), secretFile: str(), secretRef: localObjectReference, user: str() }),
  cinder: obj({ fsType: str(), readOnly: bool(), secretRef: localObjectReference, volumeID: str() }),
  csi: obj({ driver: str(), fsType: str(), nodePublishSecretRef: localObjectReference, readOnly: bool(), volumeAttributes: mapOf(str()) }),
  fc: obj({ fsType: str(), lun: int32(), readOnly: bool(), targetWWNs: arr(str()), wwids: arr(str()) }),
  flexVolume: obj({ driver: str(), fsType: str(), options: mapOf(str()), readOnly: bool(), secretRef: localObjectReference }),
  gcePersistentDisk: obj({ fsType: str(), partition: int32(), pdName: str(), readOnly: bool() }),
  glusterfs: obj({ endpoints: str(), path: str(), readOnly: bool() }),
  hostPath: n('HostPathVolumeSource', obj({ path: str(), type: str() }, { required: ['path'] })),
  iscsi: obj({ chapAuthDiscovery: bool(), chapAuthSession: bool(), fsType: str(), initiatorName: str(), iqn: str(), iscsiInterface: str(), lun: int32(), portals: arr(str()), readOnly: bool(), secretRef: localObjectReference, targetPortal: str() }),
  nfs: n('NFSVolumeSource', obj({ path: str(), readOnly: bool(), server: str() }, { required: ['server', 'path'] })),
  rbd: obj({ fsType: str(), image: str(), keyring: str(), monitors: arr(str()), pool: str(), readOnly: bool(), secretRef: localObjectReference, user: str() }),
});
const volume = n(
  'Volume',
  obj(
    {
      name: str(),
      ...persistentVolumeSourceFields(),
      configMap: n('ConfigMapVolumeSource', obj({ defaultMode: int32(), items: keyItems(), name: str(), optional: bool() })),
      downwardAPI: n('DownwardAPIVolumeSource', obj({ defaultMode: int32(), items: arr(downwardAPIVolumeFile, { listType: 'atomic' }) })),
      emptyDir: n('EmptyDirVolumeSource', obj({ medium: str(), sizeLimit: quantity() })),
      ephemeral: n('EphemeralVolumeSource', obj({ volumeClaimTemplate: n('PersistentVolumeClaimTemplate', obj({ metadata: objectMeta, spec: persistentVolumeClaimSpec }, { required: ['spec'] })) })),
      image: n('ImageVolumeSource', obj({ pullPolicy: str(), reference: str() })),
      persistentVolumeClaim: n('PersistentVolumeClaimVolumeSource', obj({ claimName: str(), readOnly: bool() }, { required: ['claimName'] })),
      projected: n('ProjectedVolumeSource', obj({ defaultMode: int32(), sources: arr(volumeProjection, { listType: 'atomic' }) })),
      secret: n('SecretVolumeSource', obj({ defaultMode: int32(), items: keyItems(), optional: bool(), secretName: str() })),
    },
    { required: ['name'] },
  ),
);

// ---- scheduling ------------------------------------------------------------------------------

const nodeSelectorRequirement = n('NodeSelectorRequirement', obj({ key: str(), operator: str(), values: arr(str(), { listType: 'atomic' }) }, { required: ['key', 'operator'] }));
const nodeSelectorTerm = n(
  'NodeSelectorTerm',
  obj({ matchExpressions: arr(nodeSelectorRequirement, { listType: 'atomic' }), matchFields: arr(nodeSelectorRequirement, { listType: 'atomic' }) }, { 'x-kubernetes-map-type': 'atomic' }),
);
export const nodeSelector = n('NodeSelector', obj({ nodeSelectorTerms: arr(nodeSelectorTerm, { listType: 'atomic' }) }, { required: ['nodeSelectorTerms'], 'x-kubernetes-map-type': 'atomic' }));
const podAffinityTerm = n(
  'PodAffinityTerm',
  obj(
    {
      labelSelector,
      matchLabelKeys: arr(str(), { listType: 'atomic' }),
      mismatchLabelKeys: arr(str(), { listType: 'atomic' }),
      namespaceSelector: labelSelector,
      namespaces: arr(str(), { listType: 'atomic' }),
      topologyKey: str(),
    },
    { required: ['topologyKey'] },
  ),
);
const weightedPodAffinityTerm = n('WeightedPodAffinityTerm', obj({ podAffinityTerm, weight: int32() }, { required: ['weight', 'podAffinityTerm'] }));
const podAffinityFields = () => ({
  preferredDuringSchedulingIgnoredDuringExecution: arr(weightedPodAffinityTerm, { listType: 'atomic' }),
  requiredDuringSchedulingIgnoredDuringExecution: arr(podAffinityTerm, { listType: 'atomic' }),
});
const affinity = n(
  'Affinity',
  obj({
    nodeAffinity: n(
      'NodeAffinity',
      obj({
        preferredDuringSchedulingIgnoredDuringExecution: arr(n('PreferredSchedulingTerm', obj({ preference: nodeSelectorTerm, weight: int32() }, { required: ['weight', 'preference'] })), {
          listType: 'atomic',
        }),
        requiredDuringSchedulingIgnoredDuringExecution: nodeSelector,
      }),
    ),
    podAffinity: n('PodAffinity', obj(podAffinityFields())),
    podAntiAffinity: n('PodAntiAffinity', obj(podAffinityFields())),
  }),
);
export const toleration = n('Toleration', obj({ effect: str(), key: str(), operator: str(), tolerationSeconds: int64(), value: str() }));
export const topologySpreadConstraint = n(
  'TopologySpreadConstraint',
  obj(
    {
      labelSelector,
      matchLabelKeys: arr(str(), { listType: 'atomic' }),
      maxSkew: int32(),
      minDomains: int32(),
      nodeAffinityPolicy: str(),
      nodeTaintsPolicy: str(),
      topologyKey: str(),
      whenUnsatisfiable: str(),
    },
    { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
  ),
);
const podSecurityContext = n(
  'PodSecurityContext',
  obj({
    appArmorProfile,
    fsGroup: int64(),
    fsGroupChangePolicy: str(),
    runAsGroup: int64(),
    runAsNonRoot: bool(),
    runAsUser: int64(),
    seLinuxChangePolicy: str(),
    seLinuxOptions,
    seccompProfile,
    supplementalGroups: arr(int64(), { listType: 'atomic' }),
    supplementalGroupsPolicy: str(),
    sysctls: arr(n('Sysctl', obj({ name: str(), value: str() }, { required: ['name', 'value'] })), { listType: 'atomic' }),
    windowsOptions,
  }),
);

export const podSpec = n(
  'PodSpec',
  obj(
    {
      activeDeadlineSeconds: int64(),
      affinity,
      automountServiceAccountToken: bool(),
      containers: arr(container, { mergeKey: 'name', mapKeys: ['name'] }),
      dnsConfig: n(
        'PodDNSConfig',
        obj({
          nameservers: arr(str(), { listType: 'atomic' }),
          options: arr(n('PodDNSConfigOption', obj({ name: str(), value: str() })), { listType: 'atomic' }),
          searches: arr(str(), { listType: 'atomic' }),
        }),
      ),
      dnsPolicy: enumOf(['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']),
      enableServiceLinks: bool(),
      ephemeralContainers: arr(ephemeralContainer, { mergeKey: 'name', mapKeys: ['name'] }),
      hostAliases: arr(n('HostAlias', obj({ hostnames: arr(str(), { listType: 'atomic' }), ip: str() }, { required: ['ip'] })), { mergeKey: 'ip', mapKeys: ['ip'] }),
      hostIPC: bool(),
      hostNetwork: bool(),
      hostPID: bool(),
      hostUsers: bool(),
      hostname: str(),
      imagePullSecrets: arr(localObjectReference, { mergeKey: 'name', mapKeys: ['name'] }),
      initContainers: arr(container, { mergeKey: 'name', mapKeys: ['name'] }),
      nodeName: str(),
      nodeSelector: mapOf(str(), { 'x-kubernetes-map-type': 'atomic' }),
      os: n('PodOS', obj({ name: str() }, { required: ['name'] })),
      overhead: mapOf(quantity()),
      preemptionPolicy: str(),
      priority: int32(),
      priorityClassName: str(),
      readinessGates: arr(n('PodReadinessGate', obj({ conditionType: str() }, { required: ['conditionType'] })), { listType: 'atomic' }),
      resourceClaims: arr(n('PodResourceClaim', obj({ name: str(), resourceClaimName: str(), resourceClaimTemplateName: str() }, { required: ['name'] })), {
        mergeKey: 'name',
        mapKeys: ['name'],
        patchStrategy: 'merge,retainKeys',
      }),
      resources: resourceRequirements,
      restartPolicy: enumOf(['Always', 'Never', 'OnFailure']),
      runtimeClassName: str(),
      schedulerName: str(),
      schedulingGates: arr(n('PodSchedulingGate', obj({ name: str() }, { required: ['name'] })), { mergeKey: 'name', mapKeys: ['name'] }),
      securityContext: podSecurityContext,
      serviceAccount: str(),
      serviceAccountName: str(),
      setHostnameAsFQDN: bool(),
      shareProcessNamespace: bool(),
      subdomain: str(),
      terminationGracePeriodSeconds: int64(),
      tolerations: arr(toleration, { listType: 'atomic' }),
      topologySpreadConstraints: arr(topologySpreadConstraint, { mergeKey: 'topologyKey', mapKeys: ['topologyKey', 'whenUnsatisfiable'] }),
      volumes: arr(volume, { mergeKey: 'name', mapKeys: ['name'], patchStrategy: 'merge,retainKeys' }),
    },
    { required: ['containers'] },
  ),
);

export const podTemplateSpec = n('PodTemplateSpec', obj({ metadata: objectMeta, spec: podSpec }));

// ---- pod status ------------------------------------------------------------------------------

const containerState = n(
  'ContainerState',
  obj({
    running: n('ContainerStateRunning', obj({ startedAt: time() })),
    terminated: n(
      'ContainerStateTerminated',
      obj({ containerID: str(), exitCode: int32(), finishedAt: time(), message: str(), reason: str(), signal: int32(), startedAt: time() }, { required: ['exitCode'] }),
    ),
    waiting: n('ContainerStateWaiting', obj({ message: str(), reason: str() })),
  }),
);
const containerStatus = n(
  'ContainerStatus',
  obj(
    {
      allocatedResources: mapOf(quantity()),
      containerID: str(),
      image: str(),
      imageID: str(),
      lastState: containerState,
      name: str(),
      ready: bool(),
      resources: resourceRequirements,
      restartCount: int32(),
      started: bool(),
      state: containerState,
      user: obj({}, { 'x-kubernetes-preserve-unknown-fields': true }),
      volumeMounts: arr(obj({ mountPath: str(), name: str(), readOnly: bool(), recursiveReadOnly: str() }), { mergeKey: 'mountPath', mapKeys: ['mountPath'] }),
    },
    { required: ['name', 'ready', 'restartCount', 'image', 'imageID'] },
  ),
);
export const podStatus = n(
  'PodStatus',
  obj({
    conditions: arr(
      n('PodCondition', obj({ lastProbeTime: time(), lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() }, { required: ['type', 'status'] })),
      { mergeKey: 'type', mapKeys: ['type'] },
    ),
    containerStatuses: arr(containerStatus, { listType: 'atomic' }),
    ephemeralContainerStatuses: arr(containerStatus, { listType: 'atomic' }),
    hostIP: str(),
    hostIPs: arr(obj({ ip: str() }), { mergeKey: 'ip', listType: 'atomic' }),
    initContainerStatuses: arr(containerStatus, { listType: 'atomic' }),
    message: str(),
    nominatedNodeName: str(),
    phase: enumOf(['Failed', 'Pending', 'Running', 'Succeeded', 'Unknown']),
    podIP: str(),
    podIPs: arr(obj({ ip: str() }), { mergeKey: 'ip', mapKeys: ['ip'] }),
    qosClass: str(),
    reason: str(),
    resize: str(),
    resourceClaimStatuses: arr(obj({ name: str(), resourceClaimName: str() }), { mergeKey: 'name', mapKeys: ['name'] }),
    startTime: time(),
  }),
);

// ---- defaults --------------------------------------------------------------------------------

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function defaultProbe(p: Obj | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultContainer(c: Obj): void {
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    const ref = c.image.split('@')[0];
    const lastSlash = ref.lastIndexOf('/');
    const tagIdx = ref.lastIndexOf(':');
    const tag = tagIdx > lastSlash ? ref.slice(tagIdx + 1) : '';
    c.imagePullPolicy = !tag || tag === 'latest' ? (c.image.includes('@') ? 'IfNotPresent' : 'Always') : 'IfNotPresent';
  }
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1';
  }
}

/** pkg/apis/core/v1/defaults.go for PodSpec. */
export function defaultPodSpec(spec: Obj | undefined): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  if (spec.serviceAccountName && !spec.serviceAccount) spec.serviceAccount = spec.serviceAccountName;
  if (spec.hostNetwork) {
    for (const c of spec.containers ?? []) for (const p of c.ports ?? []) p.hostPort ??= p.containerPort;
  }
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const v of spec.volumes ?? []) {
    if (v.configMap) v.configMap.defaultMode ??= 0o644;
    if (v.secret) v.secret.defaultMode ??= 0o644;
    if (v.downwardAPI) v.downwardAPI.defaultMode ??= 0o644;
    if (v.projected) v.projected.defaultMode ??= 0o644;
    if (v.hostPath) v.hostPath.type ??= '';
  }
  spec.enableServiceLinks ??= true;
}

// ---- validation ------------------------------------------------------------------------------

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

/** Container and volume names: required DNS-1123 labels, unique within their list. */
function checkUniqueName(name: unknown, p: FieldPath, names: Set<string>, errs: FieldError[]): void {
  if (!name) {
    errs.push(fieldErr.required(p, ''));
    return;
  }
  for (const m of isDNS1123Label(String(name))) errs.push(fieldErr.invalid(p, name, m));
  if (names.has(String(name))) errs.push(fieldErr.duplicate(p, name));
  names.add(String(name));
}

function validatePortNumber(v: unknown, p: FieldPath, errs: FieldError[]): void {
  if (typeof v !== 'number' || v < 1 || v > 65535) errs.push(fieldErr.invalid(p, v, 'must be between 1 and 65535, inclusive'));
}

function validateProbe(pr: Obj | undefined, p: FieldPath, errs: FieldError[]): void {
  if (!pr) return;
  const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => pr[h]);
  if (handlers.length === 0) errs.push(fieldErr.required(p, 'must specify a handler type'));
  else if (handlers.length > 1) errs.push(fieldErr.forbidden(p.child(handlers[1]), 'may not specify more than 1 handler type'));
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    if (typeof pr[f] === 'number' && pr[f] < 0) errs.push(fieldErr.invalid(p.child(f), pr[f], 'must be greater than or equal to 0'));
  }
}

function validateContainers(list: Obj[] | undefined, p: FieldPath, volumes: Set<string>, errs: FieldError[], required: boolean): Set<string> {
  const names = new Set<string>();
  if (!list || list.length === 0) {
    if (required) errs.push(fieldErr.required(p, ''));
    return names;
  }
  list.forEach((c, i) => {
    const cp = p.index(i);
    checkUniqueName(c.name, cp.child('name'), names, errs);
    if (!c.image || (typeof c.image === 'string' && c.image.trim() === '')) errs.push(fieldErr.required(cp.child('image'), ''));
    if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy)) errs.push(fieldErr.notSupported(cp.child('imagePullPolicy'), c.imagePullPolicy, PULL_POLICIES));
    const portNames = new Set<string>();
    (c.ports ?? []).forEach((port: Obj, j: number) => {
      const pp = cp.child('ports').index(j);
      validatePortNumber(port.containerPort, pp.child('containerPort'), errs);
      if (port.hostPort !== undefined && port.hostPort !== 0) validatePortNumber(port.hostPort, pp.child('hostPort'), errs);
      if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol)) errs.push(fieldErr.notSupported(pp.child('protocol'), port.protocol, PROTOCOLS));
      if (port.name) {
        for (const m of isValidPortName(port.name)) errs.push(fieldErr.invalid(pp.child('name'), port.name, m));
        if (portNames.has(port.name)) errs.push(fieldErr.duplicate(pp.child('name'), port.name));
        portNames.add(port.name);
      }
    });
    (c.env ?? []).forEach((e: Obj, j: number) => {
      const ep = cp.child('env').index(j);
      if (!e.name) errs.push(fieldErr.required(ep.child('name'), ''));
      else for (const m of isEnvVarName(e.name)) errs.push(fieldErr.invalid(ep.child('name'), e.name, m));
      if (e.value !== undefined && e.value !== '' && e.valueFrom) errs.push(fieldErr.invalid(ep.child('valueFrom'), '', 'may not be specified when `value` is not empty'));
    });
    const mountPaths = new Set<string>();
    (c.volumeMounts ?? []).forEach((vm: Obj, j: number) => {
      const vp = cp.child('volumeMounts').index(j);
      if (!vm.name) errs.push(fieldErr.required(vp.child('name'), ''));
      else if (!volumes.has(vm.name)) errs.push(fieldErr.notFound(vp.child('name'), vm.name));
      if (!vm.mountPath) errs.push(fieldErr.required(vp.child('mountPath'), ''));
      else {
        if (mountPaths.has(vm.mountPath)) errs.push(fieldErr.invalid(vp.child('mountPath'), vm.mountPath, 'must be unique'));
        mountPaths.add(vm.mountPath);
      }
    });
    validateProbe(c.livenessProbe, cp.child('livenessProbe'), errs);
    validateProbe(c.readinessProbe, cp.child('readinessProbe'), errs);
    validateProbe(c.startupProbe, cp.child('startupProbe'), errs);
    validateResources(c.resources, cp.child('resources'), errs);
  });
  return names;
}

/** The exact quantity, or undefined when `q` is not one. */
function quantityOf(q: unknown): Quantity | undefined {
  try {
    return quantityFrom(q);
  } catch {
    return undefined;
  }
}

export function validateResources(r: Obj | undefined, p: FieldPath, errs: FieldError[]): void {
  if (!r) return;
  for (const kind of ['limits', 'requests']) {
    for (const [k, v] of Object.entries((r[kind] ?? {}) as Obj)) {
      const err = quantityError(v);
      if (err) errs.push(fieldErr.invalid(p.child(kind).key(k), v, err));
      else if (quantityOf(v)!.sign() < 0) errs.push(fieldErr.invalid(p.child(kind).key(k), v, 'must be greater than or equal to 0'));
    }
  }
  for (const [k, v] of Object.entries((r.requests ?? {}) as Obj)) {
    const lim = r.limits?.[k];
    if (lim === undefined) continue;
    const rv = quantityOf(v);
    const lv = quantityOf(lim);
    if (rv && lv && rv.cmp(lv) > 0) errs.push(fieldErr.invalid(p.child('requests').key(k), v, `must be less than or equal to ${k} limit of ${lim}`));
  }
}

function validateVolumes(list: Obj[] | undefined, p: FieldPath, errs: FieldError[]): Set<string> {
  const names = new Set<string>();
  (list ?? []).forEach((v, i) => {
    const vp = p.index(i);
    checkUniqueName(v.name, vp.child('name'), names, errs);
    const sources = Object.keys(v).filter((k) => k !== 'name');
    if (sources.length === 0) errs.push(fieldErr.required(vp, 'must specify a volume type'));
    else if (sources.length > 1) errs.push(fieldErr.forbidden(vp.child(sources[1]), 'may not specify more than 1 volume type'));
    if (v.configMap) for (const it of v.configMap.items ?? []) for (const m of isConfigMapKey(it.key ?? '')) errs.push(fieldErr.invalid(vp.child('configMap', 'items'), it.key, m));
    if (v.persistentVolumeClaim && !v.persistentVolumeClaim.claimName) errs.push(fieldErr.required(vp.child('persistentVolumeClaim', 'claimName'), ''));
    if (v.hostPath && !v.hostPath.path) errs.push(fieldErr.required(vp.child('hostPath', 'path'), ''));
  });
  return names;
}

export function validatePodSpec(spec: Obj | undefined, p: FieldPath, opts: { restartPolicies?: string[] } = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (!spec) return [fieldErr.required(p, '')];
  const volumes = validateVolumes(spec.volumes, p.child('volumes'), errs);
  const names = validateContainers(spec.containers, p.child('containers'), volumes, errs, true);
  const initNames = validateContainers(spec.initContainers, p.child('initContainers'), volumes, errs, false);
  for (const nme of initNames) if (names.has(nme)) errs.push(fieldErr.duplicate(p.child('initContainers'), nme));
  const policies = opts.restartPolicies ?? RESTART_POLICIES;
  if (spec.restartPolicy === undefined) errs.push(fieldErr.required(p.child('restartPolicy'), ''));
  else if (!policies.includes(spec.restartPolicy)) errs.push(fieldErr.notSupported(p.child('restartPolicy'), spec.restartPolicy, policies));
  if (spec.dnsPolicy !== undefined && !DNS_POLICIES.includes(spec.dnsPolicy)) errs.push(fieldErr.notSupported(p.child('dnsPolicy'), spec.dnsPolicy, DNS_POLICIES));
  if (spec.terminationGracePeriodSeconds !== undefined && spec.terminationGracePeriodSeconds < 0) {
    errs.push(fieldErr.invalid(p.child('terminationGracePeriodSeconds'), spec.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    errs.push(fieldErr.invalid(p.child('activeDeadlineSeconds'), spec.activeDeadlineSeconds, 'must be between 1 and 2147483647, inclusive'));
  }
  if (spec.serviceAccountName) for (const m of isDNS1123Subdomain(spec.serviceAccountName)) errs.push(fieldErr.invalid(p.child('serviceAccountName'), spec.serviceAccountName, m));
  if (spec.nodeName) for (const m of isDNS1123Subdomain(spec.nodeName)) errs.push(fieldErr.invalid(p.child('nodeName'), spec.nodeName, m));
  if (spec.hostname) for (const m of isDNS1123Label(spec.hostname)) errs.push(fieldErr.invalid(p.child('hostname'), spec.hostname, m));
  (spec.tolerations ?? []).forEach((t: Obj, i: number) => {
    const tp = p.child('tolerations').index(i);
    if (t.operator !== undefined && t.operator !== 'Exists' && t.operator !== 'Equal') errs.push(fieldErr.notSupported(tp.child('operator'), t.operator, ['Equal', 'Exists']));
    if (t.operator === 'Exists' && t.value) errs.push(fieldErr.invalid(tp.child('operator'), t.operator, 'value must be empty when `operator` is \'Exists\''));
    if (t.effect !== undefined && t.effect !== '' && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errs.push(fieldErr.notSupported(tp.child('effect'), t.effect, ['NoExecute', 'NoSchedule', 'PreferNoSchedule']));
    }
  });
  return errs;
}

/** A pod template: labels valid, spec valid (workloads require restartPolicy Always unless told). */
export function validatePodTemplateSpec(tpl: Obj | undefined, p: FieldPath, opts: { restartPolicies?: string[] } = {}): FieldError[] {
  if (!tpl) return [fieldErr.required(p, '')];
  return validatePodSpec(tpl.spec, p.child('spec'), opts);
}

/** Upstream's QoS class from requests/limits. */
export function qosClass(spec: Obj): string {
  let guaranteed = true;
  let any = false;
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      const rq = req[r] ?? lim[r];
      if (lim[r] === undefined || rq === undefined || !quantityOf(rq)?.equal(quantityOf(lim[r]) ?? quantityFrom(0))) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

