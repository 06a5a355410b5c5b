// apps/v1: deployments, replicasets, statefulsets, daemonsets, controllerrevisions.

import { type FieldError, fieldErr, FieldPath } from '../../machinery/field-errors.js';
import { selectorFromObject, selectorToString } from '../../machinery/labels.js';
import { labelSelector, rawExtension, type KubeObject } from '../meta/v1.js';
import { age, col } from '../printing.js';
import type { ResourceDef } from '../resource.js';
import { arr, bool, enumOf, int32, int64, intOrString, named, obj, str, time, type Schema } from '../schema.js';
import { defineKind } from './define.js';
import { defaultPodSpec, podTemplateSpec, validatePodTemplateSpec } from './pod-spec.js';
import { persistentVolumeClaimSpec } from './pod-spec.js';
import { objectMeta } from '../meta/v1.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const PKG = 'io.k8s.api.apps.v1';
const n = (name: string, s: Schema) => named(`${PKG}.${name}`, s);
const base = { group: 'apps', version: 'v1', pkg: PKG };
const root = new FieldPath();

const condition = (name: string, extra: Record<string, Schema> = {}) =>
  n(name, obj({ lastTransitionTime: time(), message: str(), reason: str(), status: str(), type: str(), ...extra }, { required: ['type', 'status'] }));

/** Selector present, non-empty, and matching the template labels (upstream's wording). */
export function validateSelectorAndTemplate(o: KubeObject, p: FieldPath, opts: { restartPolicies?: string[] } = {}): FieldError[] {
  const errs: FieldError[] = [];
  const sel = o.spec?.selector;
  if (!sel) errs.push(fieldErr.required(p.child('selector'), ''));
  else if (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length) {
    errs.push(fieldErr.invalid(p.child('selector'), sel, 'empty selector is invalid for deployment'));
  } else {
    const labels = o.spec?.template?.metadata?.labels ?? {};
    let matches = false;
    try {
      matches = selectorFromObject(sel).matches(labels);
    } catch (e) {
      errs.push(fieldErr.invalid(p.child('selector'), sel, (e as Error).message));
    }
    if (!matches) {
      const rendered = `map[string]string{${Object.entries(labels).map(([k, v]) => `"${k}":"${v}"`).join(', ')}}`;
      errs.push({ ...fieldErr.invalid(p.child('template', 'metadata', 'labels'), labels, '`selector` does not match template `labels`'), renderedValue: rendered });
    }
  }
  errs.push(...validatePodTemplateSpec(o.spec?.template, p.child('template'), opts));
  return errs;
}

function nonNegative(v: unknown, p: FieldPath, errs: FieldError[]): void {
  if (typeof v === 'number' && v < 0) errs.push(fieldErr.invalid(p, v, 'must be greater than or equal to 0'));
}

function selectorImmutable(o: KubeObject, old: KubeObject): FieldError[] {
  if (JSON.stringify(o.spec?.selector ?? null) !== JSON.stringify(old.spec?.selector ?? null)) {
    return [fieldErr.invalid('spec.selector', o.spec?.selector, 'field is immutable')];
  }
  return [];
}

function containerCells(o: Obj): [string, string, string] {
  const cs = (o.spec?.template?.spec?.containers ?? []) as Obj[];
  let sel = '<none>';
  try {
    sel = selectorToString(o.spec?.selector ?? {}) || '<none>';
  } catch {
    // keep <none>
  }
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(','), sel];
}

const wideContainers = () => [col('Containers', { priority: 1 }), col('Images', { priority: 1 }), col('Selector', { priority: 1 })];

function percentOrInt(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) return Number(v.slice(0, -1));
  return undefined;
}

// ---- deployments -----------------------------------------------------------------------------

const deploymentStrategy = n(
  'DeploymentStrategy',
  obj({ rollingUpdate: n('RollingUpdateDeployment', obj({ maxSurge: intOrString(), maxUnavailable: intOrString() })), type: enumOf(['Recreate', 'RollingUpdate']) }),
);

