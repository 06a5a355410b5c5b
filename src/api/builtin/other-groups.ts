// policy/v1, coordination.k8s.io/v1, discovery.k8s.io/v1, events.k8s.io/v1, storage.k8s.io/v1,
// scheduling.k8s.io/v1, autoscaling/v1 and v2, apiextensions.k8s.io/v1.

import { type FieldError, fieldErr } from '../../machinery/field-errors.js';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName } from '../../machinery/validation.js';
import { condition, labelSelector, type KubeObject } from '../meta/v1.js';
import { age, col } from '../printing.js';
import type { ResourceDef } from '../resource.js';
import { arr, bool, enumOf, int32, int64, intOrString, mapOf, microTime, named, obj, quantity, str, time, type Schema } from '../schema.js';
import { coreEvents } from './core-v1.js';
import { createdAtColumns, defineKind } from './define.js';
import { objectReference } from './pod-spec.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const def = (pkg: string) => (name: string, s: Schema) => named(`${pkg}.${name}`, s);

// ---- policy/v1 ---------------------------------------------------------------------------------

const pn = def('io.k8s.api.policy.v1');
const pdbs = defineKind({
  group: 'policy',
  version: 'v1',
  pkg: 'io.k8s.api.policy.v1',
  kind: 'PodDisruptionBudget',
  plural: 'poddisruptionbudgets',
  namespaced: true,
  shortNames: ['pdb'],
  status: true,
  properties: {
    spec: pn('PodDisruptionBudgetSpec', obj({ maxUnavailable: intOrString(), minAvailable: intOrString(), selector: labelSelector, unhealthyPodEvictionPolicy: str() })),
    status: pn(
      'PodDisruptionBudgetStatus',
      obj(
        {
          conditions: arr(condition, { mergeKey: 'type', mapKeys: ['type'] }),
          currentHealthy: int32(),
          desiredHealthy: int32(),
          disruptedPods: mapOf(time()),
          disruptionsAllowed: int32(),
          expectedPods: int32(),
          observedGeneration: int64(),
        },
        { required: ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods'] },
      ),
    ),
  },
  strategy: {
    tracksGeneration: true,
    prepareForCreate(o) {
      o.status = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
    },
    validate(o) {
      const errs: FieldError[] = [];
      if (o.spec?.minAvailable !== undefined && o.spec?.maxUnavailable !== undefined) {
        errs.push(fieldErr.invalid('spec', o.spec, 'minAvailable and maxUnavailable cannot be both set'));
      }
      return errs;
    },
  },
  columns: [col('Min Available'), col('Max Unavailable'), col('Allowed Disruptions', { type: 'integer' }), col('Age')],
  cells: (o, now) => [o.spec?.minAvailable ?? 'N/A', o.spec?.maxUnavailable ?? 'N/A', o.status?.disruptionsAllowed ?? 0, age(o.metadata.creationTimestamp, now)],
});

// ---- coordination.k8s.io/v1 --------------------------------------------------------------------

const leases = defineKind({
  group: 'coordination.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.api.coordination.v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
  properties: {
    spec: named(
      'io.k8s.api.coordination.v1.LeaseSpec',
      obj({ acquireTime: microTime(), holderIdentity: str(), leaseDurationSeconds: int32(), leaseTransitions: int32(), preferredHolder: str(), renewTime: microTime(), strategy: str() }),
    ),
  },
  strategy: {
    allowCreateOnUpdate: true,
    validate(o) {
      const errs: FieldError[] = [];
      if (typeof o.spec?.leaseDurationSeconds === 'number' && o.spec.leaseDurationSeconds <= 0) errs.push(fieldErr.invalid('spec.leaseDurationSeconds', o.spec.leaseDurationSeconds, 'must be greater than 0'));
      return errs;
    },
  },
  columns: [col('Holder'), col('Age')],
  cells: (o, now) => [o.spec?.holderIdentity ?? '', age(o.metadata.creationTimestamp, now)],
});

// ---- discovery.k8s.io/v1 -----------------------------------------------------------------------

const dn = def('io.k8s.api.discovery.v1');
const endpointslices = defineKind({
  group: 'discovery.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.api.discovery.v1',
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  namespaced: true,
  properties: {
    addressType: enumOf(['FQDN', 'IPv4', 'IPv6']),
    endpoints: arr(
      dn(
        'Endpoint',
        obj(
          {
            addresses: arr(str(), { listType: 'set' }),
            conditions: dn('EndpointConditions', obj({ ready: bool(), serving: bool(), terminating: bool() })),
            deprecatedTopology: mapOf(str()),
            hints: dn('EndpointHints', obj({ forNodes: arr(obj({ name: str() }), { listType: 'atomic' }), forZones: arr(obj({ name: str() }), { listType: 'atomic' }) })),
            hostname: str(),
            nodeName: str(),
            targetRef: objectReference,
            zone: str(),
          },
          { required: ['addresses'] },
        ),
      ),
      { listType: 'atomic' },
    ),
    ports: arr(dn('EndpointPort', obj({ appProtocol: str(), name: str(), port: int32(), protocol: str() }, { 'x-kubernetes-map-type': 'atomic' })), { listType: 'atomic' }),
  },
  required: ['addressType', 'endpoints'],
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      for (const p of o.ports ?? []) p.protocol ??= 'TCP';
    },
    validate(o) {
      const errs: FieldError[] = [];
      if (!['IPv4', 'IPv6', 'FQDN'].includes(o.addressType)) errs.push(fieldErr.notSupported('addressType', o.addressType, ['FQDN', 'IPv4', 'IPv6']));
      return errs;
    },
  },
  columns: [col('AddressType'), col('Ports'), col('Endpoints'), col('Age')],
  cells: (o, now) => {
    const ports = ((o.ports ?? []) as Obj[]).map((p) => String(p.port ?? '')).filter(Boolean);
    const addrs = ((o.endpoints ?? []) as Obj[]).flatMap((e) => e.addresses ?? []);
    const shown = addrs.length > 3 ? `${addrs.slice(0, 3).join(',')} + ${addrs.length - 3} more...` : addrs.join(',') || '<unset>';
    return [o.addressType ?? '', ports.length ? ports.join(',') : '<unset>', shown, age(o.metadata.creationTimestamp, now)];
  },
});

