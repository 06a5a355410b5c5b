// JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) with upstream's error codes:
// a malformed patch is 400 BadRequest, one that does not apply is 422 (the handler's
// "the server rejected our request due to an error in our request" for kubectl).

import fjp from 'fast-json-patch';
import { StatusError } from './errors.js';

const { applyPatch, validate } = fjp;

export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw StatusError.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  for (const op of patch) {
    if (!op || typeof op !== 'object' || typeof (op as { op?: unknown }).op !== 'string' || typeof (op as { path?: unknown }).path !== 'string') {
      throw StatusError.badRequest(`invalid JSON Patch operation: ${JSON.stringify(op)}`);
    }
  }
  const target = structuredClone(doc);
  try {
    const err = validate(patch as fjp.Operation[], target);
    if (err) throw err;
    return applyPatch(target, patch as fjp.Operation[], true, true).newDocument;
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new StatusError(422, 'Invalid', msg);
  }
}

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? { ...(doc as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = applyMergePatch(base[k], v);
  }
  return base;
}
