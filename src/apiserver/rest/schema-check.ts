// The decode step for request bodies: structural check against the kind's schema with the
// request's fieldValidation mode, producing upstream's errors and warnings.

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceDef } from '../../api/resource.js';
import { canonicalizeQuantities, structuralCheck } from '../../api/structural-check.js';
import { canonicalQuantity } from '../../machinery/quantity.js';
import { StatusError } from '../../machinery/errors.js';
import type { FieldValidation, RequestContext } from '../context.js';

export function checkBody(obj: KubeObject, def: ResourceDef, mode: FieldValidation, ctx: RequestContext): void {
  const prefix = `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}`;
  const res = structuralCheck(obj, def.schema, { prune: mode !== 'Strict' });
  if (res.typeError) throw StatusError.badRequest(`${prefix}: ${res.typeError}`);
  canonicalizeQuantities(obj, def.schema, (v) => {
    try {
      return canonicalQuantity(v);
    } catch {
      return undefined;
    }
  });
  if (!res.unknownFields.length) return;
  if (mode === 'Strict') {
    throw StatusError.badRequest(`${prefix}: strict decoding error: ${res.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
  }
  if (mode === 'Warn') for (const f of res.unknownFields) ctx.warnings.push(`unknown field "${f}"`);
}
