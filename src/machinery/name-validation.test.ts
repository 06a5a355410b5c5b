import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrorMessage } from './field-errors.js';
import { generateName, isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue, validateObjectMeta, validateObjectMetaUpdate } from './name-validation.js';

test('DNS-1123 names with upstream messages', () => {
  assert.deepEqual(isDNS1123Subdomain('web.example.com'), []);
  assert.match(isDNS1123Subdomain('Bad_Name')[0], /^a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '\.', and must start and end with an alphanumeric character \(e\.g\. 'example\.com', regex used for validation is/);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(254))[0], 'must be no more than 253 characters');
  assert.deepEqual(isDNS1123Label('a.b').length, 1);
  assert.equal(isDNS1123Label('a'.repeat(64))[0], 'must be no more than 63 characters');
});

test('qualified names, label values, config keys', () => {
  assert.deepEqual(isQualifiedName('app.kubernetes.io/name'), []);
  assert.equal(isQualifiedName('/x')[0], 'prefix part must be non-empty');
  assert.ok(isQualifiedName('a/b/c').length);
  assert.deepEqual(isValidLabelValue(''), []);
  assert.ok(isValidLabelValue('-bad').length);
  assert.deepEqual(isConfigMapKey('key.name_1'), []);
  assert.ok(isConfigMapKey('bad key').length);
  assert.ok(isConfigMapKey('..').length);
});

test('validateObjectMeta renders errors the way kubectl shows them', () => {
  const errs = validateObjectMeta({ name: 'Bad_Name', labels: { 'ok': 'v', 'bad key': 'v' }, finalizers: ['kubernetes.io/x'] }, { namespaced: true });
  const msgs = errs.map(fieldErrorMessage);
  assert.ok(msgs.some((m) => m.startsWith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')), msgs.join('\n'));
  assert.ok(msgs.includes('metadata.namespace: Required value'), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.startsWith('metadata.labels: Invalid value: "bad key": name part must consist of')), msgs.join('\n'));
  assert.equal(fieldErrorMessage(validateObjectMeta({}, { namespaced: false })[0]), 'metadata.name: Required value: name or generateName is required');
  const upd = validateObjectMetaUpdate({ name: 'a', uid: 'u2' }, { name: 'a', uid: 'u1' });
  assert.equal(fieldErrorMessage(upd[0]), 'metadata.uid: Invalid value: "u2": field is immutable');
});

test('generateName appends 5 characters from the upstream alphabet', () => {
  const n = generateName('web-');
  assert.match(n, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(generateName('x'.repeat(80)).length, 63);
});
