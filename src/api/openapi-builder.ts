// /openapi/v2 and /openapi/v3 documents built from the resources' schemas: named schemas become
// definitions referenced with $ref; every resource gets paths whose operations carry the GVK and
// the dryRun / fieldManager / fieldValidation parameters kubectl checks for server support.

import { createHash } from 'node:crypto';
import { apiVersionOf, type ResourceDef } from './resource.js';
import type { Schema } from './schema.js';

type Json = Record<string, unknown>;

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';

/** Walks a schema tree, collecting named schemas and emitting refs for them. */
class Collector {
  readonly defs = new Map<string, Json>();

  constructor(private readonly refPrefix: string, private readonly v2: boolean) {}

  ref(name: string): Json {
    return { $ref: `${this.refPrefix}${name}` };
  }

  /** The JSON form of `s` where it appears as a property (named ones as refs). */
  use(s: Schema): Json {
    const name = s['x-k8ts-name'];
    if (name) {
      this.define(name, s);
      if (this.v2) return this.ref(name);
      const wrapped: Json = { allOf: [this.ref(name)] };
      if (s.default !== undefined) wrapped.default = s.default;
      return wrapped;
    }
    return this.convert(s);
  }

  define(name: string, s: Schema): void {
    if (this.defs.has(name)) return;
    this.defs.set(name, {});
    this.defs.set(name, this.convert(s));
  }

  private convert(s: Schema): Json {
    const out: Json = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === 'x-k8ts-name' || k === 'properties' || k === 'items' || k === 'additionalProperties') continue;
      out[k] = v;
    }
    if (s['x-kubernetes-int-or-string']) {
      if (this.v2) {
        out.type = 'string';
        out.format = s.format === 'quantity' ? undefined : 'int-or-string';
        if (out.format === undefined) delete out.format;
        delete out['x-kubernetes-int-or-string'];
      } else {
        out.type = 'string';
        if (s.format === 'quantity') delete out.format;
      }
    }
    if (s['x-kubernetes-preserve-unknown-fields'] && !s.type) out.type = 'object';
    if (s.properties) {
      const props: Json = {};
      for (const [k, v] of Object.entries(s.properties)) props[k] = this.use(v);
      out.properties = props;
    }
    if (s.items) out.items = this.use(s.items);
    if (s.additionalProperties !== undefined) out.additionalProperties = typeof s.additionalProperties === 'object' ? this.use(s.additionalProperties) : s.additionalProperties;
    return out;
  }
}

function opId(verb: string, def: ResourceDef, namespaced: boolean, suffix = ''): string {
  const g = def.group ? def.group.split('.')[0].replace(/-/g, '') : 'core';
  const group = g.charAt(0).toUpperCase() + g.slice(1);
  const ver = def.version.charAt(0).toUpperCase() + def.version.slice(1);
  return `${verb}${group}${ver}${namespaced ? 'Namespaced' : ''}${def.kind}${suffix}`;
}

const q = (name: string, type = 'string', v2 = false): Json => (v2 ? { name, in: 'query', type, uniqueItems: true } : { name, in: 'query', schema: { type, uniqueItems: true } });

function writeParams(v2: boolean, patch: boolean): Json[] {
  const ps = [q('dryRun', 'string', v2), q('fieldManager', 'string', v2), q('fieldValidation', 'string', v2)];
  if (patch) ps.push(q('force', 'boolean', v2));
  return ps;
}

function listParams(v2: boolean): Json[] {
  return ['allowWatchBookmarks:boolean', 'continue', 'fieldSelector', 'labelSelector', 'limit:integer', 'resourceVersion', 'resourceVersionMatch', 'sendInitialEvents:boolean', 'timeoutSeconds:integer', 'watch:boolean'].map((p) => {
    const [n, t] = p.split(':');
    return q(n, t ?? 'string', v2);
  });
}

