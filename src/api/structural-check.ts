// Checks an object against its structural schema the way the API server's decoder does for
// built-in kinds: wrong types are decode errors (400, Go's "cannot unmarshal" wording), unknown
// fields are reported (fieldValidation Strict → 400, Warn → warning, Ignore → silent) and pruned,
// and nulls of known fields are dropped as a Go decode/encode round trip would.

import type { Schema } from './schema.js';

export interface StructuralResult {
  /** Paths of unknown fields, upstream's format: `spec.template.spec.containers[0].imagee`. */
  unknownFields: string[];
  /** The first type error, as Go's json decoder words it; undefined when none. */
  typeError?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

function goType(s: Schema): string {
  switch (s.type) {
    case 'integer':
      return s.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    case 'array':
      return `[]${s.items ? goType(s.items) : 'interface {}'}`;
    case 'object':
      if (s['x-k8ts-name']) return `v1.${s['x-k8ts-name'].split('.').pop()}`;
      if (s.additionalProperties && typeof s.additionalProperties === 'object') return `map[string]${goType(s.additionalProperties)}`;
      return 'map[string]interface {}';
    default:
      return 'interface {}';
  }
}

interface Walk {
  unknown: string[];
  typeError?: string;
  prune: boolean;
}

function typeErr(w: Walk, v: unknown, s: Schema, structName: string, goPath: string): void {
  if (w.typeError) return;
  const what = typeof v === 'number' ? `number ${v}` : jsonType(v);
  w.typeError = `json: cannot unmarshal ${what} into Go struct field ${structName}.${goPath} of type ${goType(s)}`;
}

function walk(v: unknown, s: Schema | undefined, path: string, goPath: string, structName: string, w: Walk): void {
  if (!s || s['x-kubernetes-preserve-unknown-fields'] && !s.properties) return;
  if (v === null || v === undefined) return;
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v === 'number' && Number.isInteger(v)) return;
    if (typeof v === 'string') return;
    if (s.format === 'quantity' && typeof v === 'number') return;
    typeErr(w, v, { type: 'string' }, structName, goPath);
    return;
  }
  switch (s.type) {
    case 'string':
      if (typeof v !== 'string') typeErr(w, v, s, structName, goPath);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') typeErr(w, v, s, structName, goPath);
      return;
    case 'integer': {
      const ok = typeof v === 'number' && Number.isInteger(v) && (s.format !== 'int32' || (v >= -2147483648 && v <= 2147483647));
      if (!ok) typeErr(w, v, s, structName, goPath);
      return;
    }
    case 'number':
      if (typeof v !== 'number') typeErr(w, v, s, structName, goPath);
      return;
    case 'array': {
      if (!Array.isArray(v)) {
        typeErr(w, v, s, structName, goPath);
        return;
      }
      for (let i = 0; i < v.length; i++) walk(v[i], s.items, `${path}[${i}]`, goPath, structName, w);
      return;
    }
    case 'object': {
      if (!isObj(v)) {
        typeErr(w, v, s, structName, goPath);
        return;
      }
      const name = s['x-k8ts-name'] ? s['x-k8ts-name'].split('.').pop()! : structName;
      if (s.properties) {
        for (const k of Object.keys(v)) {
          const child = s.properties[k];
          const childPath = path ? `${path}.${k}` : k;
          const childGo = goPath ? `${goPath}.${k}` : k;
          if (child) {
            if (v[k] === null && w.prune) delete v[k];
            else walk(v[k], child, childPath, childGo, name, w);
          } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
            walk(v[k], s.additionalProperties, childPath, childGo, name, w);
          } else if (!s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties !== true) {
            w.unknown.push(childPath);
            if (w.prune) delete v[k];
          }
        }
      } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        for (const k of Object.keys(v)) walk(v[k], s.additionalProperties, path ? `${path}[${k}]` : k, goPath, structName, w);
      }
      return;
    }
    default:
      return;
  }
}

/**
 * Walks `obj` against `schema`. With `prune`, unknown fields and nulls of known fields are
 * removed in place (what Warn and Ignore do; Strict rejects before anything is stored).
 */
export function structuralCheck(obj: unknown, schema: Schema, opts: { prune: boolean }): StructuralResult {
  const w: Walk = { unknown: [], prune: opts.prune };
  const rootName = schema['x-k8ts-name']?.split('.').pop() ?? '';
  walkRoot(obj, schema, rootName, w);
  return { unknownFields: w.unknown, typeError: w.typeError };
}

function walkRoot(obj: unknown, schema: Schema, rootName: string, w: Walk): void {
  if (!isObj(obj) || !schema.properties) return;
  for (const k of Object.keys(obj)) {
    const child = schema.properties[k];
    if (!child) {
      if (!schema['x-kubernetes-preserve-unknown-fields']) {
        w.unknown.push(k);
        if (w.prune) delete obj[k];
      }
      continue;
    }
    if (obj[k] === null && w.prune) {
      delete obj[k];
      continue;
    }
    walk(obj[k], child, k, k, rootName, w);
  }
}

/**
 * Rewrites every resource quantity in `obj` to its canonical string, as upstream stores them
 * (`1000m` → `1`, `1024Mi` → `1Gi`, a number → a string). Invalid quantities are left for
 * validation to report.
 */
export function canonicalizeQuantities(obj: unknown, schema: Schema | undefined, toCanonical: (v: unknown) => string | undefined): void {
  if (!schema || obj === null || typeof obj !== 'object') return;
  const visit = (parent: Record<string, unknown> | unknown[], key: string | number, s: Schema | undefined) => {
    if (!s) return;
    const v = (parent as Record<string | number, unknown>)[key];
    if (s['x-kubernetes-int-or-string'] && s.format === 'quantity') {
      const c = toCanonical(v);
      if (c !== undefined) (parent as Record<string | number, unknown>)[key] = c;
      return;
    }
    canonicalizeQuantities(v, s, toCanonical);
  };
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) visit(obj, i, schema.items);
    return;
  }
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const s = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    visit(o, k, s);
  }
}