// ---- events.k8s.io/v1 (stored as core/v1 events) -----------------------------------------------

function eventToStorage(e: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'v1', kind: 'Event', metadata: e.metadata };
  if (e.regarding) out.involvedObject = e.regarding;
  else out.involvedObject = {};
  if (e.related) out.related = e.related;
  if (e.note !== undefined) out.message = e.note;
  for (const f of ['reason', 'type', 'action', 'eventTime', 'reportingInstance'] as const) if (e[f] !== undefined) out[f] = e[f];
  if (e.reportingController !== undefined) out.reportingComponent = e.reportingController;
  if (e.series) out.series = e.series;
  if (e.deprecatedSource) out.source = e.deprecatedSource;
  if (e.deprecatedFirstTimestamp) out.firstTimestamp = e.deprecatedFirstTimestamp;
  if (e.deprecatedLastTimestamp) out.lastTimestamp = e.deprecatedLastTimestamp;
  if (e.deprecatedCount !== undefined) out.count = e.deprecatedCount;
  return out;
}

function eventFromStorage(e: KubeObject): KubeObject {
  const out: KubeObject = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: e.metadata };
  if (e.eventTime) out.eventTime = e.eventTime;
  else out.eventTime = null;
  if (e.involvedObject && Object.keys(e.involvedObject).length) out.regarding = e.involvedObject;
  if (e.related) out.related = e.related;
  if (e.message !== undefined) out.note = e.message;
  for (const f of ['reason', 'type', 'action', 'reportingInstance'] as const) if (e[f] !== undefined) out[f] = e[f];
  if (e.reportingComponent !== undefined) out.reportingController = e.reportingComponent;
  if (e.series) out.series = e.series;
  if (e.source && Object.keys(e.source).length) out.deprecatedSource = e.source;
  if (e.firstTimestamp) out.deprecatedFirstTimestamp = e.firstTimestamp;
  if (e.lastTimestamp) out.deprecatedLastTimestamp = e.lastTimestamp;
  if (e.count !== undefined) out.deprecatedCount = e.count;
  return out;
}

