// Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`): the
// "k8s\0" magic, a runtime.Unknown envelope with the TypeMeta, and the object's message, read
// with the field tables in fields.ts. kubectl's typed clients (create configmap, create
// deployment, ...) send this; everything after decoding is the same JSON-shaped object.

import { StatusError } from '../../machinery/errors.js';
import { PROTO_MESSAGES } from './fields.js';

interface Field {
  name: string;
  repeated: boolean;
  map: boolean;
  /** 's' | 'i' | 'b' | 'y' | 'd' or a message name. */
  type: string;
}

const tables = new Map<string, Map<number, Field>>();

function table(msg: string): Map<number, Field> | undefined {
  let t = tables.get(msg);
  if (t) return t;
  const spec = PROTO_MESSAGES[msg];
  if (spec === undefined) return undefined;
  t = new Map();
  for (const part of spec.split(';').filter(Boolean)) {
    const m = /^(\w+)=(\d+)(\*?)(M?)(.*)$/.exec(part);
    if (!m) continue;
    const type = m[5].startsWith('m:') ? m[5].slice(2) : m[5];
    t.set(Number(m[2]), { name: m[1], repeated: m[3] === '*', map: m[4] === 'M', type });
  }
  tables.set(msg, t);
  return t;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
    return result;
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw new Error('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function toInt(v: bigint): number {
  const signed = BigInt.asIntN(64, v);
  return Number(signed);
}

function rfc3339(seconds: number, nanos: number, micro: boolean): string | undefined {
  if (!seconds && !nanos) return undefined;
  const d = new Date(seconds * 1000);
  const base = d.toISOString().slice(0, 19);
  if (micro) return `${base}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
  return `${base}Z`;
}

/** Decodes one value of a non-scalar message type, with Kubernetes' special encodings. */
function decodeSpecial(type: string, buf: Buffer): unknown {
  switch (type) {
    case 'meta.Time':
    case 'meta.MicroTime': {
      const m = decodeMessage(buf, 'meta.Time') as { seconds?: number; nanos?: number };
      return rfc3339(m.seconds ?? 0, m.nanos ?? 0, type === 'meta.MicroTime');
    }
    case 'intstr.IntOrString': {
      const m = decodeMessage(buf, type) as { type?: number; intVal?: number; strVal?: string };
      return m.type === 1 ? (m.strVal ?? '') : (m.intVal ?? 0);
    }
    case 'resource.Quantity':
      return (decodeMessage(buf, type) as { string?: string }).string ?? '0';
    case 'runtime.RawExtension':
    case 'meta.FieldsV1': {
      const r = new Reader(buf);
      while (!r.done) {
        const tag = Number(r.varint());
        if (tag >> 3 === 1 && (tag & 7) === 2) {
          const raw = r.bytes();
          return raw.length ? JSON.parse(raw.toString('utf8')) : {};
        }
        r.skip(tag & 7);
      }
      return {};
    }
    case 'meta.Duration': {
      const m = decodeMessage(buf, type) as { duration?: number };
      return `${(m.duration ?? 0) / 1e9}s`;
    }
    default:
      return undefined;
  }
}

/**
 * Go structs embedded with `json:",inline"`: protobuf nests them under a field, JSON flattens
 * their fields into the parent (Volume.volumeSource, Probe.handler, IngressRule.ingressRuleValue...).
 */
const INLINE_TYPES = new Set([
  'core.v1.VolumeSource',
  'core.v1.PersistentVolumeSource',
  'core.v1.ProbeHandler',
  'core.v1.EphemeralContainerCommon',
  'core.v1.LocalObjectReference',
  'networking.v1.IngressRuleValue',
]);

const SPECIAL = new Set(['meta.Time', 'meta.MicroTime', 'intstr.IntOrString', 'resource.Quantity', 'runtime.RawExtension', 'meta.FieldsV1', 'meta.Duration']);

function scalar(type: string, r: Reader, wire: number): unknown {
  switch (type) {
    case 's':
      return r.bytes().toString('utf8');
    case 'y':
      return r.bytes().toString('base64');
    case 'b':
      return r.varint() !== 0n;
    case 'i':
      return toInt(r.varint());
    case 'd': {
      if (wire !== 1) throw new Error('double with wrong wire type');
      const v = r.buf.readDoubleLE(r.pos);
      r.pos += 8;
      return v;
    }
    default:
      throw new Error(`unknown scalar ${type}`);
  }
}

function value(type: string, r: Reader, wire: number): unknown {
  if (type.length === 1) return scalar(type, r, wire);
  const buf = r.bytes();
  if (SPECIAL.has(type)) return decodeSpecial(type, buf);
  return decodeMessage(buf, type);
}

function decodeMessage(buf: Buffer, msg: string): Record<string, unknown> {
  const t = table(msg);
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (!r.done) {
    const tag = Number(r.varint());
    const num = tag >>> 3;
    const wire = tag & 7;
    const f = t?.get(num);
    if (!f) {
      r.skip(wire);
      continue;
    }
    if (f.map) {
      const entry = new Reader(r.bytes());
      let key = '';
      let val: unknown;
      while (!entry.done) {
        const et = Number(entry.varint());
        if (et >>> 3 === 1) key = entry.bytes().toString('utf8');
        else if (et >>> 3 === 2) val = value(f.type, entry, et & 7);
        else entry.skip(et & 7);
      }
      const m = (out[f.name] ??= {}) as Record<string, unknown>;
      m[key] = val ?? (f.type === 's' ? '' : f.type === 'y' ? '' : val);
      continue;
    }
    if (f.repeated) {
      const list = (out[f.name] ??= []) as unknown[];
      if (wire === 2 && (f.type === 'i' || f.type === 'b')) {
        // Packed scalars.
        const pr = new Reader(r.bytes());
        while (!pr.done) list.push(scalar(f.type, pr, 0));
      } else list.push(value(f.type, r, wire));
      continue;
    }
    const v = value(f.type, r, wire);
    // Go's JSON omits empty strings and zero times; the protobuf form carries them.
    if (v === '' || v === undefined) continue;
    if (INLINE_TYPES.has(f.type) && (f.name !== 'localObjectReference' || f.type === 'core.v1.LocalObjectReference') && v && typeof v === 'object') {
      Object.assign(out, v);
      continue;
    }
    out[f.name] = v;
  }
  return out;
}

const GROUP_PACKAGES: Record<string, string> = {
  '': 'core',
  apps: 'apps',
  batch: 'batch',
  autoscaling: 'autoscaling',
  'networking.k8s.io': 'networking',
  policy: 'policy',
  'rbac.authorization.k8s.io': 'rbac',
  'coordination.k8s.io': 'coordination',
  'discovery.k8s.io': 'discovery',
  'events.k8s.io': 'events',
  'storage.k8s.io': 'storage',
  'scheduling.k8s.io': 'scheduling',
  'meta.k8s.io': 'meta',
};

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes a protobuf-encoded object; throws a 400/415 StatusError when it cannot. */
export function decodeKubernetesProtobuf(buf: Buffer): Record<string, unknown> {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) throw StatusError.badRequest('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
  try {
    const env = decodeMessage(buf.subarray(4), 'runtime.Unknown') as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: string };
    const apiVersion = env.typeMeta?.apiVersion ?? '';
    const kind = env.typeMeta?.kind ?? '';
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const pkg = GROUP_PACKAGES[group];
    const msg = `${pkg}.${version}.${kind}`;
    if (!pkg || !PROTO_MESSAGES[msg]) throw StatusError.unsupportedMediaType(['application/json', 'application/yaml']);
    const obj = decodeMessage(Buffer.from(env.raw ?? '', 'base64'), msg);
    return { apiVersion, kind, ...obj };
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw StatusError.badRequest(`unable to decode protobuf body: ${(e as Error).message}`);
  }
}
