// Strategic merge patch as the API server applies it (k8s.io/apimachinery/pkg/util/strategicpatch,
// StrategicMergeMapPatch with MergeParallelList and IgnoreUnmatchedNulls). Maps merge and null
// deletes; lists whose schema says x-kubernetes-patch-strategy "merge" merge by
// x-kubernetes-patch-merge-key (or as a set of primitives); other lists are replaced. Directives:
// $patch (replace|delete, and in lists of maps also item deletion), $retainKeys,
// $setElementOrder/<field>, $deleteFromPrimitiveList/<field>. The order rules (new items first
// unless $setElementOrder says otherwise) follow upstream exactly, since kubectl relies on them.
// Doc: https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md

import { StatusError } from './errors.js';

/** The parts of a structural schema that strategic merge patch reads. */
export interface PatchSchema {
  properties?: Record<string, PatchSchema>;
  additionalProperties?: PatchSchema | boolean;
  items?: PatchSchema;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

type Obj = Record<string, unknown>;

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

// Upstream's sentinel errors whose status the API server maps specially.
export const ERR_BAD_JSON_DOC = 'invalid JSON document';
export const ERR_NO_LIST_OF_LISTS = 'lists of lists are not supported';
export const ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST = 'invalid patch format of primitive list';
export const ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS = 'invalid patch format of retainKeys';
export const ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST = 'invalid patch format of setElementOrder list';

const BAD_REQUEST = new Set([ERR_BAD_JSON_DOC, ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST, ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS, ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST]);
const UNPROCESSABLE = new Set([ERR_NO_LIST_OF_LISTS]);

/** A patch that cannot apply, as upstream's interpretStrategicMergePatchError turns it into a Status. */
export function smpStatusError(message: string): StatusError {
  if (BAD_REQUEST.has(message)) return StatusError.badRequest(message);
  if (UNPROCESSABLE.has(message)) return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
  // Upstream answers any other merge failure with a reason-less 500; these are the client's
  // mistakes (a list item without its merge key, a bad directive), so k8ts answers 422 Invalid
  // with the same message instead of ever blaming the server for bad input.
  return new StatusError(422, 'Invalid', message);
}

class SmpError extends Error {}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const has = (o: Obj, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Go's %v for decoded JSON, used in upstream's error messages. */
export function goFormat(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isObj(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goFormat(v[k])}`).join(' ')}]`;
  }
  if (typeof v === 'number' && !Number.isInteger(v)) {
    // Go's %v for float64 is strconv 'g' shortest: exponent form from 1e21 up and below 1e-4.
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e21)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(v);
}

/** Go's reflect type name of a decoded JSON value. */
function goType(v: unknown): string {
  if (v === null || v === undefined) return '%!s(<nil>)';
  if (Array.isArray(v)) return '[]interface {}';
  if (isObj(v)) return 'map[string]interface {}';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

/** Comparable type tag: differing tags mean "replace, don't merge". */
function kindOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'slice';
  if (isObj(v)) return 'map';
  return typeof v;
}

const errBadArgType = (expected: string, actual: unknown) => new SmpError(`expected a ${expected}, but received a ${goType(actual)}`);
const errNoMergeKey = (m: Obj, k: string) => new SmpError(`map: ${goFormat(m)} does not contain declared merge key: ${k}`);
const errBadPatchType = (t: unknown, m: Obj) => new SmpError(`unknown patch type: ${goFormat(t)} in map: ${goFormat(m)}`);

interface FieldMeta {
  schema: PatchSchema | undefined;
  strategy: string;
  mergeKey: string;
}

/** The schema and patch metadata of field `key` of an object whose schema is `s`. */
function lookupField(s: PatchSchema | undefined, key: string): FieldMeta {
  let fs: PatchSchema | undefined;
  if (s?.properties && has(s.properties as Obj, key)) fs = s.properties[key];
  else if (s && typeof s.additionalProperties === 'object') fs = s.additionalProperties;
  const strategies = (fs?.['x-kubernetes-patch-strategy'] ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return { schema: fs, strategy: retainKeysStrategy(strategies), mergeKey: fs?.['x-kubernetes-patch-merge-key'] ?? '' };
}

/** extractRetainKeysPatchStrategy: "merge,retainKeys" → "merge". */
function retainKeysStrategy(strategies: string[]): string {
  if (strategies.length === 0) return '';
  if (strategies.length === 1) return strategies[0] === 'retainKeys' ? '' : strategies[0];
  if (strategies.length === 2) {
    if (strategies[0] === 'retainKeys') return strategies[1];
    if (strategies[1] === 'retainKeys') return strategies[0];
  }
  throw new SmpError(`unexpected patch strategy: [${strategies.join(' ')}]`);
}

/** The schema of a list's items. */
const itemsOf = (s: PatchSchema | undefined) => s?.items;

/**
 * Applies `patch` to `original` and returns the result; neither input is modified. A patch that
 * cannot apply throws a StatusError with upstream's code and message.
 */
export function strategicMergePatch(original: unknown, patch: unknown, schema: PatchSchema | undefined): Obj {
  if (!isObj(patch)) {
    const what = Array.isArray(patch) ? 'array' : patch === null ? 'null' : typeof patch === 'string' ? 'string' : typeof patch === 'number' ? 'number' : 'bool';
    if (patch === null) return isObj(original) ? structuredClone(original) : {};
    throw StatusError.badRequest(`json: cannot unmarshal ${what} into Go value of type map[string]interface {}`);
  }
  try {
    return mergeMap(isObj(original) ? structuredClone(original) : {}, structuredClone(patch), schema);
  } catch (e) {
    if (e instanceof SmpError) throw smpStatusError(e.message);
    throw e;
  }
}

function mergeMap(original: Obj, patch: Obj, schema: PatchSchema | undefined): Obj {
  if (has(patch, DIRECTIVE)) {
    const d = patch[DIRECTIVE];
    if (d === 'replace') {
      delete patch[DIRECTIVE];
      return sanitize(patch) as Obj;
    }
    if (d === 'delete') return {};
    throw errBadPatchType(d, patch);
  }
  applyRetainKeys(original, patch);
  mergeSetElementOrderLists(original, patch, schema);

  for (const k0 of Object.keys(patch)) {
    let k = k0;
    const patchV = patch[k0];
    let isDeleteList = false;
    if (k0.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      k = extractKey(k0, DELETE_FROM_PRIMITIVE_LIST);
      isDeleteList = true;
    } else if (k0.startsWith('$')) {
      // Not a field: typed decoding upstream drops unknown "$" keys.
      continue;
    }
    if (patchV === null) {
      delete original[k];
      continue;
    }
    if (!has(original, k) || kindOf(original[k]) !== kindOf(patchV)) {
      if (!isDeleteList) setWithoutDirectives(original, k, discardNulls(patchV));
      continue;
    }
    const kind = kindOf(patchV);
    if (kind === 'map') {
      const meta = lookupField(schema, k);
      original[k] = meta.strategy === 'replace' ? sanitize(patchV) : mergeMap(original[k] as Obj, patchV as Obj, meta.schema);
    } else if (kind === 'slice') {
      const meta = lookupField(schema, k);
      original[k] = mergeSliceHandler(original[k] as unknown[], patchV as unknown[], meta, isDeleteList);
    } else {
      setWithoutDirectives(original, k, patchV);
    }
  }
  return original;
}

/** A value taken from the patch as a whole: maps marked with $patch are dropped, as upstream's removeDirectives. */
function setWithoutDirectives(target: Obj, k: string, v: unknown): void {
  const [clean, keep] = removeDirectives(v);
  if (keep) target[k] = sanitize(clean);
  else delete target[k];
}

/** "$setElementOrder/containers" → "containers", or upstream's format error. */
function extractKey(s: string, prefix: string): string {
  const slash = s.indexOf('/');
  if (slash < 0 || s.slice(0, slash) !== prefix) {
    if (prefix === DELETE_FROM_PRIMITIVE_LIST) throw new SmpError(ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST);
    throw new SmpError(ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST);
  }
  return s.slice(slash + 1);
}

/** $retainKeys: every non-null patch field must be listed; original fields not listed go. */
function applyRetainKeys(original: Obj, patch: Obj): void {
  if (!has(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw new SmpError(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS);
  const keep = new Set(list);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(k)) throw new SmpError(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS);
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

/** Merges each list named by a $setElementOrder directive, then orders it as the directive says. */
function mergeSetElementOrderLists(original: Obj, patch: Obj, schema: PatchSchema | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw errBadArgType('[]interface {}', order);
    const field = extractKey(key, SET_ELEMENT_ORDER);
    const foundOriginal = has(original, field);
    const foundPatch = has(patch, field);
    let originalList: unknown[] = [];
    let patchList: unknown[] = [];
    if (foundOriginal) {
      if (!Array.isArray(original[field])) throw errBadArgType('[]interface {}', original[field]);
      originalList = original[field] as unknown[];
    }
    if (foundPatch) {
      if (!Array.isArray(patch[field])) throw errBadArgType('[]interface {}', patch[field]);
      patchList = patch[field] as unknown[];
    }
    const meta = lookupField(schema, field);
    validatePatchWithSetOrderList(patchList, order, meta.mergeKey);
    let merged: unknown[] | undefined;
    if (foundOriginal && !foundPatch) merged = originalList;
    else if (!foundOriginal && foundPatch) {
      const [v, keep] = removeDirectives(patchList);
      if (!keep) continue;
      merged = v as unknown[];
    }
    // Upstream orders server-only items by the original list as seen through a Go slice that
    // the merge shifted and appended into in place; AliasedList reproduces that view.
    const serverOrder = new AliasedList(originalList);
    if (foundOriginal && foundPatch) merged = mergeSliceHandler([...originalList], patchList, meta, false, serverOrder);
    else if (!foundOriginal && !foundPatch) continue;
    const [patchItems, serverOnly] = partition(merged!, order, meta.mergeKey);
    const kind = sliceElementKind(originalList, patchList);
    original[field] = normalizeElementOrder(patchItems, serverOnly, order, serverOrder.items, meta.mergeKey, kind);
    delete patch[field];
  }
}

/** The patch list's (non-deleted) items must appear in the same relative order as in $setElementOrder. */
function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(patchList)[0] : patchList;
  let pi = 0;
  let oi = 0;
  while (pi < nonDelete.length && oi < order.length) {
    if (isObj(nonDelete[pi]) && has(nonDelete[pi] as Obj, DIRECTIVE)) {
      pi++;
      continue;
    }
    if (mergeKeyValueEqual(nonDelete[pi], order[oi], mergeKey)) pi++;
    oi++;
  }
  if (pi < nonDelete.length && oi >= order.length) {
    throw new SmpError(`The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goFormat(order)}\n`);
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isObj(left)) throw errBadArgType('map[string]interface {}', left);
  if (!isObj(right)) throw errBadArgType('map[string]interface {}', right);
  if (!has(left, mergeKey)) throw errNoMergeKey(left, mergeKey);
  if (!has(right, mergeKey)) throw errNoMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

/** A fixed-length window on a list that removals shift and appends fill, as a Go slice's backing array. */
class AliasedList {
  readonly items: unknown[];
  private len: number;
  constructor(list: unknown[]) {
    this.items = [...list];
    this.len = list.length;
  }
  removeAt(i: number): void {
    for (let j = i; j < this.len - 1; j++) this.items[j] = this.items[j + 1];
    this.len--;
  }
  push(v: unknown): void {
    if (this.len < this.items.length) this.items[this.len] = v;
    this.len++;
  }
}

function mergeSliceHandler(original: unknown[], patch: unknown[], meta: FieldMeta, isDeleteList: boolean, alias?: AliasedList): unknown[] {
  if (meta.strategy === 'merge' || isDeleteList) return mergeSlice(original, patch, meta, isDeleteList, alias);
  // A replaced list is kept as sent, minus what typed decoding upstream would drop.
  return patch.map(sanitize);
}

type ElemKind = 'map' | 'scalar';

/** sliceElementType: all items of both lists must have one type; no lists of lists. */
function sliceElementKind(...lists: unknown[][]): ElemKind {
  let prev: string | undefined;
  for (const l of lists) {
    for (const v of l) {
      const t = kindOf(v) === 'number' ? goType(v) : kindOf(v);
      if (prev === undefined) {
        prev = t;
        if (t === 'slice') throw new SmpError(ERR_NO_LIST_OF_LISTS);
      } else if (prev !== t) {
        throw new SmpError(`list element types are not identical: [${lists.map(goFormat).join(' ')}]`);
      }
    }
  }
  if (prev === undefined) throw new SmpError('no elements in any of the given slices');
  return prev === 'map' ? 'map' : 'scalar';
}

function mergeSlice(original: unknown[], patch: unknown[], meta: FieldMeta, isDeleteList: boolean, alias?: AliasedList): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementKind(original, patch);
  const mergeKey = meta.mergeKey;
  let merged: unknown[];
  if (kind === 'scalar') {
    if (isDeleteList) return original.filter((v) => !patch.includes(v));
    merged = dedupe([...original, ...patch]);
  } else {
    if (!mergeKey) throw new SmpError('cannot merge lists without merge key for struct');
    [original, patch] = mergeSliceWithSpecialElements(original, patch, mergeKey, alias);
    merged = mergeSliceWithoutSpecialElements([...original], patch, mergeKey, itemsOf(meta.schema), alias);
  }
  const [patchItems, serverOnly] = partition(merged, patch, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
}

function dedupe(list: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of list) if (!out.includes(v)) out.push(v);
  return out;
}

/** Handles `$patch: delete` (by merge key) and `$patch: replace` items of a patch list. */
function mergeSliceWithSpecialElements(original: unknown[], patch: unknown[], mergeKey: string, alias?: AliasedList): [unknown[], unknown[]] {
  const plain: unknown[] = [];
  let replace = false;
  for (const v of patch) {
    const m = v as Obj;
    if (!has(m, DIRECTIVE)) {
      plain.push(v);
      continue;
    }
    const d = m[DIRECTIVE];
    if (d === 'delete') {
      if (!has(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
      original = [...original];
      for (let i = findByKey(original, mergeKey, m[mergeKey]); i >= 0; i = findByKey(original, mergeKey, m[mergeKey])) {
        original.splice(i, 1);
        alias?.removeAt(i);
      }
    } else if (d === 'replace') replace = true;
    else if (d === 'merge') throw new SmpError('merging lists cannot yet be specified in the patch');
    else throw errBadPatchType(d, m);
  }
  // With replace, the list becomes exactly the other items of the patch.
  if (replace) return [plain.map(sanitize), []];
  return [original, plain];
}

function mergeSliceWithoutSpecialElements(original: unknown[], patch: unknown[], mergeKey: string, itemSchema: PatchSchema | undefined, alias?: AliasedList): unknown[] {
  for (const v of patch) {
    const m = v as Obj;
    if (!has(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
    const idx = findByKey(original, mergeKey, m[mergeKey]);
    // A new item goes through the merge too, so its own directives and nulls are resolved.
    if (idx >= 0) original[idx] = mergeMap(original[idx] as Obj, m, itemSchema);
    else {
      const fresh = mergeMap({}, m, itemSchema);
      original.push(fresh);
      alias?.push(fresh);
    }
  }
  return original;
}

function findByKey(list: unknown[], key: string, value: unknown): number {
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (!isObj(v)) throw new SmpError(`value for key ${i} is not a map`);
    if (has(v, key) && v[key] === value) return i;
  }
  return -1;
}

/** Splits `list` into items present in `by` (by merge key, or by value) and the rest. */
function partition(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const inPatch: unknown[] = [];
  const serverOnly: unknown[] = [];
  if (!mergeKey) {
    for (const v of list) (by.includes(v) ? inPatch : serverOnly).push(v);
    return [inPatch, serverOnly];
  }
  for (const v of list) {
    if (!isObj(v)) throw errBadArgType('map[string]interface {}', v);
    if (!has(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
    (findByKey(by, mergeKey, v[mergeKey]) >= 0 ? inPatch : serverOnly).push(v);
  }
  return [inPatch, serverOnly];
}

function extractToDeleteItems(list: unknown[]): [unknown[], unknown[]] {
  const nonDelete: unknown[] = [];
  const toDelete: unknown[] = [];
  for (const v of list) {
    if (!isObj(v)) throw errBadArgType('map[string]interface {}', v);
    (v[DIRECTIVE] === 'delete' ? toDelete : nonDelete).push(v);
  }
  return [nonDelete, toDelete];
}

function indexIn(list: unknown[], v: unknown, mergeKey: string, kind: ElemKind): number {
  const val = (x: unknown) => (kind === 'map' ? (isObj(x) ? x[mergeKey] : undefined) : x);
  const target = val(v);
  return list.findIndex((x) => val(x) === target);
}

function sortByOrder(items: unknown[], order: unknown[], mergeKey: string, kind: ElemKind): unknown[] {
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    for (const l of [items, order]) {
      for (const v of l) {
        if (!isObj(v)) throw errBadArgType('map[string]interface {}', v);
        if (!has(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
      }
    }
    [items, toDelete] = extractToDeleteItems(items);
  }
  const keyed = items.map((v, i) => ({ v, i, at: indexIn(order, v, mergeKey, kind) }));
  keyed.sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : 0) || a.i - b.i);
  return [...keyed.map((x) => x.v), ...toDelete];
}

/**
 * Patch items in patch order, server-only items in their old order, interleaved by the old order
 * where both are known; an item new to the list comes before the server-only items that follow it.
 */
function normalizeElementOrder(patchItems: unknown[], serverOnly: unknown[], patchOrder: unknown[], serverOrder: unknown[], mergeKey: string, kind: ElemKind): unknown[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mergeKey, kind);
      const ri = indexIn(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** removeDirectives: drops maps carrying $patch (and list items that are such maps). */
function removeDirectives(v: unknown): [unknown, boolean] {
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const [c, keep] = removeDirectives(x);
      if (keep) out.push(c);
    }
    return [out, true];
  }
  if (isObj(v)) {
    if (has(v, DIRECTIVE)) return [undefined, false];
    for (const k of Object.keys(v)) {
      const [c, keep] = removeDirectives(v[k]);
      if (keep) v[k] = c;
      else delete v[k];
    }
    return [v, true];
  }
  return [v, true];
}

/** discardNullValuesFromPatch: nulls in maps mean nothing where there is nothing to delete. */
function discardNulls(v: unknown): unknown {
  if (Array.isArray(v)) v.forEach(discardNulls);
  else if (isObj(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNulls(v[k]);
    }
  }
  return v;
}

/**
 * What typed decoding upstream does to values kept verbatim from a patch: directive keys are
 * unknown fields and nulls are zero values, so neither survives into the stored object.
 */
function sanitize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sanitize);
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === null || k.startsWith('$')) continue;
      out[k] = sanitize(x);
    }
    return out;
  }
  return v;
}
