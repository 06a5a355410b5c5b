import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { FieldPath, fieldErrorMessage } from './field-errors.js';
import { formatLabels, formatLabelSelector, labelSelectorAsSelector, parseSelector, Selector, selectorFromObject, selectorFromSet, selectorToString, validateLabelSelector } from './labels.js';

const parseError = (s: string): string => {
  try {
    parseSelector(s);
  } catch (e) {
    assert.ok(e instanceof StatusError && e.code === 400 && e.reason === 'BadRequest', String(e));
    return e.message;
  }
  assert.fail(`${s} parsed`);
};

test('equality- and set-based selectors match as upstream', () => {
  const s = parseSelector('app=web, tier!=db,env in (prod, staging),!legacy,track');
  assert.equal(s.matches({ app: 'web', tier: 'fe', env: 'prod', track: 'x' }), true);
  assert.equal(s.matches({ app: 'web', env: 'prod', track: 'x' }), true, '!= matches a missing label');
  assert.equal(s.matches({ app: 'web', tier: 'db', env: 'prod', track: 'x' }), false);
  assert.equal(s.matches({ app: 'web', env: 'dev', track: 'x' }), false);
  assert.equal(s.matches({ app: 'web', env: 'prod', track: 'x', legacy: '' }), false);
  assert.equal(s.matches({ app: 'web', env: 'prod' }), false);
  assert.equal(parseSelector('a==b').matches({ a: 'b' }), true);
  assert.equal(parseSelector('a notin (x,y)').matches({}), true);
  assert.equal(parseSelector('a notin (x,y)').matches({ a: 'x' }), false);
  assert.equal(parseSelector('a=').matches({ a: '' }), true);
  assert.equal(parseSelector('a=').matches({}), false);
  assert.equal(parseSelector('').matches({ any: 'thing' }), true);
  assert.equal(parseSelector('  ').empty(), true);
});

test('gt and lt compare integers', () => {
  const s = parseSelector('x>5,y<3');
  assert.equal(s.matches({ x: '6', y: '2' }), true);
  assert.equal(s.matches({ x: '5', y: '2' }), false);
  assert.equal(s.matches({ x: 'a', y: '2' }), false);
  assert.equal(s.toString(), 'x>5,y<3');
  assert.equal(parseError('x>a'), `unable to parse requirement: values[0]: Invalid value: "a": for 'Gt', 'Lt' operators, the value must be an integer`);
});

test('"in" and "notin" may be label names and values', () => {
  const s = parseSelector('in in (notin),notin=in');
  assert.equal(s.matches({ in: 'notin', notin: 'in' }), true);
  assert.equal(s.toString(), 'in in (notin),notin=in');
});

test('canonical string form: sorted by key, values sorted and deduplicated', () => {
  assert.equal(parseSelector('z=1,a in (c,b,c),!m').toString(), 'a in (b,c),!m,z=1');
  assert.equal(parseSelector('b==1, a!=2').toString(), 'a!=2,b==1');
  assert.equal(parseSelector('a in ()').toString(), 'a in ()');
  assert.equal(parseSelector('a in (,x)').toString(), 'a in (,x)');
  assert.equal(selectorFromSet({ b: '2', a: '1' }).toString(), 'a=1,b=2');
  assert.equal(formatLabels({ b: '2', a: '1' }), 'a=1,b=2');
  assert.equal(formatLabels({}), '<none>');
});

test('syntax errors carry upstream messages', () => {
  assert.equal(parseError('a in ('), "unable to parse requirement: found '', expected: ',', ')' or identifier");
  assert.equal(parseError('a in (x'), "unable to parse requirement: found '', expected: ',' or ')'");
  assert.equal(parseError('a in x'), "unable to parse requirement: found 'x' expected: '('");
  assert.equal(parseError('=x'), "found '=', expected: !, identifier, or 'end of string'");
  assert.equal(parseError('a=b,'), "found '', expected: identifier after ','");
  assert.equal(parseError('a b'), "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  assert.equal(parseError('a=b c'), "found 'c', expected: ',' or 'end of string'");
  assert.equal(parseError('!a=b'), "found '=', expected: ',' or 'end of string'");
  assert.match(parseError('Bad/Key/x=1'), /^unable to parse requirement: <nil>: Invalid value: "Bad\/Key\/x": a qualified name must consist/);
  assert.match(parseError('a=b/c'), /^unable to parse requirement: values\[0\]\[a\]: Invalid value: "b\/c": a valid label must be an empty string/);
});

test('metav1.LabelSelector: nil selects nothing, {} everything, expressions as upstream', () => {
  assert.equal(labelSelectorAsSelector(null).matches({}), false);
  assert.equal(labelSelectorAsSelector(null).empty(), false);
  assert.equal(labelSelectorAsSelector({}).matches({ x: 'y' }), true);
  assert.equal(selectorFromObject(undefined).matches({ x: 'y' }), true);
  const s = labelSelectorAsSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'DoesNotExist' }, { key: 'tier', operator: 'NotIn', values: ['db', 'cache'] }] });
  assert.equal(s.matches({ app: 'web', a: '1' }), true);
  assert.equal(s.matches({ app: 'web', a: '1', b: '2' }), false);
  assert.equal(s.matches({ app: 'web', a: '1', tier: 'db' }), false);
  assert.equal(s.toString(), 'a,app=web,!b,tier notin (cache,db)');
  assert.equal(selectorToString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] }), 'app=web,tier in (x)');
  assert.equal(formatLabelSelector({}), '<none>');
  assert.equal(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Maybe' }] }), '<error>');
  assert.equal(formatLabelSelector({ matchLabels: { a: 'b' } }), 'a=b');
  assert.throws(() => labelSelectorAsSelector({ matchExpressions: [{ key: 'a', operator: 'Maybe' }] }), { code: 400, message: '"Maybe" is not a valid label selector operator' });
  assert.throws(() => labelSelectorAsSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), {
    code: 400,
    message: "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
  });
  assert.throws(() => labelSelectorAsSelector({ matchLabels: { 'a b': 'x' } }), (e: unknown) => e instanceof StatusError && e.message.startsWith('key: Invalid value: "a b": name part'));
});

test('exact-match requirements for index lookups', () => {
  const s = parseSelector('app=web,tier in (fe),env in (a,b),x!=y');
  assert.equal(s.requiresExactMatch('app'), 'web');
  assert.equal(s.requiresExactMatch('tier'), 'fe');
  assert.equal(s.requiresExactMatch('env'), undefined);
  assert.equal(s.requiresExactMatch('x'), undefined);
  assert.deepEqual(s.exactMatches(), { app: 'web', tier: 'fe' });
  assert.deepEqual(s.requirements.map((r) => r.key), ['app', 'env', 'tier', 'x']);
  assert.equal(new Selector([]).add({ key: 'b', operator: '=', values: ['1'] }, { key: 'a', operator: 'exists', values: [] }).toString(), 'a,b=1');
});

test('validateLabelSelector reports field errors with paths', () => {
  const errs = validateLabelSelector(
    { matchLabels: { ok: 'x' }, matchExpressions: [{ key: 'a', operator: 'In' }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'Bogus' }] },
    new FieldPath('spec.selector'),
  ).map(fieldErrorMessage);
  assert.deepEqual(errs, [
    "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    'spec.selector.matchExpressions[2].operator: Invalid value: "Bogus": not a valid selector operator',
  ]);
});
