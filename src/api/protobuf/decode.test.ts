import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from '../../machinery/errors.js';
import { decodeKubernetesProtobuf } from './decode.js';

test('decodes the exact bytes kubectl 1.32 sends for `create configmap x --from-literal=a=b`', () => {
  const hex = '6b3873000a0f0a0276311209436f6e6669674d6170121b0a110a017812001a0022002a0032003800420012060a01611201621a002200';
  const obj = decodeKubernetesProtobuf(Buffer.from(hex, 'hex'));
  assert.deepEqual(obj, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', generation: 0 }, data: { a: 'b' } });
});

test('rejects bodies without the k8s magic and truncated messages', () => {
  assert.throws(() => decodeKubernetesProtobuf(Buffer.from('{"a":1}')), StatusError);
  assert.throws(() => decodeKubernetesProtobuf(Buffer.from('6b3873000a0f0a02', 'hex')), (e: unknown) => e instanceof StatusError && e.code === 400);
});
