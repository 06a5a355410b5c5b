// managedFields and server-side apply, driven by the kind's schema (list-map keys / merge keys,
// sets, atomic lists). Field sets use upstream's FieldsV1 JSON shape: `f:<field>`,
// `k:{"name":"x"}` for list-map items, `v:<json>` for set items, `.` for a member that is
// itself owned. https://kubernetes.io/docs/reference/using-api/server-side-apply/

import type { KubeObject, ManagedFieldsEntry } from '../../api/meta/v1.js';
import { apiVersionOf, type ResourceDef } from '../../api/resource.js';
import type { Schema } from '../../api/schema.js';
import { StatusError } from '../../machinery/errors.js';
import { strategicMergePatch } from '../../machinery/strategic-merge-patch.js';

type Obj = Record<string, unknown>;
type FieldSet = { [pe: string]: FieldSet };

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Metadata fields that are never tracked (upstream strips them from every set). */
const IGNORED_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'selfLink', 'managedFields', 'deletionTimestamp', 'deletionGracePeriodSeconds']);

function prop(s: Schema | undefined, k: string): Schema | undefined {
  if (!s) return undefined;
  if (s.properties?.[k]) return s.properties[k];
  if (s.additionalProperties && typeof s.additionalProperties === 'object') return s.additionalProperties;
  return undefined;
}

function listKeys(s: Schema | undefined): string[] | undefined {
  if (!s) return undefined;
  if (s['x-kubernetes-list-type'] === 'map' && s['x-kubernetes-list-map-keys']) return s['x-kubernetes-list-map-keys'];
  if (s['x-kubernetes-patch-merge-key'] && s['x-kubernetes-list-type'] !== 'atomic') return [s['x-kubernetes-patch-merge-key']];
  return undefined;
}

function isSet(s: Schema | undefined): boolean {
  return !!s && (s['x-kubernetes-list-type'] === 'set' || (!!s['x-kubernetes-patch-strategy']?.includes('merge') && !s['x-kubernetes-patch-merge-key']));
}

function itemKey(item: Obj, keys: string[]): string {
  const k: Obj = {};
  for (const key of keys) if (item[key] !== undefined) k[key] = item[key];
  return `k:${JSON.stringify(k)}`;
}

/** The set of fields an object sets. `mark` adds `.` to maps and list items that are present. */
function setOf(v: unknown, s: Schema | undefined, mark: boolean, top = false): FieldSet {
  const out: FieldSet = {};
  if (isObj(v)) {
    if (s?.['x-kubernetes-map-type'] === 'atomic') return out;
    for (const [k, cv] of Object.entries(v)) {
      if (cv === undefined || cv === null) continue;
      if (top && (k === 'apiVersion' || k === 'kind')) continue;
      const cs = prop(s, k);
      let child: FieldSet;
      if (top && k === 'metadata' && isObj(cv)) {
        const md: Obj = {};
        for (const [mk, mv] of Object.entries(cv)) if (!IGNORED_META.has(mk)) md[mk] = mv;
        child = setOf(md, cs, mark);
        if (!Object.keys(child).length) continue;
      } else child = fieldNode(cv, cs, mark);
      out[`f:${k}`] = child;
    }
  }
  return out;
}

function fieldNode(v: unknown, s: Schema | undefined, mark: boolean): FieldSet {
  if (isObj(v)) {
    if (s?.['x-kubernetes-map-type'] === 'atomic' || (!s?.properties && !s?.additionalProperties && !isObj(s?.additionalProperties))) {
      if (!s || s['x-kubernetes-map-type'] === 'atomic' || s['x-kubernetes-preserve-unknown-fields']) return {};
    }
    const inner = setOf(v, s, mark);
    if (mark && Object.keys(inner).length) inner['.'] = {};
    return inner;
  }
  if (Array.isArray(v)) {
    const keys = listKeys(s);
    if (keys) {
      const out: FieldSet = {};
      for (const item of v) {
        if (!isObj(item)) continue;
        const inner = setOf(item, s?.items, mark);
        inner['.'] = {};
        out[itemKey(item, keys)] = inner;
      }
      return out;
    }
    if (isSet(s)) {
      const out: FieldSet = {};
      for (const item of v) out[`v:${JSON.stringify(item)}`] = {};
      return out;
    }
  }
  return {};
}

/** Leaf paths (lists of path elements) of a set; a node with `.` counts as a leaf too. */
function leaves(set: FieldSet, prefix: string[] = [], out: string[][] = []): string[][] {
  for (const [pe, child] of Object.entries(set)) {
    if (pe === '.') {
      // The member itself is owned: a path ending in "." (rendered as the `.` key).
      out.push([...prefix, '.']);
      continue;
    }
    const p = [...prefix, pe];
    if (!Object.keys(child).length) out.push(p);
    else leaves(child, p, out);
  }
  return out;
}