const en = def('io.k8s.api.events.v1');
const eventsV1 = defineKind({
  group: 'events.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.api.events.v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
  shortNames: ['ev'],
  properties: {
    action: str(),
    deprecatedCount: int32(),
    deprecatedFirstTimestamp: time(),
    deprecatedLastTimestamp: time(),
    deprecatedSource: named('io.k8s.api.core.v1.EventSource', obj({ component: str(), host: str() })),
    eventTime: microTime(),
    note: str(),
    reason: str(),
    regarding: objectReference,
    related: objectReference,
    reportingController: str(),
    reportingInstance: str(),
    series: en('EventSeries', obj({ count: int32(), lastObservedTime: microTime() }, { required: ['count', 'lastObservedTime'] })),
    type: str(),
  },
  required: ['eventTime'],
  strategy: {
    allowCreateOnUpdate: true,
    validate(o) {
      const errs: FieldError[] = [];
      if (!o.eventTime) errs.push(fieldErr.required('eventTime', ''));
      if (o.type && !['Normal', 'Warning'].includes(o.type)) errs.push(fieldErr.notSupported('type', o.type, ['Normal', 'Warning']));
      if (!o.reportingController) errs.push(fieldErr.required('reportingController', ''));
      if (!o.reportingInstance) errs.push(fieldErr.required('reportingInstance', ''));
      if (!o.action) errs.push(fieldErr.required('action', ''));
      if (!o.reason) errs.push(fieldErr.required('reason', ''));
      return errs;
    },
  },
  storage: { group: '', version: 'v1', resource: 'events', toStorage: eventToStorage, fromStorage: eventFromStorage },
  fieldSelectors: Object.fromEntries(
    Object.entries(coreEvents.fieldSelectors ?? {}).map(([k, f]) => [k.replace(/^involvedObject\./, 'regarding.').replace(/^source$/, 'deprecatedSource').replace(/^reportingComponent$/, 'reportingController'), (o: KubeObject) => f(eventToStorage(o))]),
  ),
});

// ---- storage.k8s.io/v1 -------------------------------------------------------------------------

