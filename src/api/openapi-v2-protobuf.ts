// /openapi/v2 in protobuf (the gnostic openapi_v2.Document message), which kubectl 1.27-1.28
// `explain` and client-go's OpenAPISchema() ask for. Encodes the JSON document built by
// openapi-builder.ts; vendor extensions and defaults travel as YAML in `Any.yaml`, as upstream.

import { stringify as toYaml } from 'yaml';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A minimal protobuf writer: varints, strings, length-delimited sub-messages. */
class Writer {
  private readonly parts: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varint(n: number): void {
    const bytes: number[] = [];
    let v = BigInt.asUintN(64, BigInt(n));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v) byte |= 0x80;
      bytes.push(byte);
    } while (v);
    this.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  string(field: number, s: string | undefined): this {
    if (s === undefined || s === '') return this;
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  bool(field: number, v: boolean | undefined): this {
    if (!v) return this;
    this.tag(field, 0);
    this.varint(1);
    return this;
  }

  int(field: number, v: number | undefined): this {
    if (v === undefined) return this;
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  double(field: number, v: number | undefined): this {
    if (v === undefined) return this;
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.push(b);
    return this;
  }

  message(field: number, m: Writer | undefined): this {
    if (!m) return this;
    const b = m.finish();
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

const any = (value: unknown) => new Writer().string(2, toYaml(value).trimEnd());
const namedAny = (name: string, value: unknown) => new Writer().string(1, name).message(2, any(value));

function vendorExtensions(w: Writer, field: number, obj: Json): void {
  for (const [k, v] of Object.entries(obj)) if (k.startsWith('x-')) w.message(field, namedAny(k, v));
}

function schema(s: Json): Writer {
  const w = new Writer();
  w.string(1, s.$ref).string(2, s.format).string(4, s.description);
  if (s.default !== undefined) w.message(5, any(s.default));
  w.double(7, s.maximum).double(9, s.minimum);
  w.int(11, s.maxLength).int(12, s.minLength).string(13, s.pattern).int(14, s.maxItems).int(15, s.minItems).bool(16, s.uniqueItems);
  for (const r of s.required ?? []) w.string(19, r);
  for (const e of s.enum ?? []) w.message(20, any(e));
  if (s.additionalProperties !== undefined) {
    const ap = new Writer();
    if (typeof s.additionalProperties === 'object') ap.message(1, schema(s.additionalProperties));
    else ap.bool(2, s.additionalProperties);
    w.message(21, ap);
  }
  if (s.type) {
    const t = new Writer();
    for (const v of Array.isArray(s.type) ? s.type : [s.type]) t.string(1, v);
    w.message(22, t);
  }
  if (s.items) w.message(23, new Writer().message(1, schema(s.items)));
  for (const a of s.allOf ?? []) w.message(24, schema(a));
  if (s.properties) {
    const props = new Writer();
    for (const [name, ps] of Object.entries(s.properties as Json)) props.message(1, new Writer().string(1, name).message(2, schema(ps)));
    w.message(25, props);
  }
  vendorExtensions(w, 31, s);
  return w;
}

function parameter(p: Json): Writer {
  if (p.in === 'body') {
    const body = new Writer().string(2, p.name).string(3, p.in).bool(4, p.required).message(5, p.schema ? schema(p.schema) : undefined);
    return new Writer().message(1, new Writer().message(1, body));
  }
  const q = new Writer().bool(1, p.required).string(2, p.in).string(4, p.name).string(6, p.type).bool(20, p.uniqueItems);
  return new Writer().message(1, new Writer().message(2, new Writer().message(3, q)));
}

function operation(op: Json): Writer {
  const w = new Writer().string(5, op.operationId);
  for (const p of op.parameters ?? []) w.message(8, parameter(p));
  const responses = new Writer();
  for (const [code, r] of Object.entries((op.responses ?? {}) as Json)) {
    const resp = new Writer().string(1, r.description).message(2, r.schema ? new Writer().message(1, schema(r.schema)) : undefined);
    responses.message(1, new Writer().string(1, code).message(2, new Writer().message(1, resp)));
  }
  w.message(9, responses);
  vendorExtensions(w, 13, op);
  return w;
}

const PATH_OPS: Record<string, number> = { get: 2, put: 3, post: 4, delete: 5, options: 6, head: 7, patch: 8 };

export function encodeOpenAPIV2(doc: Json): Buffer {
  const w = new Writer().string(1, doc.swagger);
  w.message(2, new Writer().string(1, doc.info?.title).string(2, doc.info?.version));
  const paths = new Writer();
  for (const [p, item] of Object.entries((doc.paths ?? {}) as Json)) {
    const pi = new Writer();
    for (const [verb, op] of Object.entries(item as Json)) if (PATH_OPS[verb]) pi.message(PATH_OPS[verb], operation(op));
    paths.message(2, new Writer().string(1, p).message(2, pi));
  }
  w.message(8, paths);
  const defs = new Writer();
  for (const [name, s] of Object.entries((doc.definitions ?? {}) as Json)) defs.message(1, new Writer().string(1, name).message(2, schema(s)));
  w.message(9, defs);
  return w.finish();
}
