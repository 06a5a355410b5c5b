// JSON Patch (RFC 6902) as the API server applies it (handlers/patch.go): a body that is not a
// list of operations is 400, more than 10,000 operations is 413, and an operation that does not
// apply (missing path, failed test, unknown op) is upstream's generic 422, whose message does
// not name the cause; kubectl prints it as "The request is invalid: the server rejected our
// request due to an error in our request".

import fjp from 'fast-json-patch';
import { StatusError } from './errors.js';

const { applyPatch, validate } = fjp;

export const MAX_JSON_PATCH_OPERATIONS = 10000;

export type JsonPatchOperation = fjp.Operation;

/** The 422 upstream builds with NewGenericServerResponse for a patch that does not apply. */
export function patchNotApplicable(): StatusError {
  return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
}

/** Go's json type names, for decode errors like upstream's. */
function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

/** Checks the patch is a list of objects and not too long; 400 or 413 as upstream. */
export function decodeJsonPatch(patch: unknown): JsonPatchOperation[] {
  if (!Array.isArray(patch)) {
    if (patch === null) return [];
    throw StatusError.badRequest(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type jsonpatch.Patch`);
  }
  for (const op of patch) {
    if (op !== null && (typeof op !== 'object' || Array.isArray(op))) {
      throw StatusError.badRequest(`json: cannot unmarshal ${jsonKind(op)} into Go value of type jsonpatch.Operation`);
    }
  }
  if (patch.length > MAX_JSON_PATCH_OPERATIONS) {
    throw StatusError.requestEntityTooLarge(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${patch.length}`);
  }
  return patch as JsonPatchOperation[];
}

/** Applies `patch` to a copy of `doc` and returns the copy; `doc` is not modified. */
export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  const ops = decodeJsonPatch(patch);
  const target = structuredClone(doc);
  try {
    for (const op of ops) if (op === null) throw new Error('null operation');
    const err = validate(ops, target);
    if (err) throw err;
    return applyPatch(target, ops, true, true).newDocument;
  } catch {
    throw patchNotApplicable();
  }
}
