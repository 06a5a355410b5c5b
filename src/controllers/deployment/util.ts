// Deployment helpers after upstream's pkg/controller/deployment/util: revisions and the
// annotations a Deployment keeps on its ReplicaSets, the pod-template-hash, surge and
// unavailability fenceposts, proportional scaling, conditions and the completeness/progress/
// timeout tests that kubectl rollout status relies on.

import type { KubeObject } from '../../api/meta/v1.js';
import { getScaledValueFromIntOrPercent, type IntOrString } from '../../machinery/intstr.js';
import { NAME_ALPHABET } from '../../machinery/names.js';
import { isoNow } from '../replicaset/controller.js';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const DEPRECATED_ROLLBACK_TO = 'deprecated.deployment.rollback.to';
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

export const Reasons = {
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  FailedRSCreate: 'ReplicaSetCreateError',
  NewReplicaSet: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  Paused: 'DeploymentPaused',
  Resumed: 'DeploymentResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

const SKIP_ANNOTATIONS = new Set([LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, DEPRECATED_ROLLBACK_TO]);

export interface DeploymentCondition {
  type: string;
  status: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentCondition[];
  collisionCount?: number;
}

export const replicasOf = (o: KubeObject | undefined): number => o?.spec?.replicas ?? 1;

// ---- hashing ----

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** FNV-1a, 32 bits. */
export function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: each character mapped into the alphabet without vowels or look-alikes. */
export function safeEncode(s: string): string {
  let out = '';
  for (const ch of s) out += NAME_ALPHABET[ch.codePointAt(0)! % NAME_ALPHABET.length];
  return out;
}

/**
 * controller.ComputeHash: FNV-32a over the template (here its canonical JSON, where upstream
 * hashes a Go struct dump), then the collision count as 4 little-endian bytes when set, the
 * decimal value safe-encoded.
 */
export function computeHash(template: unknown, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonical(template ?? {})));
  if (collisionCount !== undefined && collisionCount !== null) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return safeEncode(String(h));
}

/**
 * Drops empty maps, lists, nulls, and zero-valued fields (false, 0, ""), as semantic equality
 * of Go structs sees them: kubectl's protobuf bodies carry every non-pointer field, so one
 * template may arrive with `stdin: false` and the same template from a JSON patch without it.
 */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map((x) => normalize(x) ?? null) : undefined;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === false || x === 0 || x === '') continue;
      const n = normalize(x);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return v === null ? undefined : v;
}

/** EqualIgnoreHash: templates equal once the pod-template-hash label is dropped from both. */
export function equalIgnoreHash(a: KubeObject | undefined, b: KubeObject | undefined): boolean {
  const strip = (t: KubeObject | undefined) => {
    const c = structuredClone(t ?? {}) as KubeObject;
    if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH];
    return canonical(normalize(c) ?? {});
  };
  return strip(a) === strip(b);
}

// ---- sorting and selection ----

const created = (o: KubeObject) => (o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : 0);

/** ReplicaSetsByCreationTimestamp: oldest first, then by name. */
export const byCreation = (a: KubeObject, b: KubeObject) => created(a) - created(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);
/** ReplicaSetsBySizeOlder: larger first; same size, older first. */
export const bySizeOlder = (a: KubeObject, b: KubeObject) => replicasOf(b) - replicasOf(a) || byCreation(a, b);
/** ReplicaSetsBySizeNewer: larger first; same size, newer first. */
export const bySizeNewer = (a: KubeObject, b: KubeObject) => replicasOf(b) - replicasOf(a) || byCreation(b, a);

export function revisionOf(o: KubeObject): number {
  const v = o.metadata.annotations?.[REVISION];
  if (v === undefined) return 0;
  if (!/^[+-]?\d+$/.test(v)) throw new Error(`invalid revision ${JSON.stringify(v)}`);
  return Number(v);
}

const safeRevision = (o: KubeObject) => {
  try {
    return revisionOf(o);
  } catch {
    return 0;
  }
};

/** ReplicaSetsByRevision: lowest revision first, then by creation. */
export const byRevision = (a: KubeObject, b: KubeObject) => safeRevision(a) - safeRevision(b) || byCreation(a, b);

export function maxRevision(rss: KubeObject[]): number {
  let max = 0;
  for (const rs of rss) max = Math.max(max, safeRevision(rs));
  return max;
}

