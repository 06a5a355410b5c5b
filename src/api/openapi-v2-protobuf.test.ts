import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeOpenAPIV2 } from './openapi-v2-protobuf.js';

// Reads back just enough of the wire format to check field numbers and nesting.
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = () => {
    let r = 0;
    let s = 0;
    for (;;) {
      const b = buf[i++];
      r += (b & 0x7f) * 2 ** s;
      if (!(b & 0x80)) return r;
      s += 7;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    let v: Buffer;
    if (wire === 2) {
      const len = varint();
      v = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 0) {
      const start = i;
      varint();
      v = buf.subarray(start, i);
    } else {
      v = buf.subarray(i, i + 8);
      i += 8;
    }
    const list = out.get(tag >>> 3) ?? [];
    list.push(v);
    out.set(tag >>> 3, list);
  }
  return out;
}

test('encodes the gnostic Document: swagger, info, definitions with properties, refs and extensions', () => {
  const doc = {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: {},
    definitions: {
      'io.k8s.api.apps.v1.Deployment': {
        type: 'object',
        properties: { spec: { $ref: '#/definitions/io.k8s.api.apps.v1.DeploymentSpec' } },
        'x-kubernetes-group-version-kind': [{ group: 'apps', kind: 'Deployment', version: 'v1' }],
      },
    },
  };
  const top = fields(encodeOpenAPIV2(doc));
  assert.equal(top.get(1)![0].toString(), '2.0');
  assert.equal(fields(top.get(2)![0]).get(1)![0].toString(), 'Kubernetes');
  const named = fields(fields(top.get(9)![0]).get(1)![0]);
  assert.equal(named.get(1)![0].toString(), 'io.k8s.api.apps.v1.Deployment');
  const schema = fields(named.get(2)![0]);
  assert.equal(fields(schema.get(22)![0]).get(1)![0].toString(), 'object');
  const prop = fields(fields(schema.get(25)![0]).get(1)![0]);
  assert.equal(prop.get(1)![0].toString(), 'spec');
  assert.equal(fields(prop.get(2)![0]).get(1)![0].toString(), '#/definitions/io.k8s.api.apps.v1.DeploymentSpec');
  const ext = fields(schema.get(31)![0]);
  assert.equal(ext.get(1)![0].toString(), 'x-kubernetes-group-version-kind');
  assert.match(fields(ext.get(2)![0]).get(2)![0].toString(), /group: apps/);
});
