// JSON Merge Patch (RFC 7386) as the API server applies it (evanphx/json-patch MergePatch):
// objects merge recursively, null deletes a key, anything else replaces. A patch that is null or
// a scalar is upstream's 400 "Invalid JSON Patch".

import { StatusError } from './errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export const ERR_BAD_JSON_PATCH = 'Invalid JSON Patch';

/** Removes null-valued keys from objects, also inside lists (lists keep their null items). */
function pruneNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === null ? x : pruneNulls(x)));
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = pruneNulls(x);
    return out;
  }
  return v;
}

function mergeObjects(doc: Obj, patch: Obj): Obj {
  const out: Obj = { ...doc };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (cur === undefined || cur === null) out[k] = pruneNulls(v);
    else if (isObj(cur) && isObj(v)) out[k] = mergeObjects(cur, v);
    else if (isObj(cur)) out[k] = structuredClone(v);
    else out[k] = pruneNulls(v);
  }
  return out;
}

/** Returns `doc` merged with `patch`; neither is modified and the result shares nothing with them. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) return pruneNulls(patch);
  if (!isObj(patch)) throw StatusError.badRequest(ERR_BAD_JSON_PATCH);
  if (!isObj(doc)) return pruneNulls(patch);
  // Cloned so the result shares nothing with `doc` (callers treat stored objects as immutable).
  return mergeObjects(structuredClone(doc), patch);
}

/** The merge patch that turns `from` into `to` (objects diffed, lists and scalars replaced). */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isObj(from) || !isObj(to)) return structuredClone(to);
  const out: Obj = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const f = from[k];
    if (isObj(f) && isObj(v)) {
      const sub = createMergePatch(f, v) as Obj;
      if (Object.keys(sub).length) out[k] = sub;
    } else if (JSON.stringify(f) !== JSON.stringify(v)) out[k] = structuredClone(v);
  }
  return out;
}