function validateDeployment(o: KubeObject): FieldError[] {
  const p = root.child('spec');
  const errs: FieldError[] = [];
  nonNegative(o.spec?.replicas, p.child('replicas'), errs);
  nonNegative(o.spec?.minReadySeconds, p.child('minReadySeconds'), errs);
  nonNegative(o.spec?.revisionHistoryLimit, p.child('revisionHistoryLimit'), errs);
  const st = o.spec?.strategy ?? {};
  if (st.type && !['Recreate', 'RollingUpdate'].includes(st.type)) errs.push(fieldErr.notSupported(p.child('strategy', 'type'), st.type, ['Recreate', 'RollingUpdate']));
  if (st.type === 'Recreate' && st.rollingUpdate) errs.push(fieldErr.forbidden(p.child('strategy', 'rollingUpdate'), 'may not be specified when strategy `type` is \'Recreate\''));
  if (st.type === 'RollingUpdate' && st.rollingUpdate) {
    const ru = st.rollingUpdate;
    const surge = percentOrInt(ru.maxSurge ?? '25%');
    const unav = percentOrInt(ru.maxUnavailable ?? '25%');
    for (const [f, v] of [['maxSurge', ru.maxSurge], ['maxUnavailable', ru.maxUnavailable]] as const) {
      if (typeof v === 'string' && !/^\d+%$/.test(v)) errs.push(fieldErr.invalid(p.child('strategy', 'rollingUpdate', f), v, 'a valid percent string must be a numeric string followed by an ending \'%\' (e.g. \'1%\',  or \'93%\', regex used for validation is \'[0-9]+%\')'));
      if (typeof v === 'number' && v < 0) errs.push(fieldErr.invalid(p.child('strategy', 'rollingUpdate', f), v, 'must be greater than or equal to 0'));
    }
    if (typeof ru.maxUnavailable === 'string' && (percentOrInt(ru.maxUnavailable) ?? 0) > 100) errs.push(fieldErr.invalid(p.child('strategy', 'rollingUpdate', 'maxUnavailable'), ru.maxUnavailable, 'must not be greater than 100%'));
    if (surge === 0 && unav === 0) errs.push(fieldErr.invalid(p.child('strategy', 'rollingUpdate', 'maxUnavailable'), ru.maxUnavailable, 'may not be 0 when `maxSurge` is 0'));
  }
  if (o.spec?.progressDeadlineSeconds !== undefined && o.spec.minReadySeconds !== undefined && o.spec.progressDeadlineSeconds <= o.spec.minReadySeconds) {
    errs.push(fieldErr.invalid(p.child('progressDeadlineSeconds'), o.spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
  }
  errs.push(...validateSelectorAndTemplate(o, p, { restartPolicies: ['Always'] }));
  return errs;
}

const deployments = defineKind({
  ...base,
  kind: 'Deployment',
  plural: 'deployments',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  status: true,
  scale: true,
  properties: {
    spec: n(
      'DeploymentSpec',
      obj(
        {
          minReadySeconds: int32(),
          paused: bool(),
          progressDeadlineSeconds: int32(),
          replicas: int32(),
          revisionHistoryLimit: int32(),
          selector: labelSelector,
          strategy: { ...deploymentStrategy, 'x-kubernetes-patch-strategy': 'retainKeys' },
          template: podTemplateSpec,
        },
        { required: ['selector', 'template'] },
      ),
    ),
    status: n(
      'DeploymentStatus',
      obj({
        availableReplicas: int32(),
        collisionCount: int32(),
        conditions: arr(condition('DeploymentCondition', { lastUpdateTime: time() }), { mergeKey: 'type', mapKeys: ['type'] }),
        observedGeneration: int64(),
        readyReplicas: int32(),
        replicas: int32(),
        terminatingReplicas: int32(),
        unavailableReplicas: int32(),
        updatedReplicas: int32(),
      }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    annotationsAreSpec: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.replicas ??= 1;
      s.strategy ??= {};
      s.strategy.type ??= 'RollingUpdate';
      if (s.strategy.type === 'RollingUpdate') {
        s.strategy.rollingUpdate ??= {};
        s.strategy.rollingUpdate.maxUnavailable ??= '25%';
        s.strategy.rollingUpdate.maxSurge ??= '25%';
      }
      s.revisionHistoryLimit ??= 10;
      s.progressDeadlineSeconds ??= 600;
      defaultPodSpec(s.template?.spec);
    },
    validate: validateDeployment,
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      return [...validateDeployment(o), ...selectorImmutable(o, old)];
    },
  },
  columns: [
    col('Ready', { description: 'Number of the pod with ready state' }),
    col('Up-to-date', { type: 'integer' }),
    col('Available', { type: 'integer' }),
    col('Age'),
    ...wideContainers(),
  ],
  cells: (o, now) => [`${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, o.status?.updatedReplicas ?? 0, o.status?.availableReplicas ?? 0, age(o.metadata.creationTimestamp, now), ...containerCells(o)],
});
deployments.subresources!.scale!.labelSelectorPath = '.status.selector';

// ---- replicasets -----------------------------------------------------------------------------

const replicaSetStatus = n(
  'ReplicaSetStatus',
  obj(
    {
      availableReplicas: int32(),
      conditions: arr(condition('ReplicaSetCondition'), { mergeKey: 'type', mapKeys: ['type'] }),
      fullyLabeledReplicas: int32(),
      observedGeneration: int64(),
      readyReplicas: int32(),
      replicas: int32(),
      terminatingReplicas: int32(),
    },
    { required: ['replicas'] },
  ),
);

function validateReplicaSet(o: KubeObject): FieldError[] {
  const p = root.child('spec');
  const errs: FieldError[] = [];
  nonNegative(o.spec?.replicas, p.child('replicas'), errs);
  nonNegative(o.spec?.minReadySeconds, p.child('minReadySeconds'), errs);
  errs.push(...validateSelectorAndTemplate(o, p, { restartPolicies: ['Always'] }));
  return errs;
}

const replicasets = defineKind({
  ...base,
  kind: 'ReplicaSet',
  plural: 'replicasets',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  status: true,
  scale: true,
  properties: {
    spec: n('ReplicaSetSpec', obj({ minReadySeconds: int32(), replicas: int32(), selector: labelSelector, template: podTemplateSpec }, { required: ['selector'] })),
    status: replicaSetStatus,
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      o.spec ??= {};
      o.spec.replicas ??= 1;
      defaultPodSpec(o.spec.template?.spec);
    },
    prepareForCreate(o) {
      o.status = { replicas: 0 };
    },
    validate: validateReplicaSet,
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      return [...validateReplicaSet(o), ...selectorImmutable(o, old)];
    },
  },
  columns: [col('Desired', { type: 'integer' }), col('Current', { type: 'integer' }), col('Ready', { type: 'integer' }), col('Age'), ...wideContainers()],
  cells: (o, now) => [o.spec?.replicas ?? 0, o.status?.replicas ?? 0, o.status?.readyReplicas ?? 0, age(o.metadata.creationTimestamp, now), ...containerCells(o)],
});
replicasets.subresources!.scale!.labelSelectorPath = '.status.selector';

// ---- statefulsets ----------------------------------------------------------------------------

function validateStatefulSet(o: KubeObject): FieldError[] {
  const p = root.child('spec');
  const errs: FieldError[] = [];
  nonNegative(o.spec?.replicas, p.child('replicas'), errs);
  const pmp = o.spec?.podManagementPolicy;
  if (pmp && !['OrderedReady', 'Parallel'].includes(pmp)) errs.push(fieldErr.notSupported(p.child('podManagementPolicy'), pmp, ['OrderedReady', 'Parallel']));
  const ut = o.spec?.updateStrategy?.type;
  if (ut && !['OnDelete', 'RollingUpdate'].includes(ut)) errs.push(fieldErr.notSupported(p.child('updateStrategy', 'type'), ut, ['OnDelete', 'RollingUpdate']));
  nonNegative(o.spec?.updateStrategy?.rollingUpdate?.partition, p.child('updateStrategy', 'rollingUpdate', 'partition'), errs);
  // Containers may mount the claim templates: validate the template as the pods will be, with
  // a volume per claim template.
  const claims = ((o.spec?.volumeClaimTemplates ?? []) as Obj[]).map((t) => t.metadata?.name).filter(Boolean);
  const spec = o.spec?.template?.spec;
  const withClaims =
    claims.length && spec
      ? { ...o, spec: { ...o.spec, template: { ...o.spec.template, spec: { ...spec, volumes: [...(spec.volumes ?? []), ...claims.filter((n: string) => !(spec.volumes ?? []).some((v: Obj) => v.name === n)).map((n: string) => ({ name: n, persistentVolumeClaim: { claimName: n } }))] } } } }
      : o;
  errs.push(...validateSelectorAndTemplate(withClaims, p, { restartPolicies: ['Always'] }));
  return errs;
}

const statefulsets = defineKind({
  ...base,
  kind: 'StatefulSet',
  plural: 'statefulsets',
  namespaced: true,
  shortNames: ['sts'],
  categories: ['all'],
  status: true,
  scale: true,
  properties: {
    spec: n(
      'StatefulSetSpec',
      obj(
        {
          minReadySeconds: int32(),
          ordinals: n('StatefulSetOrdinals', obj({ start: int32() })),
          persistentVolumeClaimRetentionPolicy: n('StatefulSetPersistentVolumeClaimRetentionPolicy', obj({ whenDeleted: str(), whenScaled: str() })),
          podManagementPolicy: enumOf(['OrderedReady', 'Parallel']),
          replicas: int32(),
          revisionHistoryLimit: int32(),
          selector: labelSelector,
          serviceName: str(),
          template: podTemplateSpec,
          updateStrategy: n(
            'StatefulSetUpdateStrategy',
            obj({ rollingUpdate: n('RollingUpdateStatefulSetStrategy', obj({ maxUnavailable: intOrString(), partition: int32() })), type: enumOf(['OnDelete', 'RollingUpdate']) }),
          ),
          volumeClaimTemplates: arr(
            named('io.k8s.api.core.v1.PersistentVolumeClaim', obj({ apiVersion: str(), kind: str(), metadata: objectMeta, spec: persistentVolumeClaimSpec, status: obj({ phase: str() }, { 'x-kubernetes-preserve-unknown-fields': true }) })),
            { listType: 'atomic' },
          ),
        },
        { required: ['selector', 'template'] },
      ),
    ),
    status: n(
      'StatefulSetStatus',
      obj(
        {
          availableReplicas: int32(),
          collisionCount: int32(),
          conditions: arr(condition('StatefulSetCondition'), { mergeKey: 'type', mapKeys: ['type'] }),
          currentReplicas: int32(),
          currentRevision: str(),
          observedGeneration: int64(),
          readyReplicas: int32(),
          replicas: int32(),
          updateRevision: str(),
          updatedReplicas: int32(),
        },
        { required: ['replicas'] },
      ),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.replicas ??= 1;
      s.podManagementPolicy ??= 'OrderedReady';
      s.updateStrategy ??= {};
      s.updateStrategy.type ??= 'RollingUpdate';
      if (s.updateStrategy.type === 'RollingUpdate') {
        s.updateStrategy.rollingUpdate ??= {};
        s.updateStrategy.rollingUpdate.partition ??= 0;
      }
      s.revisionHistoryLimit ??= 10;
      s.persistentVolumeClaimRetentionPolicy ??= {};
      s.persistentVolumeClaimRetentionPolicy.whenDeleted ??= 'Retain';
      s.persistentVolumeClaimRetentionPolicy.whenScaled ??= 'Retain';
      for (const t of s.volumeClaimTemplates ?? []) {
        t.apiVersion ??= 'v1';
        t.kind ??= 'PersistentVolumeClaim';
        t.spec ??= {};
        t.spec.volumeMode ??= 'Filesystem';
        t.status ??= { phase: 'Pending' };
      }
      defaultPodSpec(s.template?.spec);
    },
    prepareForCreate(o) {
      o.status = { replicas: 0, availableReplicas: 0 };
    },
    validate: validateStatefulSet,
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      const errs = [...validateStatefulSet(o), ...selectorImmutable(o, old)];
      const strip = (x: Obj) => JSON.stringify({ ...x.spec, replicas: 0, template: 0, updateStrategy: 0, persistentVolumeClaimRetentionPolicy: 0, minReadySeconds: 0, ordinals: 0, revisionHistoryLimit: 0 });
      if (strip(o) !== strip(old)) {
        errs.push(
          fieldErr.forbidden(
            'spec',
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
          ),
        );
      }
      return errs;
    },
  },
  columns: [col('Ready'), col('Age'), col('Containers', { priority: 1 }), col('Images', { priority: 1 })],
  cells: (o, now) => {
    const [c, i] = containerCells(o);
    return [`${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`, age(o.metadata.creationTimestamp, now), c, i];
  },
});
statefulsets.subresources!.scale!.labelSelectorPath = '.status.selector';

// ---- daemonsets ------------------------------------------------------------------------------

function validateDaemonSet(o: KubeObject): FieldError[] {
  const p = root.child('spec');
  const errs: FieldError[] = [];
  const ut = o.spec?.updateStrategy?.type;
  if (ut && !['OnDelete', 'RollingUpdate'].includes(ut)) errs.push(fieldErr.notSupported(p.child('updateStrategy', 'type'), ut, ['OnDelete', 'RollingUpdate']));
  errs.push(...validateSelectorAndTemplate(o, p, { restartPolicies: ['Always'] }));
  return errs;
}

const daemonsets = defineKind({
  ...base,
  kind: 'DaemonSet',
  plural: 'daemonsets',
  namespaced: true,
  shortNames: ['ds'],
  categories: ['all'],
  status: true,
  properties: {
    spec: n(
      'DaemonSetSpec',
      obj(
        {
          minReadySeconds: int32(),
          revisionHistoryLimit: int32(),
          selector: labelSelector,
          template: podTemplateSpec,
          updateStrategy: n(
            'DaemonSetUpdateStrategy',
            obj({ rollingUpdate: n('RollingUpdateDaemonSet', obj({ maxSurge: intOrString(), maxUnavailable: intOrString() })), type: enumOf(['OnDelete', 'RollingUpdate']) }),
          ),
        },
        { required: ['selector', 'template'] },
      ),
    ),
    status: n(
      'DaemonSetStatus',
      obj(
        {
          collisionCount: int32(),
          conditions: arr(condition('DaemonSetCondition'), { mergeKey: 'type', mapKeys: ['type'] }),
          currentNumberScheduled: int32(),
          desiredNumberScheduled: int32(),
          numberAvailable: int32(),
          numberMisscheduled: int32(),
          numberReady: int32(),
          numberUnavailable: int32(),
          observedGeneration: int64(),
          updatedNumberScheduled: int32(),
        },
        { required: ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady'] },
      ),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.updateStrategy ??= {};
      s.updateStrategy.type ??= 'RollingUpdate';
      if (s.updateStrategy.type === 'RollingUpdate') {
        s.updateStrategy.rollingUpdate ??= {};
        s.updateStrategy.rollingUpdate.maxUnavailable ??= 1;
        s.updateStrategy.rollingUpdate.maxSurge ??= 0;
      }
      s.revisionHistoryLimit ??= 10;
      defaultPodSpec(s.template?.spec);
    },
    prepareForCreate(o) {
      o.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
    },
    validate: validateDaemonSet,
    validateUpdate(o, old, ctx) {
      if (ctx.subresource === 'status') return [];
      return [...validateDaemonSet(o), ...selectorImmutable(o, old)];
    },
  },
  columns: [
    col('Desired', { type: 'integer' }),
    col('Current', { type: 'integer' }),
    col('Ready', { type: 'integer' }),
    col('Up-to-date', { type: 'integer' }),
    col('Available', { type: 'integer' }),
    col('Node Selector'),
    col('Age'),
    ...wideContainers(),
  ],
  cells: (o, now) => {
    const ns = o.spec?.template?.spec?.nodeSelector as Obj | undefined;
    const nsCell = ns && Object.keys(ns).length ? Object.keys(ns).sort().map((k) => `${k}=${ns[k]}`).join(',') : '<none>';
    const s = o.status ?? {};
    return [s.desiredNumberScheduled ?? 0, s.currentNumberScheduled ?? 0, s.numberReady ?? 0, s.updatedNumberScheduled ?? 0, s.numberAvailable ?? 0, nsCell, age(o.metadata.creationTimestamp, now), ...containerCells(o)];
  },
});

// ---- controllerrevisions ---------------------------------------------------------------------

const controllerrevisions = defineKind({
  ...base,
  kind: 'ControllerRevision',
  plural: 'controllerrevisions',
  namespaced: true,
  properties: { data: rawExtension(), revision: int64() },
  required: ['revision'],
  strategy: {
    validate(o) {
      const errs: FieldError[] = [];
      if (typeof o.revision !== 'number' || o.revision < 0) errs.push(fieldErr.invalid('revision', o.revision, 'must be greater than or equal to 0'));
      return errs;
    },
    validateUpdate(o, old) {
      if (JSON.stringify(o.data ?? null) !== JSON.stringify(old.data ?? null)) return [fieldErr.invalid('data', o.data, 'field is immutable')];
      return [];
    },
  },
  columns: [col('Controller'), col('Revision', { type: 'integer' }), col('Age')],
  cells: (o, now) => {
    const c = (o.metadata.ownerReferences ?? []).find((r: Obj) => r.controller);
    const ctl = c ? `${(c.apiVersion as string).split('/')[0] === 'apps' ? c.kind.toLowerCase() + '.apps' : c.kind.toLowerCase()}/${c.name}` : '<none>';
    return [ctl, o.revision ?? 0, age(o.metadata.creationTimestamp, now)];
  },
});

export const appsV1Resources: ResourceDef[] = [deployments, replicasets, statefulsets, daemonsets, controllerrevisions];
