import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMergePatch, createMergePatch } from './merge-patch.js';

test('RFC 7386: objects merge, null deletes, lists and scalars replace', () => {
  const doc = { a: 'b', c: { d: 'e', f: 'g' }, list: [1, 2], keep: true };
  const out = applyMergePatch(doc, { a: 'z', c: { f: null, h: { i: null, j: 1 } }, list: [3], keep: null, n: null });
  assert.deepEqual(out, { a: 'z', c: { d: 'e', h: { j: 1 } }, list: [3] });
  assert.deepEqual(doc, { a: 'b', c: { d: 'e', f: 'g' }, list: [1, 2], keep: true }, 'input untouched');
  (out as { c: { d: string } }).c.d = 'changed';
  assert.equal(doc.c.d, 'e', 'the result shares nothing with the input');
});

test('RFC 7386 appendix examples', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [doc, patch, want] of cases) assert.deepEqual(applyMergePatch(doc, patch), want, JSON.stringify([doc, patch]));
});

test('a null or scalar patch is a 400', () => {
  assert.throws(() => applyMergePatch({}, null), { code: 400, message: 'Invalid JSON Patch' });
  assert.throws(() => applyMergePatch({}, 'x'), { code: 400, message: 'Invalid JSON Patch' });
});

test('createMergePatch round-trips', () => {
  const from = { a: 1, b: { c: 2, d: 3 }, l: [1] };
  const to = { a: 1, b: { c: 5 }, l: [1, 2], n: 'x' };
  const p = createMergePatch(from, to);
  assert.deepEqual(p, { b: { d: null, c: 5 }, l: [1, 2], n: 'x' });
  assert.deepEqual(applyMergePatch(from, p), to);
});
