import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { parseFieldSelector } from './field-selector.js';
import { parseSelector, selectorFromObject, selectorToString } from './label-selector.js';

test('equality- and set-based selectors match as upstream', () => {
  const s = parseSelector('app=web, tier!=db,env in (prod, staging),!legacy,track');
  assert.equal(s.matches({ app: 'web', tier: 'fe', env: 'prod', track: 'x' }), true);
  assert.equal(s.matches({ app: 'web', tier: 'db', env: 'prod', track: 'x' }), false);
  assert.equal(s.matches({ app: 'web', env: 'dev', track: 'x' }), false);
  assert.equal(s.matches({ app: 'web', env: 'prod', track: 'x', legacy: '' }), false);
  assert.equal(s.matches({ app: 'web', env: 'prod' }), false);
  assert.equal(parseSelector('a==b').matches({ a: 'b' }), true);
  assert.equal(parseSelector('a notin (x,y)').matches({}), true);
  assert.equal(parseSelector('a notin (x,y)').matches({ a: 'x' }), false);
  assert.equal(parseSelector('').matches({ any: 'thing' }), true);
});

test('canonical string form sorts requirements and values', () => {
  assert.equal(parseSelector('z=1,a in (c,b),!m').toString(), 'a in (b,c),!m,z=1');
  assert.equal(selectorToString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }), 'app=web,tier notin (db)');
});

test('LabelSelector objects: Exists, DoesNotExist, empty selects all, bad operator rejected', () => {
  const s = selectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'DoesNotExist' }] });
  assert.equal(s.matches({ a: '1' }), true);
  assert.equal(s.matches({ a: '1', b: '2' }), false);
  assert.equal(selectorFromObject({}).matches({ x: 'y' }), true);
  assert.throws(() => selectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Maybe' }] }), StatusError);
});

test('parse errors are 400 BadRequest Status errors', () => {
  for (const bad of ['a in (', 'a in (x', '=x', 'a=b,', 'a b', 'Bad Key=1', 'a=b/c']) {
    assert.throws(
      () => parseSelector(bad),
      (e: unknown) => e instanceof StatusError && e.code === 400,
      bad,
    );
  }
});

test('field selectors: =, ==, != and escaped commas', () => {
  const f = parseFieldSelector('metadata.name=a\\,b,status.phase!=Running');
  assert.deepEqual(f.requirements, [
    { field: 'metadata.name', op: '=', value: 'a,b' },
    { field: 'status.phase', op: '!=', value: 'Running' },
  ]);
  assert.equal(f.matches((k) => ({ 'metadata.name': 'a,b', 'status.phase': 'Pending' })[k]), true);
  assert.equal(f.matches((k) => ({ 'metadata.name': 'a,b', 'status.phase': 'Running' })[k]), false);
  assert.throws(() => parseFieldSelector('nooperator'), StatusError);
});