/** FindNewReplicaSet: the oldest replica set whose template equals the deployment's (hash ignored). */
export function findNewReplicaSet(d: KubeObject, rss: KubeObject[]): KubeObject | undefined {
  return [...rss].sort(byCreation).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/** FindOldReplicaSets: every other replica set. */
export function findOldReplicaSets(d: KubeObject, rss: KubeObject[]): KubeObject[] {
  const n = findNewReplicaSet(d, rss);
  return rss.filter((rs) => !n || rs.metadata.uid !== n.metadata.uid);
}

export const filterActive = (rss: (KubeObject | undefined)[]): KubeObject[] => rss.filter((rs): rs is KubeObject => !!rs && replicasOf(rs) > 0);

const sum = (rss: (KubeObject | undefined)[], f: (rs: KubeObject) => number) => rss.reduce((n, rs) => n + (rs ? f(rs) : 0), 0);
export const specReplicaCount = (rss: (KubeObject | undefined)[]) => sum(rss, replicasOf);
export const actualReplicaCount = (rss: (KubeObject | undefined)[]) => sum(rss, (rs) => rs.status?.replicas ?? 0);
export const readyReplicaCount = (rss: (KubeObject | undefined)[]) => sum(rss, (rs) => rs.status?.readyReplicas ?? 0);
export const availableReplicaCount = (rss: (KubeObject | undefined)[]) => sum(rss, (rs) => rs.status?.availableReplicas ?? 0);

/** FindActiveOrLatest: the only active replica set, or the new/largest-newest one when none is active; undefined when several are active. */
export function findActiveOrLatest(newRS: KubeObject | undefined, oldRSs: KubeObject[]): KubeObject | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort(bySizeNewer);
  const active = filterActive([...olds, newRS]);
  if (active.length === 0) return newRS ?? olds[0];
  if (active.length === 1) return active[0];
  return undefined;
}

// ---- strategy arithmetic ----

export const isRollingUpdate = (d: KubeObject) => (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** ResolveFenceposts: surge rounded up, unavailable rounded down; both zero means one unavailable. */
export function resolveFenceposts(maxSurge: IntOrString | undefined, maxUnavailable: IntOrString | undefined, desired: number): [number, number] {
  const surge = getScaledValueFromIntOrPercent(maxSurge ?? 0, desired, true);
  let unavailable = getScaledValueFromIntOrPercent(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function maxSurge(d: KubeObject): number {
  if (!isRollingUpdate(d)) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  return resolveFenceposts(ru.maxSurge ?? '25%', ru.maxUnavailable ?? '25%', replicasOf(d))[0];
}

export function maxUnavailable(d: KubeObject): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  const u = resolveFenceposts(ru.maxSurge ?? '25%', ru.maxUnavailable ?? '25%', replicas)[1];
  return Math.min(u, replicas);
}

/** NewRSNewReplicas: how far the new replica set may grow now. */
export function newRSNewReplicas(d: KubeObject, allRSs: (KubeObject | undefined)[], newRS: KubeObject): number {
  const replicas = replicasOf(d);
  if (!isRollingUpdate(d)) return replicas;
  const surge = getScaledValueFromIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas, true);
  const current = specReplicaCount(allRSs);
  const maxTotal = replicas + surge;
  if (current >= maxTotal) return replicasOf(newRS);
  const up = Math.min(maxTotal - current, replicas - replicasOf(newRS));
  return replicasOf(newRS) + up;
}

function intAnnotation(rs: KubeObject, key: string): number | undefined {
  const v = rs.metadata.annotations?.[key];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return undefined;
  return Number(v);
}

export const desiredReplicasAnnotation = (rs: KubeObject) => intAnnotation(rs, DESIRED_REPLICAS);

/** IsSaturated: the new replica set runs all the deployment's replicas, available. */
export function isSaturated(d: KubeObject, rs: KubeObject | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  const n = replicasOf(d);
  return replicasOf(rs) === n && desired === n && (rs.status?.availableReplicas ?? 0) === n;
}

/** Go's math.Round: half away from zero. */
const roundHalfAway = (x: number) => Math.sign(x) * Math.round(Math.abs(x));

function replicaSetFraction(rs: KubeObject, d: KubeObject): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const deploymentReplicas = replicasOf(d) + maxSurge(d);
  const annotated = intAnnotation(rs, MAX_REPLICAS) ?? d.status?.replicas ?? 0;
  const size = (replicasOf(rs) * deploymentReplicas) / annotated;
  return roundHalfAway(size) - replicasOf(rs);
}

