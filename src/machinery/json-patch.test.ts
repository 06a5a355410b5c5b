import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS } from './json-patch.js';

const doc = { metadata: { name: 'a', labels: { app: 'web' } }, spec: { replicas: 1, containers: [{ name: 'c', image: 'nginx' }] } };

test('applies RFC 6902 operations to a copy', () => {
  const out = applyJsonPatch(doc, [
    { op: 'replace', path: '/spec/replicas', value: 3 },
    { op: 'add', path: '/metadata/labels/tier', value: 'fe' },
    { op: 'remove', path: '/metadata/labels/app' },
    { op: 'add', path: '/spec/containers/-', value: { name: 'd', image: 'busybox' } },
    { op: 'test', path: '/spec/containers/0/image', value: 'nginx' },
    { op: 'copy', from: '/spec/containers/0/image', path: '/metadata/labels/img' },
    { op: 'move', from: '/metadata/labels/img', path: '/metadata/labels/image' },
  ]) as typeof doc & { metadata: { labels: Record<string, string> } };
  assert.equal(out.spec.replicas, 3);
  assert.deepEqual(out.metadata.labels, { tier: 'fe', image: 'nginx' });
  assert.deepEqual(out.spec.containers.map((c) => c.name), ['c', 'd']);
  assert.equal(doc.spec.replicas, 1, 'the input is untouched');
  assert.deepEqual(doc.metadata.labels, { app: 'web' });
  assert.deepEqual(applyJsonPatch(doc, null), doc);
});

test('a patch that does not apply is upstream\'s generic 422', () => {
  for (const patch of [
    [{ op: 'remove', path: '/spec/missing' }],
    [{ op: 'replace', path: '/spec/nope', value: 1 }],
    [{ op: 'add', path: '/no/such/parent', value: 1 }],
    [{ op: 'test', path: '/spec/replicas', value: 2 }],
    [{ op: 'frobnicate', path: '/spec' }],
    [{ op: 'add', value: 1 }],
    [{ op: 'add', path: '/spec/containers/5', value: {} }],
    [{ op: 'move', from: '/nope', path: '/x' }],
    [null],
  ]) {
    assert.throws(
      () => applyJsonPatch(doc, patch),
      (e: unknown) =>
        e instanceof StatusError && e.code === 422 && e.reason === 'Invalid' && e.message === 'the server rejected our request due to an error in our request',
      JSON.stringify(patch),
    );
  }
});

test('a body that is not a list of operations is 400; too many operations is 413', () => {
  assert.throws(() => applyJsonPatch(doc, { op: 'add' }), { code: 400, message: 'json: cannot unmarshal object into Go value of type jsonpatch.Patch' });
  assert.throws(() => applyJsonPatch(doc, 'x'), { code: 400, message: 'json: cannot unmarshal string into Go value of type jsonpatch.Patch' });
  assert.throws(() => applyJsonPatch(doc, [1]), { code: 400, message: 'json: cannot unmarshal number into Go value of type jsonpatch.Operation' });
  const many = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/spec/replicas', value: 1 }));
  assert.throws(() => applyJsonPatch(doc, many), { code: 413, message: 'The allowed maximum operations in a JSON patch is 10000, got 10001' });
});
