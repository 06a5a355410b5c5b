// core/v1: namespaces, pods, services, endpoints, configmaps, secrets, serviceaccounts, nodes,
// events, persistentvolumes, persistentvolumeclaims, limitranges, resourcequotas,
// replicationcontrollers.

import { isIP } from 'node:net';
import { type FieldError, fieldErr, FieldPath } from '../../machinery/field-errors.js';
import { isConfigMapKey, isDNS1123Label, isValidPortName, validateLabels } from '../../machinery/validation.js';
import type { KubeObject } from '../meta/v1.js';
import { age, col, mapOrNone } from '../printing.js';
import type { ResourceDef } from '../resource.js';
import { anyValue, arr, bool, bytes, enumOf, int32, int64, intOrString, mapOf, microTime, named, obj, quantity, str, time, type Schema } from '../schema.js';
import { createdAtColumns, defineKind } from './define.js';
import { normalizeClusterIPs, patchServiceUpdate } from './service-fields.js';
import {
  defaultPodSpec,
  localObjectReference,
  nodeSelector,
  objectReference,
  persistentVolumeClaimSpec,
  persistentVolumeSourceFields,
  podSpec,
  podStatus,
  podTemplateSpec,
  qosClass,
  validatePodSpec,
  validatePodTemplateSpec,
} from './pod-spec.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const PKG = 'io.k8s.api.core.v1';
const n = (name: string, s: Schema) => named(`${PKG}.${name}`, s);
const base = { group: '', version: 'v1', pkg: PKG };
const root = new FieldPath();

// ---- namespaces --------------------------------------------------------------------------------

const namespaces = defineKind({
  ...base,
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
  shortNames: ['ns'],
  status: true,
  properties: {
    spec: n('NamespaceSpec', obj({ finalizers: arr(str(), { listType: 'atomic' }) })),
    status: n(
      'NamespaceStatus',
      obj({
        conditions: arr(n('NamespaceCondition', obj({ lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() })), { mergeKey: 'type', mapKeys: ['type'] }),
        phase: enumOf(['Active', 'Terminating']),
      }),
    ),
  },
  strategy: {
    defaults(o) {
      o.spec ??= {};
      o.metadata.labels = { ...(o.metadata.labels ?? {}), 'kubernetes.io/metadata.name': o.metadata.name ?? '' };
      if (!o.metadata.name) delete o.metadata.labels['kubernetes.io/metadata.name'];
    },
    prepareForCreate(o) {
      o.spec = { ...(o.spec ?? {}), finalizers: ['kubernetes'] };
      o.status = { phase: 'Active' };
    },
    prepareForUpdate(o, old) {
      o.spec = { ...(o.spec ?? {}), finalizers: old.spec?.finalizers ?? [] };
    },
    validateName: isDNS1123Label,
  },
  columns: [col('Status', { description: 'The status of the namespace' }), col('Age')],
  cells: (o, now) => [o.status?.phase ?? '', age(o.metadata.creationTimestamp, now)],
  fieldSelectors: { 'status.phase': (o) => o.status?.phase },
});

// ---- pods --------------------------------------------------------------------------------------

/**
 * What upstream's default admission plugins add to every new pod: ServiceAccount (the `default`
 * account) and DefaultTolerationSeconds (pods tolerate not-ready/unreachable nodes for 300 s
 * before the node lifecycle controller evicts them).
 */
function admitPodDefaults(o: Obj): void {
  const spec = (o.spec ??= {});
  spec.serviceAccountName ??= spec.serviceAccount ?? 'default';
  spec.serviceAccount ??= spec.serviceAccountName;
  const tolerations: Obj[] = (spec.tolerations ??= []);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    const covered = tolerations.some((t) => (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute'));
    if (!covered) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
}

function podPhaseReason(pod: Obj): { status: string; ready: number; total: number; restarts: number } {
  const spec = pod.spec ?? {};
  const st = pod.status ?? {};
  let reason: string = st.reason || st.phase || '';
  const total = (spec.containers ?? []).length;
  let ready = 0;
  let restarts = 0;
  let initializing = false;
  const inits = st.initContainerStatuses ?? [];
  inits.forEach((c: Obj, i: number) => {
    restarts += c.restartCount ?? 0;
    if (initializing) return;
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) return;
    if (t) reason = t.reason ? `Init:${t.reason}` : t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode}`;
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${(spec.initContainers ?? []).length}`;
    initializing = true;
  });
  if (!initializing) {
    let hasRunning = false;
    const cs: Obj[] = st.containerStatuses ?? [];
    for (let i = cs.length - 1; i >= 0; i--) {
      const c = cs[i];
      restarts += c.restartCount ?? 0;
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
      else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
      else if (c.ready && c.state?.running) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const readyCond = (st.conditions ?? []).find((c: Obj) => c.type === 'Ready');
      reason = readyCond?.status === 'True' ? 'Running' : 'NotReady';
    }
  } else {
    for (const c of st.containerStatuses ?? []) restarts += c.restartCount ?? 0;
  }
  if (pod.metadata?.deletionTimestamp) reason = st.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return { status: reason, ready, total, restarts };
}

