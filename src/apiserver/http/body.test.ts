import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from '../../machinery/errors.js';
import { decodeBody, duplicateJSONFields } from './body.js';

test('duplicate JSON fields are found with their paths', () => {
  assert.deepEqual(duplicateJSONFields('{"a":1,"b":{"c":1,"c":2},"l":[{"x":1},{"x":1,"x":"}{,"}],"a":3}'), ['b.c', 'l[1].x', 'a']);
  assert.deepEqual(duplicateJSONFields('{"a":"\\"a\\"","b":[1,2,{"a":1}]}'), []);
});

test('malformed, empty, deep and YAML bodies give 400s', () => {
  for (const [text, ct] of [['{"a":', 'application/json'], ['', 'application/json'], ['a: [b', 'application/yaml'], ['['.repeat(2000) + ']'.repeat(2000), 'application/json']]) {
    assert.throws(() => decodeBody(Buffer.from(text), ct, 'Pod'), (e: unknown) => e instanceof StatusError && e.code === 400, text.slice(0, 20));
  }
  assert.deepEqual(decodeBody(Buffer.from('kind: Pod\nmetadata: {name: x}\n'), 'application/yaml', 'Pod'), { kind: 'Pod', metadata: { name: 'x' } });
});