function hasPath(set: FieldSet, path: string[]): boolean {
  let cur: FieldSet | undefined = set;
  for (const pe of path) {
    cur = cur?.[pe];
    if (!cur) return false;
  }
  return true;
}

function removePath(set: FieldSet, path: string[]): void {
  if (!path.length) return;
  const parents: FieldSet[] = [set];
  let cur: FieldSet = set;
  for (const pe of path.slice(0, -1)) {
    if (!cur[pe]) return;
    cur = cur[pe];
    parents.push(cur);
  }
  delete cur[path[path.length - 1]];
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]).length === 0) delete parents[i - 1][path[i - 1]];
    else break;
  }
}

function addPath(set: FieldSet, path: string[]): void {
  let cur = set;
  for (const pe of path) cur = cur[pe] ??= {};
}

/** The value at a field-set path in an object (undefined when absent). */
function valueAt(obj: unknown, path: string[]): unknown {
  let cur: unknown = obj;
  for (const pe of path) {
    if (cur === undefined) return undefined;
    if (pe === '.') continue;
    if (pe.startsWith('f:')) cur = isObj(cur) ? cur[pe.slice(2)] : undefined;
    else if (pe.startsWith('k:')) {
      const key = JSON.parse(pe.slice(2)) as Obj;
      cur = Array.isArray(cur) ? cur.find((x) => isObj(x) && Object.entries(key).every(([k, v]) => x[k] === v)) : undefined;
    } else if (pe.startsWith('v:')) {
      const val = JSON.parse(pe.slice(2));
      cur = Array.isArray(cur) && cur.some((x) => JSON.stringify(x) === JSON.stringify(val)) ? val : undefined;
    }
  }
  return cur;
}

function deleteAt(obj: Obj, pathIn: string[]): void {
  const path = pathIn[pathIn.length - 1] === '.' ? pathIn.slice(0, -1) : pathIn;
  if (!path.length) return;
  const parent = valueAt(obj, path.slice(0, -1));
  const pe = path[path.length - 1];
  if (pe.startsWith('f:') && isObj(parent)) delete parent[pe.slice(2)];
  else if (Array.isArray(parent)) {
    const target = valueAt(obj, path);
    const i = parent.findIndex((x) => x === target || JSON.stringify(x) === JSON.stringify(target));
    if (i >= 0) parent.splice(i, 1);
  }
}