const POD_FIELD_SELECTORS: ResourceDef['fieldSelectors'] = {
  'spec.nodeName': (o) => o.spec?.nodeName ?? '',
  'spec.restartPolicy': (o) => o.spec?.restartPolicy ?? '',
  'spec.schedulerName': (o) => o.spec?.schedulerName ?? '',
  'spec.serviceAccountName': (o) => o.spec?.serviceAccountName ?? '',
  'spec.hostNetwork': (o) => String(!!o.spec?.hostNetwork),
  'status.phase': (o) => o.status?.phase ?? '',
  'status.podIP': (o) => o.status?.podIP ?? '',
  'status.nominatedNodeName': (o) => o.status?.nominatedNodeName ?? '',
};

function podSpecUpdateErrors(o: KubeObject, old: KubeObject): FieldError[] {
  const strip = (spec: Obj) => {
    const s = structuredClone(spec ?? {});
    for (const c of s.containers ?? []) delete c.image;
    for (const c of s.initContainers ?? []) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    delete s.terminationGracePeriodSeconds;
    delete s.schedulingGates;
    if (!old.spec?.nodeName) delete s.nodeName;
    return JSON.stringify(s);
  };
  if (strip(o.spec) !== strip(old.spec)) {
    return [
      fieldErr.forbidden(
        'spec',
        `pod updates may not change fields other than \`spec.containers[*].image\`,\`spec.initContainers[*].image\`,\`spec.activeDeadlineSeconds\`,\`spec.tolerations\` (only additions to existing tolerations),\`spec.terminationGracePeriodSeconds\` (allow it to be set to 1 if it was previously negative)`,
      ),
    ];
  }
  return [];
}

