import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrorMessage } from './field-errors.js';
import {
  isCIdentifier,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidLabelValue,
  isValidPercent,
  isValidPortName,
  maskTrailingDash,
  nameIsDNSLabel,
  regexError,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './validation.js';

const msgs = (errs: Parameters<typeof fieldErrorMessage>[0][]) => errs.map(fieldErrorMessage);

test('RegexError keeps upstream spacing between examples', () => {
  assert.equal(regexError('m', 'x'), "m (regex used for validation is 'x')");
  assert.equal(regexError('m', 'x', 'a', 'b'), "m (e.g. 'a',  or 'b', regex used for validation is 'x')");
});

test('DNS-1123 subdomains and labels', () => {
  assert.deepEqual(isDNS1123Subdomain('web.example.com'), []);
  assert.deepEqual(isDNS1123Subdomain('Bad_Name'), [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(253)), []);
  assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.deepEqual(isDNS1123Label('-a'), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
  assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.deepEqual(isDNS1035Label('1abc').length, 1);
  assert.match(isDNS1035Label('1abc')[0], /^a DNS-1035 label must consist of .* \(e\.g\. 'my-name',  or 'abc-123', regex used/);
  assert.deepEqual(isDNS1035Label('abc-1'), []);
});

test('qualified names: prefix and name parts', () => {
  assert.deepEqual(isQualifiedName('app.kubernetes.io/name'), []);
  assert.deepEqual(isQualifiedName('MyName'), []);
  assert.deepEqual(isQualifiedName('/x'), ['prefix part must be non-empty']);
  assert.equal(isQualifiedName('Example.com/x')[0].slice(0, 52), 'prefix part a lowercase RFC 1123 subdomain must cons');
  const empty = isQualifiedName('a/');
  assert.equal(empty[0], 'name part must be non-empty');
  assert.match(empty[1], /^name part must consist of alphanumeric characters/);
  assert.deepEqual(isQualifiedName('x'.repeat(64))[0], 'name part must be no more than 63 characters');
  assert.deepEqual(isQualifiedName('a/b/c'), [
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
  ]);
});

test('label values, env var names, config keys, C identifiers, percents', () => {
  assert.deepEqual(isValidLabelValue(''), []);
  assert.deepEqual(isValidLabelValue('v1.2_x-y'), []);
  assert.deepEqual(isValidLabelValue('-bad'), [
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ]);
  assert.deepEqual(isValidLabelValue('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.deepEqual(isEnvVarName('MY_VAR.x-1'), []);
  assert.equal(isEnvVarName('1ABC').length, 1);
  assert.deepEqual(isEnvVarName('..'), ["must not be '..'"]);
  assert.deepEqual(isConfigMapKey('key.name_1'), []);
  assert.equal(isConfigMapKey('bad key').length, 1);
  assert.deepEqual(isConfigMapKey('..a'), ["must not start with '..'"]);
  assert.deepEqual(isCIdentifier('_ok9'), []);
  assert.equal(isCIdentifier('9no').length, 1);
  assert.deepEqual(isValidPercent('25%'), []);
  assert.deepEqual(isValidPercent('25'), ["a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]);
});

test('port names follow IANA service name rules', () => {
  assert.deepEqual(isValidPortName('http'), []);
  assert.deepEqual(isValidPortName('http-metrics1'), []);
  assert.deepEqual(isValidPortName('8080'), ['must contain at least one letter (a-z)']);
  assert.deepEqual(isValidPortName('a--b'), ['must not contain consecutive hyphens']);
  assert.deepEqual(isValidPortName('-ab'), ['must not begin or end with a hyphen']);
  assert.deepEqual(isValidPortName('averyveryverylongname'), ['must be no more than 15 characters']);
  assert.deepEqual(isValidPortName('HTTP'), ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must contain at least one letter (a-z)']);
});

test('generateName prefixes are checked with the trailing dash masked', () => {
  assert.equal(maskTrailingDash('web-'), 'wea');
  assert.equal(maskTrailingDash('-'), '-');
  assert.deepEqual(nameIsDNSLabel('web-', true), []);
  assert.equal(nameIsDNSLabel('web-', false).length, 1);
  assert.deepEqual(validateObjectMeta({ name: 'web-x1', generateName: 'web-', namespace: 'd' }, { namespaced: true }), []);
  const bad = msgs(validateObjectMeta({ name: 'ok', generateName: 'Web-', namespace: 'd' }, { namespaced: true }));
  assert.equal(bad.length, 1);
  assert.match(bad[0], /^metadata\.generateName: Invalid value: "Web-": a lowercase RFC 1123 subdomain/);
});

test('validateObjectMeta: name, namespace, labels, annotations', () => {
  assert.deepEqual(msgs(validateObjectMeta({}, { namespaced: false })), ['metadata.name: Required value: name or generateName is required']);
  assert.deepEqual(msgs(validateObjectMeta({ name: 'a' }, { namespaced: true })), ['metadata.namespace: Required value']);
  assert.deepEqual(msgs(validateObjectMeta({ name: 'a', namespace: 'x' }, { namespaced: false })), ['metadata.namespace: Forbidden: not allowed on this type']);
  assert.deepEqual(msgs(validateObjectMeta({ name: 'a', namespace: 'a.b' }, { namespaced: true })), ['metadata.namespace: Invalid value: "a.b": must not contain dots']);
  const m = msgs(validateObjectMeta({ name: 'Bad_Name', namespace: 'default', labels: { ok: 'v', 'bad key': 'v', k: '-v' } }, { namespaced: true }));
  assert.equal(m.length, 3, m.join('\n'));
  assert.match(m[0], /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  assert.match(m[1], /^metadata\.labels: Invalid value: "bad key": name part must consist of alphanumeric characters/);
  assert.match(m[2], /^metadata\.labels: Invalid value: "-v": a valid label must be an empty string/);
  // A custom rule (e.g. namespaces are DNS labels) and a custom path.
  assert.deepEqual(msgs(validateObjectMeta({ name: 'a.b' }, { namespaced: false, nameValidator: nameIsDNSLabel, path: 'spec.template.metadata' })), [
    'spec.template.metadata.name: Invalid value: "a.b": must not contain dots',
  ]);
  // Annotation keys are case-insensitive qualified names; the total size is capped at 256 KiB.
  assert.deepEqual(validateObjectMeta({ name: 'a', annotations: { 'Example.COM/Key': 'x' } }, { namespaced: false }), []);
  const big = msgs(validateObjectMeta({ name: 'a', annotations: { a: 'x'.repeat(256 * 1024) } }, { namespaced: false }));
  assert.deepEqual(big, ['metadata.annotations: Too long: may not be more than 262144 bytes']);
  assert.deepEqual(msgs(validateObjectMeta({ name: 'a', generation: -1 }, { namespaced: false })), ['metadata.generation: Invalid value: -1: must be greater than or equal to 0']);
});

test('validateObjectMeta: owner references and finalizers', () => {
  const refs = [
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs1', uid: 'u1', controller: true },
    { apiVersion: '', kind: '', name: '', uid: '' },
    { apiVersion: 'apps/v1', kind: 'Deployment', name: 'd', uid: 'u2', controller: true },
    { apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u3' },
  ];
  const m = msgs(validateObjectMeta({ name: 'a', ownerReferences: refs, finalizers: ['kubernetes.io/pvc-protection', 'bad finalizer', 'orphan', 'foregroundDeletion'] }, { namespaced: false }));
  assert.deepEqual(m.slice(0, 4), [
    'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
    'metadata.ownerReferences.kind: Invalid value: "": must not be empty',
    'metadata.ownerReferences.name: Invalid value: "": must not be empty',
    'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
  ]);
  assert.match(m[4], /Only one reference can have Controller set to true\. Found "true" in references for ReplicaSet\/rs1 and Deployment\/d$/);
  assert.match(m[5], /\/v1, Kind=Event is disallowed from being an owner$/);
  assert.match(m[6], /^metadata\.finalizers: Invalid value: "bad finalizer": name part must consist/);
  assert.equal(m[7], 'metadata.finalizers: Invalid value: []string{"kubernetes.io/pvc-protection", "bad finalizer", "orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set');
  assert.equal(m.length, 8);
});

test('validateObjectMetaUpdate: immutable identity, generation, finalizers while deleting', () => {
  const old = { name: 'a', namespace: 'ns', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z', generation: 3 };
  assert.deepEqual(validateObjectMetaUpdate({ ...old }, old), []);
  assert.deepEqual(msgs(validateObjectMetaUpdate({ ...old, uid: 'u2', name: 'b', generation: 2 }, old)), [
    'metadata.generation: Invalid value: 2: must not be decremented',
    'metadata.name: Invalid value: "b": field is immutable',
    'metadata.uid: Invalid value: "u2": field is immutable',
  ]);
  assert.deepEqual(msgs(validateObjectMetaUpdate({ ...old, creationTimestamp: undefined }, old)), ['metadata.creationTimestamp: Invalid value: "": field is immutable']);
  const deleting = { ...old, deletionTimestamp: '2024-01-02T00:00:00Z', finalizers: ['a/b'] };
  assert.deepEqual(msgs(validateObjectMetaUpdate({ ...deleting, finalizers: ['a/b', 'c/d'] }, deleting)), [
    'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"c/d"}',
  ]);
  assert.deepEqual(msgs(validateObjectMetaUpdate({ ...old }, old, { requireResourceVersion: true })), ['metadata.resourceVersion: Invalid value: "": must be specified for an update']);
});