/** GetProportion: this replica set's share of the replicas being added (or removed). */
export function getProportion(rs: KubeObject | undefined, d: KubeObject, toAdd: number, added: number): number {
  if (!rs || replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

// ---- annotations ----

/** SetReplicasAnnotations; true when something changed. */
export function setReplicasAnnotations(rs: KubeObject, desired: number, max: number): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  if (a[DESIRED_REPLICAS] !== String(desired)) {
    a[DESIRED_REPLICAS] = String(desired);
    changed = true;
  }
  if (a[MAX_REPLICAS] !== String(max)) {
    a[MAX_REPLICAS] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: KubeObject, desired: number, max: number): boolean {
  const a = rs.metadata.annotations ?? {};
  return a[DESIRED_REPLICAS] !== String(desired) || a[MAX_REPLICAS] !== String(max);
}

/** SetNewReplicaSetAnnotations: copy the deployment's annotations, raise the revision (keeping the history on a rollback), and on creation the replica annotations. */
export function setNewReplicaSetAnnotations(d: KubeObject, rs: KubeObject, newRevision: string, exists: boolean): boolean {
  const a = (rs.metadata.annotations ??= {});
  let changed = false;
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (SKIP_ANNOTATIONS.has(k) || a[k] === v) continue;
    a[k] = v;
    changed = true;
  }
  const had = Object.prototype.hasOwnProperty.call(a, REVISION);
  const oldRevision = a[REVISION] ?? '';
  let oldInt = 0;
  if (oldRevision !== '') {
    if (!/^[+-]?\d+$/.test(oldRevision)) return false;
    oldInt = Number(oldRevision);
  }
  if (!/^[+-]?\d+$/.test(newRevision)) return false;
  const newInt = Number(newRevision);
  if (oldInt < newInt) {
    a[REVISION] = newRevision;
    changed = true;
  }
  if (had && oldInt < newInt) {
    const hist = a[REVISION_HISTORY] ?? '';
    const olds = hist.split(',');
    if (olds[0]!.length === 0) a[REVISION_HISTORY] = oldRevision;
    else {
      let total = hist.length + oldRevision.length + 1;
      let start = 0;
      while (total > MAX_REV_HISTORY_LENGTH_IN_CHARS && start < olds.length) {
        total -= olds[start]!.length + 1;
        start++;
      }
      if (total <= MAX_REV_HISTORY_LENGTH_IN_CHARS) a[REVISION_HISTORY] = [...olds.slice(start), oldRevision].join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

/** SetDeploymentRevision; true when it changed. */
export function setDeploymentRevision(d: KubeObject, revision: string): boolean {
  const a = (d.metadata.annotations ??= {});
  if (a[REVISION] === revision) return false;
  a[REVISION] = revision;
  return true;
}

// ---- conditions and progress ----

export function newCondition(type: string, status: string, reason: string, message: string, now: Date): DeploymentCondition {
  const t = isoNow(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

export const getCondition = (s: DeploymentStatus | undefined, type: string) => s?.conditions?.find((c) => c.type === type);

/** SetDeploymentCondition: same status and reason is a no-op; same status keeps lastTransitionTime. */
export function setCondition(s: DeploymentStatus, c: DeploymentCondition): void {
  const cur = getCondition(s, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  s.conditions = [...(s.conditions ?? []).filter((x) => x.type !== c.type), c];
}

export function removeCondition(s: DeploymentStatus, type: string): void {
  if (!s.conditions) return;
  s.conditions = s.conditions.filter((c) => c.type !== type);
}

export const hasProgressDeadline = (d: KubeObject) => d.spec?.progressDeadlineSeconds !== undefined && d.spec?.progressDeadlineSeconds !== null && d.spec.progressDeadlineSeconds !== 2147483647;

export const hasRevisionHistoryLimit = (d: KubeObject) => d.spec?.revisionHistoryLimit !== undefined && d.spec?.revisionHistoryLimit !== null && d.spec.revisionHistoryLimit !== 2147483647;

/** DeploymentComplete: every replica updated and available, and the spec observed. */
export function deploymentComplete(d: KubeObject, s: DeploymentStatus): boolean {
  const n = replicasOf(d);
  return (s.updatedReplicas ?? 0) === n && (s.replicas ?? 0) === n && (s.availableReplicas ?? 0) === n && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: more updated, fewer old, more ready or more available replicas than before. */
export function deploymentProgressing(d: KubeObject, s: DeploymentStatus): boolean {
  const old: DeploymentStatus = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
}

/** DeploymentTimedOut: the Progressing condition was last updated longer than progressDeadlineSeconds ago. */
export function deploymentTimedOut(d: KubeObject, s: DeploymentStatus, now: Date): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === Reasons.NewRSAvailable) return false;
  if (c.reason === Reasons.TimedOut) return true;
  const from = c.lastUpdateTime ? Date.parse(c.lastUpdateTime) : 0;
  return from + d.spec.progressDeadlineSeconds * 1000 < now.getTime();
}
