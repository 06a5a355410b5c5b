// Strategic merge patch, as the API server applies it (k8s.io/apimachinery strategicpatch):
// lists with a patch merge key merge item by item, primitive lists with strategy "merge" are
// unions, other lists are replaced; directives $patch (replace|delete|merge), $retainKeys,
// $setElementOrder/<field> and $deleteFromPrimitiveList/<field>. The schema is any structural
// schema carrying x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy.

import { StatusError } from './errors.js';

export interface PatchSchema {
  properties?: Record<string, PatchSchema>;
  additionalProperties?: PatchSchema | boolean;
  items?: PatchSchema;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function fieldSchema(s: PatchSchema | undefined, k: string): PatchSchema | undefined {
  if (!s) return undefined;
  if (s.properties?.[k]) return s.properties[k];
  if (isObj(s.additionalProperties)) return s.additionalProperties as PatchSchema;
  return undefined;
}

function strategies(s: PatchSchema | undefined): string[] {
  return (s?.['x-kubernetes-patch-strategy'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

function invalid(msg: string): StatusError {
  return new StatusError(422, 'Invalid', msg);
}

export function strategicMergePatch(original: unknown, patch: unknown, schema: PatchSchema | undefined): unknown {
  if (!isObj(patch)) throw StatusError.badRequest('strategic merge patch must be a JSON object');
  const out = mergeMap(isObj(original) ? original : {}, patch, schema);
  return out === undefined ? {} : out;
}

function mergeMap(original: Obj, patch: Obj, schema: PatchSchema | undefined): Obj | undefined {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const { $patch: _, ...rest } = patch;
    return mergeMap({}, rest, schema);
  }
  if (directive !== undefined && directive !== 'merge') throw invalid(`Unknown patch type: ${String(directive)}`);
  const result: Obj = { ...original };
  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw invalid('$retainKeys must be a list of strings');
    const keep = new Set(retain as string[]);
    for (const k of Object.keys(result)) if (!keep.has(k)) delete result[k];
  }
  // Deletions from primitive lists first, then the field itself, then ordering.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith('$deleteFromPrimitiveList/')) continue;
    const field = k.slice('$deleteFromPrimitiveList/'.length);
    if (!Array.isArray(v)) throw invalid(`${k} must be a list`);
    if (Array.isArray(result[field])) result[field] = (result[field] as unknown[]).filter((x) => !v.some((d) => d === x));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$deleteFromPrimitiveList/') || k.startsWith('$setElementOrder/')) continue;
    if (v === null) {
      delete result[k];
      continue;
    }
    const fs = fieldSchema(schema, k);
    if (isObj(v)) {
      const merged = mergeMap(isObj(result[k]) ? (result[k] as Obj) : {}, v, fs);
      if (merged === undefined) delete result[k];
      else result[k] = merged;
    } else if (Array.isArray(v)) {
      result[k] = mergeList(Array.isArray(result[k]) ? (result[k] as unknown[]) : [], v, fs);
    } else {
      result[k] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith('$setElementOrder/')) continue;
    const field = k.slice('$setElementOrder/'.length);
    if (!Array.isArray(v)) throw invalid(`${k} must be a list`);
    if (Array.isArray(result[field])) result[field] = reorder(result[field] as unknown[], v, fieldSchema(schema, field));
  }
  return result;
}

function mergeList(original: unknown[], patch: unknown[], schema: PatchSchema | undefined): unknown[] {
  const strat = strategies(schema);
  const mergeKey = schema?.['x-kubernetes-patch-merge-key'];
  // A `{$patch: replace}` item replaces the whole list with the other items.
  if (patch.some((x) => isObj(x) && x.$patch === 'replace')) {
    return patch.filter((x) => !(isObj(x) && x.$patch === 'replace')).map((x) => (isObj(x) ? mergeMap({}, x, schema?.items) : x));
  }
  if (!strat.includes('merge')) {
    return patch.map((x) => (isObj(x) ? (mergeMap({}, x, schema?.items) ?? {}) : x));
  }
  if (!mergeKey) {
    // A set of primitives: union, original order first.
    const out = [...original];
    for (const x of patch) if (!out.some((y) => y === x)) out.push(x);
    return out;
  }
  const out = original.map((x) => x);
  for (const item of patch) {
    if (!isObj(item)) throw invalid(`the list item ${JSON.stringify(item)} must be an object with merge key "${mergeKey}"`);
    const keyVal = item[mergeKey];
    const idx = out.findIndex((x) => isObj(x) && x[mergeKey] === keyVal);
    if (item.$patch === 'delete') {
      if (keyVal === undefined) throw invalid(`delete directive without merge key "${mergeKey}"`);
      for (let i = out.length - 1; i >= 0; i--) if (isObj(out[i]) && (out[i] as Obj)[mergeKey] === keyVal) out.splice(i, 1);
      continue;
    }
    if (keyVal === undefined) throw invalid(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
    if (idx >= 0) {
      const merged = mergeMap(out[idx] as Obj, item, schema?.items);
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else {
      const fresh = mergeMap({}, item, schema?.items);
      if (fresh !== undefined) out.push(fresh);
    }
  }
  return out;
}

/** Orders `list` as `order` says; items not named keep their relative order after the named ones. */
function reorder(list: unknown[], order: unknown[], schema: PatchSchema | undefined): unknown[] {
  const mergeKey = schema?.['x-kubernetes-patch-merge-key'];
  const keyOf = (x: unknown) => (mergeKey && isObj(x) ? x[mergeKey] : x);
  const orderKeys = order.map((o) => (mergeKey && isObj(o) ? o[mergeKey] : o));
  const named: unknown[] = [];
  for (const k of orderKeys) {
    const found = list.filter((x) => keyOf(x) === k);
    named.push(...found);
  }
  const rest = list.filter((x) => !orderKeys.includes(keyOf(x)));
  return [...named, ...rest];
}