/** `.spec.replicas`, `.spec.containers[name="c"].image`, as upstream prints conflict paths. */
function printPath(path: string[]): string {
  let s = '';
  for (const pe of path) {
    if (pe === '.') continue;
    if (pe.startsWith('f:')) s += `.${pe.slice(2)}`;
    else if (pe.startsWith('k:')) {
      const key = JSON.parse(pe.slice(2)) as Obj;
      s += `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (pe.startsWith('v:')) s += `[${pe.slice(2)}]`;
  }
  return s;
}

function resetFields(set: FieldSet, def: ResourceDef, subresource: string): FieldSet {
  if (!def.subresources?.status) return set;
  if (subresource === 'status') return set['f:status'] ? { 'f:status': set['f:status'] } : {};
  const { 'f:status': _s, ...rest } = set;
  return rest;
}

function nowTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The manager name when the client gives none: the user agent up to the first "/". */
export function defaultFieldManager(userAgent: string): string {
  const name = (userAgent.split('/')[0] || 'unknown').slice(0, 128);
  return name;
}

function entriesOf(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  return structuredClone(obj?.metadata?.managedFields ?? []);
}

function finish(entries: ManagedFieldsEntry[]): ManagedFieldsEntry[] {
  return entries.filter((e) => e.fieldsV1 && Object.keys(e.fieldsV1).length);
}

export interface TrackUpdateArgs {
  obj: KubeObject;
  old: KubeObject | undefined;
  def: ResourceDef;
  manager?: string;
  userAgent: string;
  operation: 'Update';
  subresource: string;
  now: Date;
}

/** For create/update/patch: the writer gains the fields it set or changed; others lose them. */
export function trackUpdate(a: TrackUpdateArgs): void {
  const manager = a.manager ?? defaultFieldManager(a.userAgent);
  const entries = entriesOf(a.old);
  const oldSet = a.old ? setOf(a.old, a.def.schema, true, true) : {};
  const newSet = setOf(a.obj, a.def.schema, true, true);
  const changed: FieldSet = {};
  for (const p of leaves(newSet)) {
    // A member marker ("." paths) changes hands only when the member is new; leaves when their value changes.
    const isMember = p[p.length - 1] === '.';
    if (!hasPath(oldSet, p) || (!isMember && JSON.stringify(valueAt(a.old, p)) !== JSON.stringify(valueAt(a.obj, p)))) addPath(changed, p);
  }
  // Fields that disappeared are no longer owned by anyone.
  const removed = leaves(oldSet).filter((p) => !hasPath(newSet, p));
  const scoped = resetFields(changed, a.def, a.subresource);
  const apiVersion = apiVersionOf(a.def);
  for (const e of entries) {
    const fs = (e.fieldsV1 ?? {}) as FieldSet;
    if (!(e.manager === manager && e.operation === 'Update' && (e.subresource ?? '') === a.subresource)) {
      for (const p of leaves(scoped)) removePath(fs, p);
    }
    for (const p of removed) removePath(fs, p);
  }
  let mine = entries.find((e) => e.manager === manager && e.operation === 'Update' && (e.subresource ?? '') === a.subresource);
  if (!mine) {
    if (!leaves(scoped).length) {
      a.obj.metadata.managedFields = finish(entries);
      if (!a.obj.metadata.managedFields.length) delete a.obj.metadata.managedFields;
      return;
    }
    mine = { manager, operation: 'Update', apiVersion, time: nowTime(a.now), fieldsType: 'FieldsV1', fieldsV1: {} };
    if (a.subresource) mine.subresource = a.subresource;
    entries.push(mine);
  }
  const fs = mine.fieldsV1 as FieldSet;
  for (const p of leaves(scoped)) addPath(fs, p);
  if (leaves(scoped).length) mine.time = nowTime(a.now);
  a.obj.metadata.managedFields = finish(entries);
  if (!a.obj.metadata.managedFields.length) delete a.obj.metadata.managedFields;
}

export interface ApplyArgs {
  def: ResourceDef;
  live: KubeObject | undefined;
  applied: KubeObject;
  manager: string;
  force: boolean;
  subresource: string;
  now?: Date;
}

/** Server-side apply: merge `applied` into `live` for `manager`, with conflict detection. */
export function serverSideApply(a: ApplyArgs): KubeObject {
  const now = a.now ?? new Date();
  const apiVersion = apiVersionOf(a.def);
  const entries = entriesOf(a.live);
  const appliedSet = resetFields(setOf(a.applied, a.def.schema, false, true), a.def, a.subresource);
  const appliedLeaves = leaves(appliedSet);
  const conflicts: { manager: string; apiVersion: string; path: string[] }[] = [];
  for (const e of entries) {
    if (e.manager === a.manager) continue;
    const fs = (e.fieldsV1 ?? {}) as FieldSet;
    for (const p of appliedLeaves) {
      if (!hasPath(fs, p) || Object.keys(getNode(fs, p)).some((k) => k !== '.')) continue;
      if (JSON.stringify(valueAt(a.live, p)) !== JSON.stringify(valueAt(a.applied, p))) conflicts.push({ manager: e.manager ?? '', apiVersion: e.apiVersion ?? apiVersion, path: p });
    }
  }
  if (conflicts.length && !a.force) {
    const lines = conflicts.map((c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${printPath(c.path)}`);
    const msg = conflicts.length === 1 ? `Apply failed with 1 conflict: ${lines[0]}` : `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
    throw new StatusError(409, 'Conflict', msg, {
      causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}" using ${c.apiVersion}`, field: printPath(c.path) })),
    });
  }
  if (a.force) {
    for (const c of conflicts) {
      const e = entries.find((x) => x.manager === c.manager);
      if (e) removePath(e.fieldsV1 as FieldSet, c.path);
    }
  }
  const base: KubeObject = a.live ? structuredClone(a.live) : { apiVersion, kind: a.def.kind, metadata: {} };
  const { managedFields: _mf, ...appliedMeta } = a.applied.metadata ?? {};
  const patch = { ...a.applied, metadata: appliedMeta };
  let merged = strategicMergePatch(base, patch, a.def.schema) as KubeObject;
  // Fields this manager applied before but not now, and nobody else owns, are removed.
  const prev = entries.find((e) => e.manager === a.manager && e.operation === 'Apply' && (e.subresource ?? '') === a.subresource);
  if (prev) {
    const others = entries.filter((e) => e !== prev);
    for (const p of leaves(prev.fieldsV1 as FieldSet)) {
      if (hasPath(appliedSet, p)) continue;
      if (others.some((e) => hasPath((e.fieldsV1 ?? {}) as FieldSet, p))) continue;
      deleteAt(merged as Obj, p);
    }
  }
  merged = merged as KubeObject;
  const next = entries.filter((e) => e !== prev);
  const mine: ManagedFieldsEntry = { manager: a.manager, operation: 'Apply', apiVersion, time: nowTime(now), fieldsType: 'FieldsV1', fieldsV1: appliedSet };
  if (a.subresource) mine.subresource = a.subresource;
  next.push(mine);
  merged.metadata.managedFields = finish(next);
  return merged;
}

function getNode(set: FieldSet, path: string[]): FieldSet {
  let cur = set;
  for (const pe of path) cur = cur[pe] ?? {};
  return cur;
}
