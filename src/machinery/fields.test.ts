import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { escapeFieldValue, fieldSelectorFromSet, parseFieldSelector, unescapeFieldValue } from './fields.js';

const obj: Record<string, string> = { 'metadata.name': 'a,b', 'status.phase': 'Pending', 'spec.nodeName': '' };
const get = (f: string) => obj[f];

test('=, == and != with escaped values', () => {
  const f = parseFieldSelector('status.phase!=Running,metadata.name=a\\,b');
  assert.deepEqual(f.requirements, [
    { field: 'metadata.name', operator: '=', value: 'a,b' },
    { field: 'status.phase', operator: '!=', value: 'Running' },
  ]);
  assert.equal(f.matches(get), true);
  assert.equal(parseFieldSelector('status.phase==Pending').matches(get), true);
  assert.equal(parseFieldSelector('status.phase!=Pending').matches(get), false);
  // A missing field reads as "": spec.nodeName= selects unscheduled pods.
  assert.equal(parseFieldSelector('spec.nodeName=').matches(get), true);
  assert.equal(parseFieldSelector('spec.unknown=').matches(get), true);
  assert.equal(parseFieldSelector('').empty(), true);
  assert.equal(parseFieldSelector('a=b,').requirements.length, 1);
});

test('canonical string form escapes and sorts terms', () => {
  assert.equal(parseFieldSelector('b==x,a=1\\=2').toString(), 'a=1\\=2,b=x');
  assert.equal(fieldSelectorFromSet({ 'metadata.name': 'x' }).toString(), 'metadata.name=x');
  assert.equal(escapeFieldValue('a\\b,c=d'), 'a\\\\b\\,c\\=d');
  assert.equal(unescapeFieldValue('a\\\\b\\,c\\=d'), 'a\\b,c=d');
});

test('malformed selectors are 400s with upstream messages', () => {
  const err = (s: string) => {
    try {
      parseFieldSelector(s);
    } catch (e) {
      assert.ok(e instanceof StatusError && e.code === 400);
      return e.message;
    }
    assert.fail(s);
  };
  assert.equal(err('nooperator'), "invalid selector: 'nooperator'; can't understand 'nooperator'");
  assert.equal(err('a=b=c'), 'invalid field selector: unescaped character in value: 61');
  assert.equal(err('a=b\\x'), 'invalid field selector: invalid escape sequence: \\x');
  assert.equal(err('a=b\\'), 'invalid field selector: invalid escape sequence: \\');
});

test('exact matches and unsupported fields', () => {
  const f = parseFieldSelector('metadata.name=x,spec.foo!=y');
  assert.equal(f.requiresExactMatch('metadata.name'), 'x');
  assert.equal(f.requiresExactMatch('spec.foo'), undefined);
  assert.throws(() => f.assertSupported((k) => k.startsWith('metadata.')), { code: 400, message: 'field label not supported: spec.foo' });
  assert.doesNotThrow(() => f.assertSupported(() => true));
});
