// PATCH: JSON patch, merge patch, strategic merge patch and server-side apply, all ending in the
// store's shared update path.

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceDef } from '../../api/resource.js';
import type { Schema } from '../../api/schema.js';
import { StatusError } from '../../machinery/errors.js';
import { applyJsonPatch } from '../../machinery/json-patch.js';
import { applyMergePatch } from '../../machinery/merge-patch.js';
import { strategicMergePatch } from '../../machinery/strategic-merge-patch.js';
import type { RequestContext, WriteOptions } from '../context.js';
import { decodeBody } from '../http/body.js';
import { serverSideApply } from './managed-fields.js';
import type { ResourceStore, WriteResult } from './resource-store.js';

export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_PATCH = 'application/strategic-merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';
export const PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH];

function parsePatchJSON(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw StatusError.badRequest(`error decoding patch: ${(e as Error).message}`);
  }
}

/** Applies a non-apply patch document to `current` and returns the result (a new object). */
export function applyPatchBody(opts: { contentType: string; body: Buffer | unknown; current: KubeObject; schema: Schema | undefined; kind: string }): KubeObject {
  const patch = Buffer.isBuffer(opts.body) ? parsePatchJSON(opts.body) : opts.body;
  let out: unknown;
  switch (opts.contentType) {
    case JSON_PATCH:
      out = applyJsonPatch(opts.current, patch);
      break;
    case MERGE_PATCH:
      out = applyMergePatch(opts.current, patch);
      break;
    case STRATEGIC_PATCH:
      if (!opts.schema) throw StatusError.unsupportedMediaType([JSON_PATCH, MERGE_PATCH, APPLY_PATCH]);
      out = strategicMergePatch(opts.current, patch, opts.schema);
      break;
    default:
      throw StatusError.unsupportedMediaType(PATCH_TYPES);
  }
  if (out === null || typeof out !== 'object' || Array.isArray(out)) {
    throw new StatusError(422, 'Invalid', `the patched object is not a ${opts.kind}`);
  }
  return out as KubeObject;
}

export interface PatchRequest {
  store: ResourceStore;
  def: ResourceDef;
  ns: string | undefined;
  name: string;
  contentType: string;
  body: Buffer;
  opts: WriteOptions;
  ctx: RequestContext;
  force: boolean;
}

export async function patchResource(p: PatchRequest): Promise<WriteResult> {
  const { store, def, ns, name, opts, ctx } = p;
  if (p.contentType === APPLY_PATCH) {
    const applied = decodeBody(p.body, APPLY_PATCH, def.kind);
    if (!applied || typeof applied !== 'object' || Array.isArray(applied)) {
      throw StatusError.badRequest(`the object provided is unrecognized (must be of type ${def.kind})`);
    }
    if (!opts.fieldManager) {
      throw StatusError.invalid('meta.k8s.io', 'PatchOptions', '', [
        { type: 'FieldValueRequired', field: 'fieldManager', hasBadValue: false, detail: 'is required for apply patch' },
      ]);
    }
    const applyOpts: WriteOptions = { ...opts, managedFieldsHandled: true };
    return store.guaranteedUpdate(
      ns,
      name,
      applyOpts,
      ctx,
      (cur) => {
        const cfg = structuredClone(applied) as KubeObject;
        cfg.metadata ??= {};
        if (cfg.metadata.name && cfg.metadata.name !== name) {
          throw StatusError.badRequest(`the name of the object (${cfg.metadata.name}) does not match the name on the URL (${name})`);
        }
        // Typed check of the applied configuration (unknown fields, wrong types).
        store.admitBody(structuredClone(cfg), opts, ctx);
        const out = serverSideApply({ def, live: cur, applied: cfg, manager: opts.fieldManager!, force: p.force, subresource: opts.subresource });
        out.metadata.name = name;
        if (def.namespaced) out.metadata.namespace = ns;
        if (cur) out.metadata.resourceVersion = cfg.metadata.resourceVersion ?? cur.metadata.resourceVersion;
        else delete out.metadata.resourceVersion;
        if (cur && out.metadata.resourceVersion !== cur.metadata.resourceVersion) throw store.conflict(name);
        return out;
      },
      { allowCreate: opts.subresource === '' },
    );
  }
  const patch = parsePatchJSON(p.body);
  let setsRV = false;
  return store.guaranteedUpdate(
    ns,
    name,
    opts,
    ctx,
    (cur) => {
      const current = cur!;
      const patched = applyPatchBody({ contentType: p.contentType, body: patch, current: structuredClone(current), schema: def.schema, kind: def.kind });
      patched.metadata ??= {};
      const rv = patched.metadata.resourceVersion;
      if (rv !== undefined && rv !== null && rv !== current.metadata.resourceVersion) {
        setsRV = true;
        throw store.conflict(name);
      }
      patched.metadata.resourceVersion = current.metadata.resourceVersion;
      if (patched.metadata.name !== name) {
        throw StatusError.badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
      }
      return store.admitBody(patched, opts, ctx);
    },
    { unconditionalRetry: !setsRV },
  );
}