const storageclasses = defineKind({
  group: 'storage.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.api.storage.v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  namespaced: false,
  shortNames: ['sc'],
  properties: {
    allowVolumeExpansion: bool(),
    allowedTopologies: arr(
      named('io.k8s.api.core.v1.TopologySelectorTerm', obj({ matchLabelExpressions: arr(obj({ key: str(), values: arr(str(), { listType: 'atomic' }) }, { required: ['key', 'values'] }), { listType: 'atomic' }) })),
      { listType: 'atomic' },
    ),
    mountOptions: arr(str(), { listType: 'atomic' }),
    parameters: mapOf(str()),
    provisioner: str(),
    reclaimPolicy: enumOf(['Delete', 'Recycle', 'Retain']),
    volumeBindingMode: enumOf(['Immediate', 'WaitForFirstConsumer']),
  },
  required: ['provisioner'],
  strategy: {
    defaults(o) {
      o.reclaimPolicy ??= 'Delete';
      o.volumeBindingMode ??= 'Immediate';
    },
    validate(o) {
      const errs: FieldError[] = [];
      if (!o.provisioner) errs.push(fieldErr.required('provisioner', ''));
      else for (const m of isQualifiedName(String(o.provisioner).toLowerCase())) errs.push(fieldErr.invalid('provisioner', o.provisioner, m));
      return errs;
    },
    validateUpdate(o, old) {
      const errs: FieldError[] = [];
      if (o.provisioner !== old.provisioner) errs.push(fieldErr.forbidden('provisioner', 'updates to provisioner are forbidden.'));
      if (JSON.stringify(o.parameters ?? {}) !== JSON.stringify(old.parameters ?? {})) errs.push(fieldErr.forbidden('parameters', 'updates to parameters are forbidden.'));
      if (o.reclaimPolicy !== old.reclaimPolicy) errs.push(fieldErr.forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
      return errs;
    },
  },
  columns: [col('Provisioner'), col('ReclaimPolicy'), col('VolumeBindingMode'), col('AllowVolumeExpansion'), col('Age')],
  cells: (o, now) => {
    return [o.provisioner ?? '', o.reclaimPolicy ?? 'Delete', o.volumeBindingMode ?? 'Immediate', String(!!o.allowVolumeExpansion), age(o.metadata.creationTimestamp, now)];
  },
});
storageclasses.printer!.cells = ((orig) => (o: KubeObject, now: number) => {
  const cells = orig(o, now);
  if (o.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true') cells[0] = `${cells[0]} (default)`;
  return cells;
})(storageclasses.printer!.cells);

// ---- scheduling.k8s.io/v1 ----------------------------------------------------------------------

const priorityclasses = defineKind({
  group: 'scheduling.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.api.scheduling.v1',
  kind: 'PriorityClass',
  plural: 'priorityclasses',
  namespaced: false,
  shortNames: ['pc'],
  properties: { description: str(), globalDefault: bool(), preemptionPolicy: enumOf(['Never', 'PreemptLowerPriority']), value: int32() },
  required: ['value'],
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      o.preemptionPolicy ??= 'PreemptLowerPriority';
    },
    validate(o) {
      const errs: FieldError[] = [];
      const name = o.metadata.name ?? '';
      if (name.startsWith('system-') && name !== 'system-cluster-critical' && name !== 'system-node-critical') {
        errs.push(fieldErr.forbidden('metadata.name', "priority class names with 'system-' prefix are reserved"));
      }
      if (typeof o.value === 'number' && o.value > 1_000_000_000 && !name.startsWith('system-')) errs.push(fieldErr.forbidden('value', 'maximum allowed value of a user defined priority is 1000000000'));
      if (o.preemptionPolicy && !['Never', 'PreemptLowerPriority'].includes(o.preemptionPolicy)) errs.push(fieldErr.notSupported('preemptionPolicy', o.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
      return errs;
    },
    validateUpdate(o, old) {
      const errs: FieldError[] = [];
      if (o.value !== old.value) errs.push(fieldErr.forbidden('value', 'may not be changed in an update.'));
      if (o.preemptionPolicy !== old.preemptionPolicy) errs.push(fieldErr.invalid('preemptionPolicy', o.preemptionPolicy, 'field is immutable'));
      return errs;
    },
  },
  columns: [col('Value', { type: 'integer' }), col('Global-Default'), col('Age'), col('PreemptionPolicy')],
  cells: (o, now) => [o.value ?? 0, String(!!o.globalDefault), age(o.metadata.creationTimestamp, now), o.preemptionPolicy ?? 'PreemptLowerPriority'],
});

// ---- autoscaling v2 (storage) and v1 --------------------------------------------------------------

const an = def('io.k8s.api.autoscaling.v2');
const crossRef = (pkg: (n: string, s: Schema) => Schema) => pkg('CrossVersionObjectReference', obj({ apiVersion: str(), kind: str(), name: str() }, { required: ['kind', 'name'] }));
const metricTarget = an('MetricTarget', obj({ averageUtilization: int32(), averageValue: quantity(), type: str(), value: quantity() }, { required: ['type'] }));
const metricIdentifier = an('MetricIdentifier', obj({ name: str(), selector: labelSelector }, { required: ['name'] }));
const metricValueStatus = an('MetricValueStatus', obj({ averageUtilization: int32(), averageValue: quantity(), value: quantity() }));
const hpaScalingRules = an(
  'HPAScalingRules',
  obj({ policies: arr(an('HPAScalingPolicy', obj({ periodSeconds: int32(), type: str(), value: int32() }, { required: ['type', 'value', 'periodSeconds'] })), { listType: 'atomic' }), selectPolicy: str(), stabilizationWindowSeconds: int32(), tolerance: quantity() }),
);
const v2CrossRef = crossRef(an);

function metricCells(o: Obj): string {
  const specs = (o.spec?.metrics ?? []) as Obj[];
  if (!specs.length) return '<none>';
  const current = (o.status?.currentMetrics ?? []) as Obj[];
  return specs
    .map((m, i) => {
      if (m.type === 'Resource') {
        const cur = current[i]?.resource?.current;
        const t = m.resource?.target ?? {};
        if (t.averageUtilization !== undefined) return `${m.resource.name}: ${cur?.averageUtilization !== undefined ? cur.averageUtilization + '%' : '<unknown>'}/${t.averageUtilization}%`;
        return `${m.resource?.name}: ${cur?.averageValue ?? '<unknown>'}/${t.averageValue ?? t.value}`;
      }
      const t = m[m.type?.charAt(0).toLowerCase() + m.type?.slice(1)]?.target ?? {};
      return `<unknown>/${t.averageValue ?? t.value ?? t.averageUtilization}`;
    })
    .join(', ');
}

const hpaColumns = {
  columns: [col('Reference'), col('Targets'), col('MinPods', { type: 'integer' as const }), col('MaxPods', { type: 'integer' as const }), col('Replicas', { type: 'integer' as const }), col('Age')],
  cells: (o: Obj, now: number) => [`${o.spec?.scaleTargetRef?.kind}/${o.spec?.scaleTargetRef?.name}`, metricCells(o), o.spec?.minReplicas ?? 1, o.spec?.maxReplicas ?? 0, o.status?.currentReplicas ?? 0, age(o.metadata?.creationTimestamp, now)],
};

function validateHPA(o: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const s = o.spec ?? {};
  if (!s.scaleTargetRef?.kind) errs.push(fieldErr.required('spec.scaleTargetRef.kind', ''));
  if (!s.scaleTargetRef?.name) errs.push(fieldErr.required('spec.scaleTargetRef.name', ''));
  if (s.minReplicas !== undefined && s.minReplicas < 1) errs.push(fieldErr.invalid('spec.minReplicas', s.minReplicas, 'must be greater than or equal to 1'));
  if (typeof s.maxReplicas !== 'number' || s.maxReplicas < 1) errs.push(fieldErr.invalid('spec.maxReplicas', s.maxReplicas, 'must be greater than 0'));
  else if (s.minReplicas !== undefined && s.maxReplicas < s.minReplicas) errs.push(fieldErr.invalid('spec.maxReplicas', s.maxReplicas, 'must be greater than or equal to `minReplicas`'));
  return errs;
}

const hpaV2 = defineKind({
  group: 'autoscaling',
  version: 'v2',
  pkg: 'io.k8s.api.autoscaling.v2',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
  namespaced: true,
  shortNames: ['hpa'],
  categories: ['all'],
  status: true,
  properties: {
    spec: an(
      'HorizontalPodAutoscalerSpec',
      obj(
        {
          behavior: an('HorizontalPodAutoscalerBehavior', obj({ scaleDown: hpaScalingRules, scaleUp: hpaScalingRules })),
          maxReplicas: int32(),
          metrics: arr(
            an(
              'MetricSpec',
              obj(
                {
                  containerResource: an('ContainerResourceMetricSource', obj({ container: str(), name: str(), target: metricTarget }, { required: ['name', 'target', 'container'] })),
                  external: an('ExternalMetricSource', obj({ metric: metricIdentifier, target: metricTarget }, { required: ['metric', 'target'] })),
                  object: an('ObjectMetricSource', obj({ describedObject: v2CrossRef, metric: metricIdentifier, target: metricTarget }, { required: ['describedObject', 'target', 'metric'] })),
                  pods: an('PodsMetricSource', obj({ metric: metricIdentifier, target: metricTarget }, { required: ['metric', 'target'] })),
                  resource: an('ResourceMetricSource', obj({ name: str(), target: metricTarget }, { required: ['name', 'target'] })),
                  type: str(),
                },
                { required: ['type'] },
              ),
            ),
            { listType: 'atomic' },
          ),
          minReplicas: int32(),
          scaleTargetRef: v2CrossRef,
        },
        { required: ['scaleTargetRef', 'maxReplicas'] },
      ),
    ),
    status: an(
      'HorizontalPodAutoscalerStatus',
      obj({
        conditions: arr(an('HorizontalPodAutoscalerCondition', obj({ lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() })), { mergeKey: 'type', mapKeys: ['type'] }),
        currentMetrics: arr(
          an(
            'MetricStatus',
            obj({
              containerResource: obj({ container: str(), current: metricValueStatus, name: str() }),
              external: obj({ current: metricValueStatus, metric: metricIdentifier }),
              object: obj({ current: metricValueStatus, describedObject: v2CrossRef, metric: metricIdentifier }),
              pods: obj({ current: metricValueStatus, metric: metricIdentifier }),
              resource: obj({ current: metricValueStatus, name: str() }),
              type: str(),
            }),
          ),
          { listType: 'atomic' },
        ),
        currentReplicas: int32(),
        desiredReplicas: int32(),
        lastScaleTime: time(),
        observedGeneration: int64(),
      }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.minReplicas ??= 1;
      if (!s.metrics) s.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }];
      const b = s.behavior;
      if (b) {
        if (b.scaleUp) {
          b.scaleUp.stabilizationWindowSeconds ??= 0;
          b.scaleUp.selectPolicy ??= 'Max';
          b.scaleUp.policies ??= [
            { type: 'Pods', value: 4, periodSeconds: 15 },
            { type: 'Percent', value: 100, periodSeconds: 15 },
          ];
        }
        if (b.scaleDown) {
          b.scaleDown.selectPolicy ??= 'Max';
          b.scaleDown.policies ??= [{ type: 'Percent', value: 100, periodSeconds: 15 }];
        }
      }
    },
    prepareForCreate(o) {
      o.status = { currentReplicas: 0, desiredReplicas: 0 };
    },
    validate: (o) => validateHPA(o),
    validateUpdate: (o, _old, ctx) => (ctx.subresource === 'status' ? [] : validateHPA(o)),
  },
  ...hpaColumns,
});

function hpaV1ToV2(o: KubeObject): KubeObject {
  const s = o.spec ?? {};
  const out: KubeObject = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { ...o.metadata } };
  const spec: Obj = { scaleTargetRef: s.scaleTargetRef, maxReplicas: s.maxReplicas };
  if (s.minReplicas !== undefined) spec.minReplicas = s.minReplicas;
  if (s.targetCPUUtilizationPercentage !== undefined) spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: s.targetCPUUtilizationPercentage } } }];
  out.spec = spec;
  if (o.status) {
    const st: Obj = { currentReplicas: o.status.currentReplicas, desiredReplicas: o.status.desiredReplicas };
    if (o.status.lastScaleTime) st.lastScaleTime = o.status.lastScaleTime;
    if (o.status.observedGeneration !== undefined) st.observedGeneration = o.status.observedGeneration;
    if (o.status.currentCPUUtilizationPercentage !== undefined) st.currentMetrics = [{ type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: o.status.currentCPUUtilizationPercentage } } }];
    out.status = st;
  }
  return out;
}