const pods = defineKind({
  ...base,
  kind: 'Pod',
  plural: 'pods',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  status: true,
  properties: { spec: podSpec, status: podStatus },
  strategy: {
    defaults(o) {
      defaultPodSpec(o.spec);
    },
    prepareForCreate(o) {
      o.status = { phase: 'Pending', qosClass: qosClass(o.spec ?? {}) };
      admitPodDefaults(o);
    },
    validate(o) {
      return validatePodSpec(o.spec, root.child('spec'));
    },
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      return [...validatePodSpec(o.spec, root.child('spec')), ...podSpecUpdateErrors(o, old)];
    },
  },
  columns: [
    col('Ready', { description: 'The aggregate readiness state of this pod for accepting traffic.' }),
    col('Status', { description: 'The aggregate status of the containers in this pod.' }),
    col('Restarts', { description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.' }),
    col('Age'),
    col('IP', { priority: 1, description: 'The IP address assigned to the pod' }),
    col('Node', { priority: 1, description: 'The node the pod is scheduled on' }),
    col('Nominated Node', { priority: 1 }),
    col('Readiness Gates', { priority: 1 }),
  ],
  cells: (o, now) => {
    const s = podPhaseReason(o);
    const gates = (o.spec?.readinessGates ?? []) as Obj[];
    const gateCell = gates.length
      ? `${gates.filter((g) => (o.status?.conditions ?? []).some((c: Obj) => c.type === g.conditionType && c.status === 'True')).length}/${gates.length}`
      : '<none>';
    return [`${s.ready}/${s.total}`, s.status, s.restarts, age(o.metadata.creationTimestamp, now), o.status?.podIP || '<none>', o.spec?.nodeName || '<none>', o.status?.nominatedNodeName || '<none>', gateCell];
  },
  fieldSelectors: POD_FIELD_SELECTORS,
});
pods.subresources!.extra = [
  { name: 'attach', group: '', version: 'v1', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
  { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
  { name: 'exec', group: '', version: 'v1', kind: 'PodExecOptions', verbs: ['create', 'get'] },
  { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
  { name: 'portforward', group: '', version: 'v1', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  { name: 'proxy', group: '', version: 'v1', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
];

// ---- services ----------------------------------------------------------------------------------

const servicePort = n(
  'ServicePort',
  obj({ appProtocol: str(), name: str(), nodePort: int32(), port: int32(), protocol: enumOf(['SCTP', 'TCP', 'UDP']), targetPort: intOrString() }, { required: ['port'] }),
);
const loadBalancerIngress = n(
  'LoadBalancerIngress',
  obj({ hostname: str(), ip: str(), ipMode: str(), ports: arr(obj({ error: str(), port: int32(), protocol: str() }), { listType: 'atomic' }) }),
);
const loadBalancerStatus = n('LoadBalancerStatus', obj({ ingress: arr(loadBalancerIngress, { listType: 'atomic' }) }));
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function servicePortsCell(o: Obj): string {
  const ports = (o.spec?.ports ?? []) as Obj[];
  if (!ports.length) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

function serviceExternalIP(o: Obj): string {
  const t = o.spec?.type ?? 'ClusterIP';
  const ext = (o.spec?.externalIPs ?? []) as string[];
  if (t === 'ClusterIP' || t === 'NodePort') return ext.length ? ext.join(',') : '<none>';
  if (t === 'ExternalName') return o.spec?.externalName ?? '<none>';
  const lb = ((o.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip || i.hostname).filter(Boolean);
  const all = [...lb, ...ext];
  return all.length ? all.join(',') : '<pending>';
}

function validateService(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec ?? {};
  const p = root.child('spec');
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type)) errs.push(fieldErr.notSupported(p.child('type'), type, SERVICE_TYPES));
  const ports = (spec.ports ?? []) as Obj[];
  if (type === 'ExternalName') {
    if (!spec.externalName) errs.push(fieldErr.required(p.child('externalName'), ''));
  } else if (!ports.length && spec.clusterIP !== 'None') errs.push(fieldErr.required(p.child('ports'), ''));
  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((port, i) => {
    const pp = p.child('ports').index(i);
    if (ports.length > 1 && !port.name) errs.push(fieldErr.required(pp.child('name'), ''));
    if (port.name) {
      for (const m of isDNS1123Label(port.name)) errs.push(fieldErr.invalid(pp.child('name'), port.name, m));
      if (names.has(port.name)) errs.push(fieldErr.duplicate(pp.child('name'), port.name));
      names.add(port.name);
    }
    if (typeof port.port !== 'number' || port.port < 1 || port.port > 65535) errs.push(fieldErr.invalid(pp.child('port'), port.port, 'must be between 1 and 65535, inclusive'));
    if (port.protocol && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) errs.push(fieldErr.notSupported(pp.child('protocol'), port.protocol, ['SCTP', 'TCP', 'UDP']));
    const tp = port.targetPort;
    if (typeof tp === 'number' && (tp < 1 || tp > 65535)) errs.push(fieldErr.invalid(pp.child('targetPort'), tp, 'must be between 1 and 65535, inclusive'));
    if (typeof tp === 'string') for (const m of isValidPortName(tp)) errs.push(fieldErr.invalid(pp.child('targetPort'), tp, m));
    if (port.nodePort !== undefined && port.nodePort !== 0 && type === 'ClusterIP') errs.push(fieldErr.forbidden(pp.child('nodePort'), 'may not be used when `type` is \'ClusterIP\''));
    const key = `${port.port}/${port.protocol ?? 'TCP'}`;
    if (seen.has(key)) errs.push(fieldErr.duplicate(pp, { port: port.port, protocol: port.protocol ?? 'TCP' }));
    seen.add(key);
  });
  const clusterIPs = (spec.clusterIPs ?? []) as unknown[];
  clusterIPs.forEach((ip, i) => {
    if (ip !== 'None' && ip !== '' && (typeof ip !== 'string' || !isIP(ip))) {
      errs.push(fieldErr.invalid(p.child('clusterIPs').index(i), ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });
  if (spec.clusterIP === 'None' && (type === 'NodePort' || type === 'LoadBalancer')) {
    errs.push(fieldErr.invalid(p.child('clusterIPs').index(0), 'None', `may not be set to 'None' for ${type} services`));
  }
  errs.push(...validateLabels(spec.selector, p.child('selector')));
  if (spec.sessionAffinity && !['ClientIP', 'None'].includes(spec.sessionAffinity)) errs.push(fieldErr.notSupported(p.child('sessionAffinity'), spec.sessionAffinity, ['ClientIP', 'None']));
  return errs;
}

const services = defineKind({
  ...base,
  kind: 'Service',
  plural: 'services',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  status: true,
  properties: {
    spec: n(
      'ServiceSpec',
      obj({
        allocateLoadBalancerNodePorts: bool(),
        clusterIP: str(),
        clusterIPs: arr(str(), { listType: 'atomic' }),
        externalIPs: arr(str(), { listType: 'atomic' }),
        externalName: str(),
        externalTrafficPolicy: str(),
        healthCheckNodePort: int32(),
        internalTrafficPolicy: str(),
        ipFamilies: arr(str(), { listType: 'atomic' }),
        ipFamilyPolicy: str(),
        loadBalancerClass: str(),
        loadBalancerIP: str(),
        loadBalancerSourceRanges: arr(str(), { listType: 'atomic' }),
        ports: arr(servicePort, { mergeKey: 'port', mapKeys: ['port', 'protocol'] }),
        publishNotReadyAddresses: bool(),
        selector: mapOf(str(), { 'x-kubernetes-map-type': 'atomic' }),
        sessionAffinity: enumOf(['ClientIP', 'None']),
        sessionAffinityConfig: n('SessionAffinityConfig', obj({ clientIP: n('ClientIPConfig', obj({ timeoutSeconds: int32() })) })),
        trafficDistribution: str(),
        type: enumOf(SERVICE_TYPES),
      }),
    ),
    status: n(
      'ServiceStatus',
      obj({
        conditions: arr(named('io.k8s.apimachinery.pkg.apis.meta.v1.Condition', obj({ lastTransitionTime: time(), message: str(), observedGeneration: int64(), reason: str(), status: str(), type: str() })), {
          mergeKey: 'type',
          mapKeys: ['type'],
        }),
        loadBalancer: loadBalancerStatus,
      }),
    ),
  },
  strategy: {
    defaults(o) {
      const spec = (o.spec ??= {});
      spec.type ??= 'ClusterIP';
      spec.sessionAffinity ??= 'None';
      if (spec.sessionAffinity === 'ClientIP') spec.sessionAffinityConfig ??= { clientIP: { timeoutSeconds: 10800 } };
      if (spec.type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster';
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster';
      if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
      for (const p of spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
        // 0 means "not set" (Go's zero value, which protobuf clients send explicitly).
        if (p.nodePort === 0) delete p.nodePort;
      }
    },
    prepareForCreate(o) {
      o.status = { loadBalancer: {} };
      normalizeClusterIPs(o);
    },
    prepareForUpdate(o, old) {
      // Allocated values the client left out are kept (the ClusterIP is immutable); values the
      // new type does not use are dropped. The API server allocates what is still missing.
      patchServiceUpdate(o, old);
      normalizeClusterIPs(o);
    },
    validate: (o) => validateService(o),
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      const errs = validateService(o);
      if (old.spec?.clusterIP && o.spec?.clusterIP !== old.spec.clusterIP && old.spec.type !== 'ExternalName' && o.spec?.type !== 'ExternalName') {
        errs.push(fieldErr.invalid('spec.clusterIPs[0]', o.spec?.clusterIP, 'may not change once set'));
      }
      return errs;
    },
  },
  columns: [
    col('Type', { description: 'The type of the service.' }),
    col('Cluster-IP', { description: 'The cluster IP address of the service.' }),
    col('External-IP', { description: 'The external IP address of the service.' }),
    col('Port(s)', { description: 'The ports of the service.' }),
    col('Age'),
    col('Selector', { priority: 1, description: 'The label selector of the service.' }),
  ],
  cells: (o, now) => [o.spec?.type ?? 'ClusterIP', o.spec?.clusterIP || '<none>', serviceExternalIP(o), servicePortsCell(o), age(o.metadata.creationTimestamp, now), mapOrNone(o.spec?.selector)],
});
(services.subresources ??= {}).extra = [{ name: 'proxy', group: '', version: 'v1', kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }];

// ---- endpoints ---------------------------------------------------------------------------------

const endpointAddress = n('EndpointAddress', obj({ hostname: str(), ip: str(), nodeName: str(), targetRef: objectReference }, { required: ['ip'], 'x-kubernetes-map-type': 'atomic' }));
const endpointPort = n('EndpointPort', obj({ appProtocol: str(), name: str(), port: int32(), protocol: str() }, { required: ['port'], 'x-kubernetes-map-type': 'atomic' }));

function endpointsCell(o: Obj): string {
  const all: string[] = [];
  for (const s of (o.subsets ?? []) as Obj[]) {
    for (const a of (s.addresses ?? []) as Obj[]) {
      const ports = (s.ports ?? []) as Obj[];
      if (!ports.length) all.push(a.ip);
      for (const p of ports) all.push(`${a.ip}:${p.port}`);
    }
  }
  if (!all.length) return '<none>';
  if (all.length > 3) return `${all.slice(0, 3).join(',')} + ${all.length - 3} more...`;
  return all.join(',');
}

const endpoints = defineKind({
  ...base,
  kind: 'Endpoints',
  plural: 'endpoints',
  namespaced: true,
  shortNames: ['ep'],
  properties: {
    subsets: arr(
      n('EndpointSubset', obj({ addresses: arr(endpointAddress, { listType: 'atomic' }), notReadyAddresses: arr(endpointAddress, { listType: 'atomic' }), ports: arr(endpointPort, { listType: 'atomic' }) })),
      { listType: 'atomic' },
    ),
  },
  strategy: {
    allowCreateOnUpdate: true,
    defaults(o) {
      for (const s of o.subsets ?? []) for (const p of s.ports ?? []) p.protocol ??= 'TCP';
    },
  },
  columns: [col('Endpoints', { description: 'Endpoints of the service.' }), col('Age')],
  cells: (o, now) => [endpointsCell(o), age(o.metadata.creationTimestamp, now)],
});
endpoints.singular = 'endpoints';

// ---- configmaps and secrets -------------------------------------------------------------------

function validateKeys(maps: [string, Obj | undefined][], errs: FieldError[]): void {
  const seen = new Set<string>();
  for (const [field, m] of maps) {
    for (const k of Object.keys(m ?? {})) {
      for (const msg of isConfigMapKey(k)) errs.push(fieldErr.invalid(root.child(field), k, msg));
      if (seen.has(k)) errs.push(fieldErr.invalid(root.child(field), k, 'duplicate of key present in ' + (field === 'data' ? 'binaryData' : 'data')));
      seen.add(k);
    }
  }
}

function immutableData(o: KubeObject, old: KubeObject, fields: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable === true) {
    if (o.immutable !== true) errs.push(fieldErr.forbidden('immutable', 'field is immutable when `immutable` is set'));
    for (const f of fields) if (JSON.stringify(o[f] ?? {}) !== JSON.stringify(old[f] ?? {})) errs.push(fieldErr.forbidden(f, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

const configmaps = defineKind({
  ...base,
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
  shortNames: ['cm'],
  properties: { binaryData: mapOf(bytes()), data: mapOf(str()), immutable: bool() },
  strategy: {
    validate(o) {
      const errs: FieldError[] = [];
      validateKeys([['data', o.data], ['binaryData', o.binaryData]], errs);
      return errs;
    },
    validateUpdate(o, old) {
      const errs: FieldError[] = [];
      validateKeys([['data', o.data], ['binaryData', o.binaryData]], errs);
      return [...errs, ...immutableData(o, old, ['data', 'binaryData'])];
    },
  },
  columns: [col('Data', { type: 'integer' }), col('Age')],
  cells: (o, now) => [Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o.metadata.creationTimestamp, now)],
});

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function validateSecret(o: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  validateKeys([['data', o.data]], errs);
  let total = 0;
  for (const [k, v] of Object.entries((o.data ?? {}) as Obj)) {
    if (typeof v !== 'string' || !BASE64_RE.test(v)) errs.push(fieldErr.invalid(root.child('data').key(k), '<secret contents redacted>', 'illegal base64 data'));
    else total += Buffer.from(v, 'base64').length;
  }
  if (total > 1024 * 1024) errs.push(fieldErr.tooLong(root.child('data'), '', 1024 * 1024));
  const t = o.type;
  const need = (key: string) => {
    if (!o.data?.[key]) errs.push(fieldErr.required(root.child('data').key(key), ''));
  };
  if (t === 'kubernetes.io/service-account-token' && !o.metadata.annotations?.['kubernetes.io/service-account.name']) {
    errs.push(fieldErr.required(root.child('metadata', 'annotations').key('kubernetes.io/service-account.name'), ''));
  }
  if (t === 'kubernetes.io/dockerconfigjson') need('.dockerconfigjson');
  if (t === 'kubernetes.io/dockercfg') need('.dockercfg');
  if (t === 'kubernetes.io/tls') {
    need('tls.crt');
    need('tls.key');
  }
  if (t === 'kubernetes.io/ssh-auth') need('ssh-privatekey');
  return errs;
}

const secrets = defineKind({
  ...base,
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
  properties: { data: mapOf(bytes()), immutable: bool(), stringData: mapOf(str()), type: str() },
  strategy: {
    defaults(o) {
      o.type ??= 'Opaque';
      // stringData is write-only: merged into data, never stored.
      if (o.stringData && typeof o.stringData === 'object') {
        o.data = { ...(o.data ?? {}) };
        for (const [k, v] of Object.entries(o.stringData as Obj)) o.data[k] = Buffer.from(String(v)).toString('base64');
        delete o.stringData;
      }
    },
    validate: validateSecret,
    validateUpdate(o, old) {
      const errs = validateSecret(o);
      if ((o.type ?? 'Opaque') !== (old.type ?? 'Opaque')) errs.push(fieldErr.invalid('type', o.type, 'field is immutable'));
      return [...errs, ...immutableData(o, old, ['data'])];
    },
  },
  columns: [col('Type'), col('Data', { type: 'integer' }), col('Age')],
  cells: (o, now) => [o.type ?? 'Opaque', Object.keys(o.data ?? {}).length, age(o.metadata.creationTimestamp, now)],
  fieldSelectors: { type: (o) => o.type ?? '' },
});

// ---- serviceaccounts ---------------------------------------------------------------------------

const serviceaccounts = defineKind({
  ...base,
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  namespaced: true,
  shortNames: ['sa'],
  properties: {
    automountServiceAccountToken: bool(),
    imagePullSecrets: arr(localObjectReference, { listType: 'atomic' }),
    secrets: arr(objectReference, { mergeKey: 'name', mapKeys: ['name'] }),
  },
  columns: [col('Secrets', { type: 'integer' }), col('Age')],
  cells: (o, now) => [(o.secrets ?? []).length, age(o.metadata.creationTimestamp, now)],
});

// ---- nodes ---------------------------------------------------------------------------------------

const taint = n('Taint', obj({ effect: str(), key: str(), timeAdded: time(), value: str() }, { required: ['key', 'effect'] }));

function nodeStatusCell(o: Obj): string {
  const ready = ((o.status?.conditions ?? []) as Obj[]).find((c) => c.type === 'Ready');
  let s = !ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  if (o.spec?.unschedulable) s += ',SchedulingDisabled';
  return s;
}

function nodeRoles(o: Obj): string {
  const roles: string[] = [];
  for (const [k, v] of Object.entries((o.metadata?.labels ?? {}) as Obj)) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.push(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) roles.push(String(v));
  }
  return roles.length ? roles.sort().join(',') : '<none>';
}

const nodeAddress = n('NodeAddress', obj({ address: str(), type: str() }, { required: ['type', 'address'] }));

const nodes = defineKind({
  ...base,
  kind: 'Node',
  plural: 'nodes',
  namespaced: false,
  shortNames: ['no'],
  status: true,
  properties: {
    spec: n(
      'NodeSpec',
      obj({
        configSource: anyValue(),
        externalID: str(),
        podCIDR: str(),
        podCIDRs: arr(str(), { listType: 'set', patchStrategy: 'merge' }),
        providerID: str(),
        taints: arr(taint, { listType: 'atomic' }),
        unschedulable: bool(),
      }),
    ),
    status: n(
      'NodeStatus',
      obj({
        addresses: arr(nodeAddress, { mergeKey: 'type', mapKeys: ['type'] }),
        allocatable: mapOf(quantity()),
        capacity: mapOf(quantity()),
        conditions: arr(
          n('NodeCondition', obj({ lastHeartbeatTime: time(), lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() }, { required: ['type', 'status'] })),
          { mergeKey: 'type', mapKeys: ['type'] },
        ),
        config: anyValue(),
        daemonEndpoints: n('NodeDaemonEndpoints', obj({ kubeletEndpoint: obj({ Port: int32() }, { required: ['Port'] }) })),
        features: obj({ supplementalGroupsPolicy: bool() }),
        images: arr(obj({ names: arr(str(), { listType: 'atomic' }), sizeBytes: int64() }), { listType: 'atomic' }),
        nodeInfo: n(
          'NodeSystemInfo',
          obj({
            architecture: str(),
            bootID: str(),
            containerRuntimeVersion: str(),
            kernelVersion: str(),
            kubeProxyVersion: str(),
            kubeletVersion: str(),
            machineID: str(),
            operatingSystem: str(),
            osImage: str(),
            swap: obj({ capacity: int64() }),
            systemUUID: str(),
          }),
        ),
        phase: str(),
        runtimeHandlers: arr(anyValue(), { listType: 'atomic' }),
        volumesAttached: arr(obj({ devicePath: str(), name: str() }), { listType: 'atomic' }),
        volumesInUse: arr(str(), { listType: 'atomic' }),
      }),
    ),
  },
  strategy: {
    keepStatusOnCreate: true,
    allowCreateOnUpdate: false,
    // As upstream: a node's podCIDR(s) may be set once, never changed (its pods' addresses depend on it).
    validateUpdate(o, old) {
      const errs = [];
      const was = (old.spec as Obj | undefined)?.podCIDR;
      const now = (o.spec as Obj | undefined)?.podCIDR;
      if (was && now !== was) errs.push(fieldErr.forbidden('spec.podCIDR', 'node updates may not change podCIDR except from "" to valid'));
      const wasList = JSON.stringify((old.spec as Obj | undefined)?.podCIDRs ?? []);
      if (wasList !== '[]' && JSON.stringify((o.spec as Obj | undefined)?.podCIDRs ?? []) !== wasList) errs.push(fieldErr.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
      return errs;
    },
  },
  columns: [
    col('Status'),
    col('Roles'),
    col('Age'),
    col('Version'),
    col('Internal-IP', { priority: 1 }),
    col('External-IP', { priority: 1 }),
    col('OS-Image', { priority: 1 }),
    col('Kernel-Version', { priority: 1 }),
    col('Container-Runtime', { priority: 1 }),
  ],
  cells: (o, now) => {
    const addr = (t: string) => ((o.status?.addresses ?? []) as Obj[]).find((a) => a.type === t)?.address ?? '<none>';
    const info = o.status?.nodeInfo ?? {};
    return [nodeStatusCell(o), nodeRoles(o), age(o.metadata.creationTimestamp, now), info.kubeletVersion ?? '', addr('InternalIP'), addr('ExternalIP'), info.osImage || '<unknown>', info.kernelVersion || '<unknown>', info.containerRuntimeVersion || '<unknown>'];
  },
  fieldSelectors: { 'spec.unschedulable': (o) => String(!!o.spec?.unschedulable) },
});
(nodes.subresources ??= {}).extra = [{ name: 'proxy', group: '', version: 'v1', kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }];

// ---- events ------------------------------------------------------------------------------------

function eventObject(o: Obj): string {
  const r = o.involvedObject ?? {};
  return `${(r.kind ?? '').toLowerCase()}/${r.name ?? ''}`;
}

export const coreEvents = defineKind({
  ...base,
  kind: 'Event',
  plural: 'events',
  namespaced: true,
  shortNames: ['ev'],
  properties: {
    action: str(),
    count: int32(),
    eventTime: microTime(),
    firstTimestamp: time(),
    involvedObject: objectReference,
    lastTimestamp: time(),
    message: str(),
    reason: str(),
    related: objectReference,
    reportingComponent: str(),
    reportingInstance: str(),
    series: n('EventSeries', obj({ count: int32(), lastObservedTime: microTime() })),
    source: n('EventSource', obj({ component: str(), host: str() })),
    type: str(),
  },
  required: ['metadata', 'involvedObject'],
  strategy: {
    allowCreateOnUpdate: true,
    validate(o) {
      const errs: FieldError[] = [];
      const io = o.involvedObject ?? {};
      if (io.namespace && o.metadata.namespace && io.namespace !== o.metadata.namespace) {
        errs.push(fieldErr.invalid('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
      }
      return errs;
    },
  },
  columns: [
    col('Last Seen'),
    col('Type'),
    col('Reason'),
    col('Object'),
    col('Message'),
    col('Subobject', { priority: 1 }),
    col('Source', { priority: 1 }),
    col('First Seen', { priority: 1 }),
    col('Count', { priority: 1, type: 'integer' }),
    col('Name', { priority: 1 }),
  ],
  cells: (o, now) => {
    const last = o.lastTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
    const first = o.firstTimestamp ?? o.eventTime ?? o.metadata.creationTimestamp;
    const src = o.source?.component ? `${o.source.component}${o.source.host ? ', ' + o.source.host : ''}` : o.reportingComponent ?? '';
    return [age(last, now), o.type ?? '', o.reason ?? '', eventObject(o), (o.message ?? '').trim(), o.involvedObject?.fieldPath ?? '', src, age(first, now), o.count ?? 1, o.metadata.name];
  },
  fieldSelectors: {
    'involvedObject.kind': (o) => o.involvedObject?.kind ?? '',
    'involvedObject.namespace': (o) => o.involvedObject?.namespace ?? '',
    'involvedObject.name': (o) => o.involvedObject?.name ?? '',
    'involvedObject.uid': (o) => o.involvedObject?.uid ?? '',
    'involvedObject.apiVersion': (o) => o.involvedObject?.apiVersion ?? '',
    'involvedObject.resourceVersion': (o) => o.involvedObject?.resourceVersion ?? '',
    'involvedObject.fieldPath': (o) => o.involvedObject?.fieldPath ?? '',
    reason: (o) => o.reason ?? '',
    reportingComponent: (o) => o.reportingComponent ?? '',
    source: (o) => o.source?.component ?? '',
    type: (o) => o.type ?? '',
  },
});

// ---- persistent volumes and claims ---------------------------------------------------------------

const ACCESS_SHORT: Record<string, string> = { ReadWriteOnce: 'RWO', ReadOnlyMany: 'ROX', ReadWriteMany: 'RWX', ReadWriteOncePod: 'RWOP' };
const accessModes = (m: string[] | undefined) => (m ?? []).map((x) => ACCESS_SHORT[x] ?? x).join(',');

const persistentvolumes = defineKind({
  ...base,
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  namespaced: false,
  shortNames: ['pv'],
  status: true,
  properties: {
    spec: n(
      'PersistentVolumeSpec',
      obj({
        ...persistentVolumeSourceFields(),
        accessModes: arr(str(), { listType: 'atomic' }),
        capacity: mapOf(quantity()),
        claimRef: objectReference,
        local: n('LocalVolumeSource', obj({ fsType: str(), path: str() }, { required: ['path'] })),
        mountOptions: arr(str(), { listType: 'atomic' }),
        nodeAffinity: n('VolumeNodeAffinity', obj({ required: nodeSelector })),
        persistentVolumeReclaimPolicy: enumOf(['Delete', 'Recycle', 'Retain']),
        storageClassName: str(),
        volumeAttributesClassName: str(),
        volumeMode: enumOf(['Block', 'Filesystem']),
      }),
    ),
    status: n('PersistentVolumeStatus', obj({ lastPhaseTransitionTime: time(), message: str(), phase: str(), reason: str() })),
  },
  strategy: {
    defaults(o) {
      o.spec ??= {};
      o.spec.persistentVolumeReclaimPolicy ??= 'Retain';
      o.spec.volumeMode ??= 'Filesystem';
    },
    prepareForCreate(o) {
      o.status = { phase: 'Pending' };
    },
    validate(o) {
      const errs: FieldError[] = [];
      if (!o.spec?.accessModes?.length) errs.push(fieldErr.required('spec.accessModes', ''));
      if (!o.spec?.capacity?.storage) errs.push(fieldErr.required('spec.capacity', ''));
      return errs;
    },
  },
  columns: [col('Capacity'), col('Access Modes'), col('Reclaim Policy'), col('Status'), col('Claim'), col('StorageClass'), col('VolumeAttributesClass'), col('Reason'), col('Age'), col('VolumeMode', { priority: 1 })],
  cells: (o, now) => [
    o.spec?.capacity?.storage ?? '',
    accessModes(o.spec?.accessModes),
    o.spec?.persistentVolumeReclaimPolicy ?? '',
    o.status?.phase ?? '',
    o.spec?.claimRef ? `${o.spec.claimRef.namespace}/${o.spec.claimRef.name}` : '',
    o.spec?.storageClassName ?? '',
    o.spec?.volumeAttributesClassName || '<unset>',
    o.status?.reason ?? '',
    age(o.metadata.creationTimestamp, now),
    o.spec?.volumeMode ?? 'Filesystem',
  ],
});

const persistentvolumeclaims = defineKind({
  ...base,
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  namespaced: true,
  shortNames: ['pvc'],
  status: true,
  properties: {
    spec: persistentVolumeClaimSpec,
    status: n(
      'PersistentVolumeClaimStatus',
      obj({
        accessModes: arr(str(), { listType: 'atomic' }),
        allocatedResourceStatuses: mapOf(str()),
        allocatedResources: mapOf(quantity()),
        capacity: mapOf(quantity()),
        conditions: arr(anyValue(), { mergeKey: 'type', mapKeys: ['type'] }),
        currentVolumeAttributesClassName: str(),
        modifyVolumeStatus: anyValue(),
        phase: str(),
      }),
    ),
  },
  strategy: {
    defaults(o) {
      o.spec ??= {};
      o.spec.volumeMode ??= 'Filesystem';
    },
    prepareForCreate(o) {
      o.status = { phase: 'Pending' };
    },
    validate(o) {
      const errs: FieldError[] = [];
      if (!o.spec?.accessModes?.length) errs.push(fieldErr.required('spec.accessModes', ''));
      if (!o.spec?.resources?.requests?.storage) errs.push(fieldErr.required('spec.resources[storage]', ''));
      return errs;
    },
  },
  columns: [col('Status'), col('Volume'), col('Capacity'), col('Access Modes'), col('StorageClass'), col('VolumeAttributesClass'), col('Age'), col('VolumeMode', { priority: 1 })],
  cells: (o, now) => [
    o.status?.phase ?? '',
    o.spec?.volumeName ?? '',
    o.status?.capacity?.storage ?? '',
    accessModes(o.status?.accessModes),
    o.spec?.storageClassName ?? '',
    o.spec?.volumeAttributesClassName || '<unset>',
    age(o.metadata.creationTimestamp, now),
    o.spec?.volumeMode ?? 'Filesystem',
  ],
});

// ---- limitranges and resourcequotas --------------------------------------------------------------

const limitranges = defineKind({
  ...base,
  kind: 'LimitRange',
  plural: 'limitranges',
  namespaced: true,
  shortNames: ['limits'],
  properties: {
    spec: n(
      'LimitRangeSpec',
      obj(
        {
          limits: arr(
            n(
              'LimitRangeItem',
              obj(
                { default: mapOf(quantity()), defaultRequest: mapOf(quantity()), max: mapOf(quantity()), maxLimitRequestRatio: mapOf(quantity()), min: mapOf(quantity()), type: str() },
                { required: ['type'] },
              ),
            ),
            { listType: 'atomic' },
          ),
        },
        { required: ['limits'] },
      ),
    ),
  },
  ...createdAtColumns(),
});

function quotaCell(o: Obj, which: 'requests' | 'limits'): string {
  const hard = (o.status?.hard ?? o.spec?.hard ?? {}) as Obj;
  const used = (o.status?.used ?? {}) as Obj;
  const parts: string[] = [];
  for (const k of Object.keys(hard).sort()) {
    const isLimit = k.startsWith('limits.');
    if ((which === 'limits') !== isLimit) continue;
    parts.push(`${k}: ${used[k] ?? '0'}/${hard[k]}`);
  }
  return parts.join(', ');
}

const resourcequotas = defineKind({
  ...base,
  kind: 'ResourceQuota',
  plural: 'resourcequotas',
  namespaced: true,
  shortNames: ['quota'],
  status: true,
  properties: {
    spec: n(
      'ResourceQuotaSpec',
      obj({
        hard: mapOf(quantity()),
        scopeSelector: n('ScopeSelector', obj({ matchExpressions: arr(obj({ operator: str(), scopeName: str(), values: arr(str()) }), { listType: 'atomic' }) })),
        scopes: arr(str(), { listType: 'atomic' }),
      }),
    ),
    status: n('ResourceQuotaStatus', obj({ hard: mapOf(quantity()), used: mapOf(quantity()) })),
  },
  columns: [col('Age'), col('Request'), col('Limit')],
  cells: (o, now) => [age(o.metadata.creationTimestamp, now), quotaCell(o, 'requests'), quotaCell(o, 'limits')],
});

// ---- replicationcontrollers --------------------------------------------------------------------

function containersCells(tpl: Obj | undefined): [string, string] {
  const cs = (tpl?.spec?.containers ?? []) as Obj[];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
}

const replicationcontrollers = defineKind({
  ...base,
  kind: 'ReplicationController',
  plural: 'replicationcontrollers',
  namespaced: true,
  shortNames: ['rc'],
  categories: ['all'],
  status: true,
  scale: true,
  properties: {
    spec: n('ReplicationControllerSpec', obj({ minReadySeconds: int32(), replicas: int32(), selector: mapOf(str(), { 'x-kubernetes-map-type': 'atomic' }), template: podTemplateSpec })),
    status: n(
      'ReplicationControllerStatus',
      obj(
        {
          availableReplicas: int32(),
          conditions: arr(obj({ lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() }), { mergeKey: 'type', mapKeys: ['type'] }),
          fullyLabeledReplicas: int32(),
          observedGeneration: int64(),
          readyReplicas: int32(),
          replicas: int32(),
        },
        { required: ['replicas'] },
      ),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      o.spec ??= {};
      if (!o.spec.selector && o.spec.template?.metadata?.labels) o.spec.selector = { ...o.spec.template.metadata.labels };
      if (!o.metadata.labels && o.spec.template?.metadata?.labels) o.metadata.labels = { ...o.spec.template.metadata.labels };
      o.spec.replicas ??= 1;
      defaultPodSpec(o.spec.template?.spec);
    },
    prepareForCreate(o) {
      o.status = { replicas: 0 };
    },
    validate(o) {
      const errs: FieldError[] = [];
      const p = root.child('spec');
      if (typeof o.spec?.replicas === 'number' && o.spec.replicas < 0) errs.push(fieldErr.invalid(p.child('replicas'), o.spec.replicas, 'must be greater than or equal to 0'));
      const sel = o.spec?.selector ?? {};
      if (!Object.keys(sel).length) errs.push(fieldErr.required(p.child('selector'), ''));
      const labels = o.spec?.template?.metadata?.labels ?? {};
      if (Object.entries(sel).some(([k, v]) => labels[k] !== v)) {
        errs.push(fieldErr.invalid(p.child('template', 'metadata', 'labels'), labels, '`selector` does not match template `labels`'));
      }
      errs.push(...validatePodTemplateSpec(o.spec?.template, p.child('template'), { restartPolicies: ['Always'] }));
      return errs;
    },
  },
  columns: [
    col('Desired', { type: 'integer' }),
    col('Current', { type: 'integer' }),
    col('Ready', { type: 'integer' }),
    col('Age'),
    col('Containers', { priority: 1 }),
    col('Images', { priority: 1 }),
    col('Selector', { priority: 1 }),
  ],
  cells: (o, now) => [o.spec?.replicas ?? 0, o.status?.replicas ?? 0, o.status?.readyReplicas ?? 0, age(o.metadata.creationTimestamp, now), ...containersCells(o.spec?.template), mapOrNone(o.spec?.selector)],
  fieldSelectors: { 'status.replicas': (o) => String(o.status?.replicas ?? 0) },
});

// ---- bindings (create-only: the API server turns a Binding into pod.spec.nodeName) ---------------

const bindings = defineKind({
  ...base,
  kind: 'Binding',
  plural: 'bindings',
  namespaced: true,
  verbs: ['create'],
  required: ['target'],
  properties: { target: objectReference },
});

export const coreV1Resources: ResourceDef[] = [
  namespaces,
  bindings,
  pods,
  services,
  endpoints,
  configmaps,
  secrets,
  serviceaccounts,
  nodes,
  coreEvents,
  persistentvolumes,
  persistentvolumeclaims,
  limitranges,
  resourcequotas,
  replicationcontrollers,
];

