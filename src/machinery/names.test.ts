import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateName, NAME_ALPHABET, randomString } from './names.js';

test('generateName appends 5 characters from the upstream alphabet', () => {
  for (let i = 0; i < 50; i++) assert.match(generateName('web-'), /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.equal(NAME_ALPHABET, 'bcdfghjklmnpqrstvwxz2456789');
});

test('long bases are cut to 58 characters so the name is at most 63', () => {
  const n = generateName('x'.repeat(80));
  assert.equal(n.length, 63);
  assert.ok(n.startsWith('x'.repeat(58)));
  assert.equal(generateName('y'.repeat(58)).length, 63);
  assert.equal(generateName('').length, 5);
});

test('the random source is injectable and indexes the alphabet', () => {
  assert.equal(generateName('pod-', () => 0), 'pod-bbbbb');
  let i = 0;
  assert.equal(randomString(3, () => NAME_ALPHABET.length - 1 - i++), '987');
});
