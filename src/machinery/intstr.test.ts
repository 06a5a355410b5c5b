import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fieldErrorMessage } from './field-errors.js';
import { getScaledValueFromIntOrPercent, intValue, percentValue, validateNotMoreThan100Percent, validatePositiveIntOrPercent } from './intstr.js';

test('ints pass through; percentages scale with rounding', () => {
  assert.equal(getScaledValueFromIntOrPercent(123, 0, false), 123);
  assert.equal(getScaledValueFromIntOrPercent('90%', 100, true), 90);
  assert.equal(getScaledValueFromIntOrPercent('90%', 95, true), 86);
  assert.equal(getScaledValueFromIntOrPercent('90%', 95, false), 85);
  assert.equal(getScaledValueFromIntOrPercent('25%', 10, true), 3); // maxSurge of 10 replicas
  assert.equal(getScaledValueFromIntOrPercent('25%', 10, false), 2); // maxUnavailable of 10 replicas
  assert.equal(getScaledValueFromIntOrPercent('0%', 7, true), 0);
  assert.equal(getScaledValueFromIntOrPercent('150%', 4, false), 6);
});

test('anything else is an error with upstream wording', () => {
  assert.throws(() => getScaledValueFromIntOrPercent(undefined, 1, false), { message: 'nil value for IntOrString' });
  assert.throws(() => getScaledValueFromIntOrPercent('90', 1, false), { message: 'invalid value for IntOrString: invalid type: string is not a percentage' });
  assert.throws(() => getScaledValueFromIntOrPercent('%', 1, false), { message: 'invalid value for IntOrString: invalid value "%": strconv.Atoi: parsing "": invalid syntax' });
  assert.throws(() => getScaledValueFromIntOrPercent('#%', 1, false), { message: 'invalid value for IntOrString: invalid value "#%": strconv.Atoi: parsing "#": invalid syntax' });
  assert.throws(() => getScaledValueFromIntOrPercent('90#', 1, false), /not a percentage/);
});

test('helpers: intValue and percentValue', () => {
  assert.equal(intValue(8080), 8080);
  assert.equal(intValue('8080'), 8080);
  assert.equal(intValue('http'), 0);
  assert.equal(percentValue('30%'), 30);
  assert.equal(percentValue('30'), undefined);
  assert.equal(percentValue(30), undefined);
});

test('validation of int-or-percent fields', () => {
  const m = (errs: ReturnType<typeof validatePositiveIntOrPercent>) => errs.map(fieldErrorMessage);
  assert.deepEqual(validatePositiveIntOrPercent('25%', 'spec.strategy.rollingUpdate.maxSurge'), []);
  assert.deepEqual(validatePositiveIntOrPercent(0, 'x'), []);
  assert.deepEqual(m(validatePositiveIntOrPercent(-1, 'x')), ['x: Invalid value: -1: must be greater than or equal to 0']);
  assert.deepEqual(m(validatePositiveIntOrPercent('25', 'x')), [
    `x: Invalid value: "25": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`,
  ]);
  assert.deepEqual(m(validatePositiveIntOrPercent(true, 'x')), [`x: Invalid value: true: must be an integer or percentage (e.g '5%')`]);
  assert.deepEqual(m(validateNotMoreThan100Percent('101%', 'x')), ['x: Invalid value: "101%": must not be greater than 100%']);
  assert.deepEqual(validateNotMoreThan100Percent('100%', 'x'), []);
  assert.deepEqual(validateNotMoreThan100Percent(500, 'x'), []);
});