function hpaV2ToV1(o: KubeObject): KubeObject {
  const s = o.spec ?? {};
  const out: KubeObject = { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', metadata: { ...o.metadata } };
  const spec: Obj = { scaleTargetRef: s.scaleTargetRef, maxReplicas: s.maxReplicas };
  if (s.minReplicas !== undefined) spec.minReplicas = s.minReplicas;
  const cpu = ((s.metrics ?? []) as Obj[]).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource?.target?.type === 'Utilization');
  if (cpu) spec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization;
  out.spec = spec;
  const st = o.status ?? {};
  const status: Obj = { currentReplicas: st.currentReplicas ?? 0, desiredReplicas: st.desiredReplicas ?? 0 };
  if (st.lastScaleTime) status.lastScaleTime = st.lastScaleTime;
  if (st.observedGeneration !== undefined) status.observedGeneration = st.observedGeneration;
  const curCpu = ((st.currentMetrics ?? []) as Obj[]).find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
  if (curCpu?.resource?.current?.averageUtilization !== undefined) status.currentCPUUtilizationPercentage = curCpu.resource.current.averageUtilization;
  out.status = status;
  return out;
}

const a1 = def('io.k8s.api.autoscaling.v1');
const hpaV1 = defineKind({
  group: 'autoscaling',
  version: 'v1',
  pkg: 'io.k8s.api.autoscaling.v1',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
  namespaced: true,
  shortNames: ['hpa'],
  categories: ['all'],
  status: true,
  properties: {
    spec: a1('HorizontalPodAutoscalerSpec', obj({ maxReplicas: int32(), minReplicas: int32(), scaleTargetRef: crossRef(a1), targetCPUUtilizationPercentage: int32() }, { required: ['scaleTargetRef', 'maxReplicas'] })),
    status: a1(
      'HorizontalPodAutoscalerStatus',
      obj({ currentCPUUtilizationPercentage: int32(), currentReplicas: int32(), desiredReplicas: int32(), lastScaleTime: time(), observedGeneration: int64() }, { required: ['currentReplicas', 'desiredReplicas'] }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      o.spec ??= {};
      o.spec.minReplicas ??= 1;
    },
    prepareForCreate(o) {
      o.status = { currentReplicas: 0, desiredReplicas: 0 };
    },
    validate: (o) => validateHPA(o),
  },
  storage: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers', toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1 },
  ...hpaColumns,
});
hpaV1.printer!.cells = (o, now) => {
  const cpu = o.spec?.targetCPUUtilizationPercentage;
  const cur = o.status?.currentCPUUtilizationPercentage;
  const targets = cpu !== undefined ? `cpu: ${cur !== undefined ? cur + '%' : '<unknown>'}/${cpu}%` : '<none>';
  return [o.metadata.name, `${o.spec?.scaleTargetRef?.kind}/${o.spec?.scaleTargetRef?.name}`, targets, o.spec?.minReplicas ?? 1, o.spec?.maxReplicas ?? 0, o.status?.currentReplicas ?? 0, age(o.metadata.creationTimestamp, now)];
};

// ---- apiextensions.k8s.io/v1 -------------------------------------------------------------------

const xn = def('io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1');
const crdNames = xn(
  'CustomResourceDefinitionNames',
  obj(
    { categories: arr(str(), { listType: 'atomic' }), kind: str(), listKind: str(), plural: str(), shortNames: arr(str(), { listType: 'atomic' }), singular: str() },
    { required: ['plural', 'kind'] },
  ),
);

function validateCRD(o: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const s = o.spec ?? {};
  const names = s.names ?? {};
  if (!s.group) errs.push(fieldErr.required('spec.group', ''));
  else if (!String(s.group).includes('.')) errs.push(fieldErr.invalid('spec.group', s.group, 'should be a domain with at least one dot'));
  if (!names.plural) errs.push(fieldErr.required('spec.names.plural', ''));
  else for (const m of isDNS1123Label(names.plural)) errs.push(fieldErr.invalid('spec.names.plural', names.plural, m));
  if (!names.kind) errs.push(fieldErr.required('spec.names.kind', ''));
  if (names.singular) for (const m of isDNS1123Label(names.singular)) errs.push(fieldErr.invalid('spec.names.singular', names.singular, m));
  if (names.plural && s.group && o.metadata?.name !== `${names.plural}.${s.group}`) {
    errs.push(fieldErr.invalid('metadata.name', o.metadata?.name, `must be spec.names.plural+"."+spec.group`));
  }
  if (!['Namespaced', 'Cluster'].includes(s.scope)) errs.push(s.scope ? fieldErr.notSupported('spec.scope', s.scope, ['Cluster', 'Namespaced']) : fieldErr.required('spec.scope', ''));
  const versions = (s.versions ?? []) as Obj[];
  if (!versions.length) errs.push(fieldErr.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
  else {
    const storage = versions.filter((v) => v.storage).length;
    if (storage !== 1) errs.push(fieldErr.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
    versions.forEach((v, i) => {
      if (!v.name) errs.push(fieldErr.required(`spec.versions[${i}].name`, ''));
      else for (const m of isDNS1123Label(v.name)) errs.push(fieldErr.invalid(`spec.versions[${i}].name`, v.name, m));
      if (!v.schema?.openAPIV3Schema) errs.push(fieldErr.required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
    });
  }
  return errs;
}

const crds = defineKind({
  group: 'apiextensions.k8s.io',
  version: 'v1',
  pkg: 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  status: true,
  properties: {
    spec: xn(
      'CustomResourceDefinitionSpec',
      obj(
        {
          conversion: xn('CustomResourceConversion', obj({ strategy: str(), webhook: ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as Schema) }, { required: ['strategy'] })),
          group: str(),
          names: crdNames,
          preserveUnknownFields: bool(),
          scope: str(),
          versions: arr(
            xn(
              'CustomResourceDefinitionVersion',
              obj(
                {
                  additionalPrinterColumns: arr(
                    xn('CustomResourceColumnDefinition', obj({ description: str(), format: str(), jsonPath: str(), name: str(), priority: int32(), type: str() }, { required: ['name', 'type', 'jsonPath'] })),
                    { listType: 'atomic' },
                  ),
                  deprecated: bool(),
                  deprecationWarning: str(),
                  name: str(),
                  schema: xn('CustomResourceValidation', obj({ openAPIV3Schema: ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as Schema) })),
                  selectableFields: arr(obj({ jsonPath: str() }, { required: ['jsonPath'] }), { listType: 'atomic' }),
                  served: bool(),
                  storage: bool(),
                  subresources: xn('CustomResourceSubresources', obj({ scale: ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as Schema), status: ({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as Schema) })),
                },
                { required: ['name', 'served', 'storage'] },
              ),
            ),
            { listType: 'atomic' },
          ),
        },
        { required: ['group', 'names', 'scope', 'versions'] },
      ),
    ),
    status: xn(
      'CustomResourceDefinitionStatus',
      obj({
        acceptedNames: crdNames,
        conditions: arr(xn('CustomResourceDefinitionCondition', obj({ lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str() })), { mergeKey: 'type', mapKeys: ['type'] }),
        storedVersions: arr(str(), { listType: 'atomic' }),
      }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      if (s.names) {
        s.names.singular ??= String(s.names.kind ?? '').toLowerCase();
        s.names.listKind ??= `${s.names.kind}List`;
      }
      s.conversion ??= { strategy: 'None' };
    },
    prepareForCreate(o) {
      o.status = { storedVersions: ((o.spec?.versions ?? []) as Obj[]).filter((v) => v.storage).map((v) => v.name), acceptedNames: { plural: '', kind: '' }, conditions: [] };
    },
    validate: (o) => validateCRD(o),
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      const errs = validateCRD(o);
      if (o.spec?.group !== old.spec?.group) errs.push(fieldErr.invalid('spec.group', o.spec?.group, 'field is immutable'));
      return errs;
    },
  },
  ...createdAtColumns(),
});

export const otherGroupResources: ResourceDef[] = [pdbs, leases, endpointslices, eventsV1, storageclasses, priorityclasses, hpaV2, hpaV1, crds];