function paths(def: ResourceDef, c: Collector, v2: boolean): Json {
  const base = def.group ? `/apis/${def.group}/${def.version}` : `/api/${def.version}`;
  const coll = def.namespaced ? `${base}/namespaces/{namespace}/${def.plural}` : `${base}/${def.plural}`;
  const gvk = { group: def.group, version: def.version, kind: def.kind };
  const name = def.schema['x-k8ts-name']!;
  const ref = c.ref(name);
  const listRef = c.ref(`${name}List`);
  const body = (schema: Json): Json => (v2 ? { parameters: [{ name: 'body', in: 'body', required: true, schema }] } : { requestBody: { content: { '*/*': { schema } }, required: true } });
  const resp = (schema: Json): Json => (v2 ? { 200: { description: 'OK', schema } } : { 200: { description: 'OK', content: { 'application/json': { schema } } } });
  const op = (action: string, id: string, extra: Json): Json => ({ operationId: id, 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, ...extra });
  const ns = def.namespaced;
  const patchSchema = v2 ? { type: 'object' } : { $ref: c.ref(`${META}Patch`).$ref };
  const bodyParams = (extra: Json, params: Json[]) => {
    const b = body(extra) as Json;
    if (v2) return { parameters: [...(b.parameters as Json[]), ...params] };
    return { ...b, parameters: params };
  };
  const out: Json = {
    [coll]: {
      get: op('list', opId('list', def, ns), { parameters: listParams(v2), responses: resp(listRef) }),
      post: op('post', opId('create', def, ns), { ...bodyParams(ref, writeParams(v2, false)), responses: resp(ref) }),
      delete: op('deletecollection', opId('deleteCollection', def, ns), { parameters: listParams(v2), responses: resp(c.ref(`${META}Status`)) }),
    },
    [`${coll}/{name}`]: {
      get: op('get', opId('read', def, ns), { responses: resp(ref) }),
      put: op('put', opId('replace', def, ns), { ...bodyParams(ref, writeParams(v2, false)), responses: resp(ref) }),
      patch: op('patch', opId('patch', def, ns), { ...bodyParams(patchSchema, writeParams(v2, true)), responses: resp(ref) }),
      delete: op('delete', opId('delete', def, ns), { parameters: [q('dryRun', 'string', v2), q('gracePeriodSeconds', 'integer', v2), q('propagationPolicy', 'string', v2)], responses: resp(c.ref(`${META}Status`)) }),
    },
  };
  if (def.verbs) {
    // Serve only the declared verbs (e.g. bindings: create).
    const verbOf: Record<string, string> = { list: 'list', post: 'create', deletecollection: 'deletecollection', get: 'get', put: 'update', patch: 'patch', delete: 'delete' };
    for (const [path, ops] of Object.entries(out) as [string, Json][]) {
      for (const [method, o] of Object.entries(ops)) {
        if (!def.verbs.includes(verbOf[(o as Json)['x-kubernetes-action'] as string] ?? method)) delete ops[method];
      }
      if (!Object.keys(ops).length) delete out[path];
    }
  }
  if (def.subresources?.status) {
    out[`${coll}/{name}/status`] = {
      get: op('get', opId('read', def, ns, 'Status'), { responses: resp(ref) }),
      put: op('put', opId('replace', def, ns, 'Status'), { ...bodyParams(ref, writeParams(v2, false)), responses: resp(ref) }),
      patch: op('patch', opId('patch', def, ns, 'Status'), { ...bodyParams(patchSchema, writeParams(v2, true)), responses: resp(ref) }),
    };
  }
  return out;
}

const metaSchemas: Record<string, Json> = {
  Status: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, code: { type: 'integer', format: 'int32' }, message: { type: 'string' }, reason: { type: 'string' }, status: { type: 'string' } }, 'x-kubernetes-group-version-kind': [{ group: '', kind: 'Status', version: 'v1' }] },
  Patch: { type: 'object' },
  DeleteOptions: { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, dryRun: { type: 'array', items: { type: 'string' } }, gracePeriodSeconds: { type: 'integer', format: 'int64' }, propagationPolicy: { type: 'string' } } },
};

function listSchema(def: ResourceDef, c: Collector): Json {
  const name = def.schema['x-k8ts-name']!;
  return {
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: { type: 'string' },
      items: { type: 'array', items: c.ref(name) },
      kind: { type: 'string' },
      metadata: c.ref(`${META}ListMeta`),
    },
    'x-kubernetes-group-version-kind': [{ group: def.group, version: def.version, kind: `${def.kind}List` }],
  };
}

function collect(defs: ResourceDef[], c: Collector, v2: boolean): Json {
  const allPaths: Json = {};
  for (const def of defs) {
    const name = def.schema['x-k8ts-name'];
    if (!name) continue;
    c.define(name, def.schema);
    c.defs.set(`${name}List`, listSchema(def, c));
    Object.assign(allPaths, paths(def, c, v2));
  }
  for (const [k, v] of Object.entries(metaSchemas)) if (!c.defs.has(`${META}${k}`)) c.defs.set(`${META}${k}`, v);
  if (!c.defs.has(`${META}ListMeta`)) c.defs.set(`${META}ListMeta`, { type: 'object', properties: { continue: { type: 'string' }, resourceVersion: { type: 'string' } } });
  return allPaths;
}

export function buildOpenAPIV2(defs: ResourceDef[], version: string): Json {
  const c = new Collector('#/definitions/', true);
  const p = collect(defs, c, true);
  return { swagger: '2.0', info: { title: 'Kubernetes', version }, paths: p, definitions: Object.fromEntries([...c.defs.entries()].sort()) };
}

/** The path key of a group-version in /openapi/v3: "api/v1" or "apis/apps/v1". */
export function gvPath(def: { group: string; version: string }): string {
  return def.group ? `apis/${def.group}/${def.version}` : `api/${def.version}`;
}

export interface OpenAPIV3 {
  /** group-version path → document and its hash. */
  docs: Map<string, { json: string; hash: string }>;
}

export function buildOpenAPIV3(defs: ResourceDef[], version: string): OpenAPIV3 {
  const byGV = new Map<string, ResourceDef[]>();
  for (const d of defs) {
    const k = gvPath(d);
    if (!byGV.has(k)) byGV.set(k, []);
    byGV.get(k)!.push(d);
  }
  const docs = new Map<string, { json: string; hash: string }>();
  for (const [gv, list] of byGV) {
    const c = new Collector('#/components/schemas/', false);
    const p = collect(list, c, false);
    const doc = { openapi: '3.0.0', info: { title: 'Kubernetes', version }, paths: p, components: { schemas: Object.fromEntries([...c.defs.entries()].sort()) } };
    const json = JSON.stringify(doc);
    docs.set(gv, { json, hash: createHash('sha512').update(json).digest('hex').slice(0, 128).toUpperCase() });
  }
  return { docs };
}

export { apiVersionOf };
