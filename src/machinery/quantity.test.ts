import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalQuantity, ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, parseQuantity, Quantity, QuantityParseError, quantityError, quantityFrom } from './quantity.js';

const str = (s: string) => parseQuantity(s).toString();

test('canonical forms as the API server returns them', () => {
  const cases: [string, string][] = [
    ['1000m', '1'],
    ['0.5', '500m'],
    ['1e3', '1e3'],
    ['1E3', '1E3'], // judged canonical on parse, so kept as written
    ['1e14', '100e12'],
    ['1.5e3', '1500'],
    ['1536Mi', '1536Mi'],
    ['1024Mi', '1Gi'],
    ['2048Ki', '2Mi'],
    ['2000000', '2M'],
    ['1500', '1500'],
    ['1.5k', '1500'],
    ['10k', '10k'],
    ['100M', '100M'],
    ['1000M', '1G'],
    ['0.1', '100m'],
    ['0.0005k', '500m'],
    ['100.035k', '100.035k'], // judged canonical on parse (whole number at scale 0)
    ['100.5k', '100500'],
    ['1.01E', '1010P'],
    ['12E', '12E'],
    ['500m', '500m'],
    ['1080m', '1080m'],
    ['1.08', '1080m'],
    ['3.001n', '4n'],
    ['0.5Mi', '512Ki'],
    ['.001Ki', '1024m'],
    ['.000000000001Ki', '2n'],
    ['5Ki', '5Ki'],
    ['1025Ki', '1025Ki'],
    ['0', '0'],
    ['0m', '0'],
    ['0Gi', '0'],
    ['-0', '0'],
    ['+1', '+1'],
    ['01', '01'],
    ['-500m', '-500m'],
    ['-1.5Gi', '-1536Mi'],
    ['-1000m', '-1'],
  ];
  for (const [input, want] of cases) assert.equal(str(input), want, input);
  // BinarySI values are capped at the int64 maximum.
  assert.equal(str('9Ei'), '9223372036854775807');
});

test('parse errors carry upstream messages', () => {
  assert.equal(ERR_FORMAT_WRONG, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  for (const bad of ['', '1.1.M', '1+1.0M', '0.1am', 'aoeu', ' 1', '1 ', 'Non-Numeric']) {
    assert.throws(() => parseQuantity(bad), (e: unknown) => e instanceof QuantityParseError && e.message === ERR_FORMAT_WRONG, bad);
  }
  for (const bad of ['0.1mi', '.5i', '1i', '-3.01i', '-3.01e-', '1Ki1']) {
    assert.throws(() => parseQuantity(bad), { message: ERR_SUFFIX }, bad);
  }
  assert.throws(() => parseQuantity('Ei'), { message: ERR_NUMERIC });
  assert.equal(quantityError('1Gi'), undefined);
  assert.equal(quantityError('abc'), ERR_FORMAT_WRONG);
  assert.equal(quantityError({}), ERR_FORMAT_WRONG);
});

test('exact arithmetic and comparison', () => {
  const q = (s: string) => parseQuantity(s);
  assert.equal(q('100m').add(q('200m')).toString(), '300m');
  assert.equal(q('0.1').add(q('0.2')).cmp(q('300m')), 0);
  assert.equal(q('1Gi').sub(q('512Mi')).toString(), '512Mi');
  assert.equal(q('1').sub(q('1500m')).toString(), '-500m');
  assert.equal(q('1Gi').cmp(q('1G')), 1);
  assert.equal(q('1e3').cmp(q('1k')), 0);
  assert.equal(q('-1').cmp(q('1m')), -1);
  assert.equal(q('1e999').cmp(q('1m')), 1);
  assert.equal(q('-1e999').cmp(q('-1e998')), -1);
  assert.ok(q('2Gi').equal(q('2048Mi')));
  // The sum keeps the receiver's format unless the receiver is zero.
  assert.equal(q('1Ki').add(q('1k')).format, 'BinarySI');
  assert.equal(q('0').add(q('1Ki')).toString(), '1Ki');
  assert.equal(q('1k').add(q('24')).toString(), '1024');
  assert.equal(q('1').neg().toString(), '-1');
  assert.equal(q('250m').mul(4).toString(), '1');
});

test('value, milliValue and scaled values round away from zero', () => {
  const q = (s: string) => parseQuantity(s);
  assert.equal(q('1500m').value(), 2);
  assert.equal(q('1500m').milliValue(), 1500);
  assert.equal(q('1.1n').scaledValue(-9), 2n);
  assert.equal(q('1Gi').value(), 1073741824);
  assert.equal(q('128974848').value(), 128974848);
  assert.equal(q('129e6').value(), 129000000);
  assert.equal(q('-1500m').value(), -2);
  assert.equal(q('1G').scaledValue(6), 1000n);
  assert.equal(q('1.5').asInt64(), undefined);
  assert.equal(q('2k').asInt64(), 2000n);
  assert.equal(q('250m').asApproximateFloat64(), 0.25);
  assert.equal(q('1234m').roundUp(-1).toString(), '1300m');
});

test('construction and JSON forms', () => {
  assert.equal(Quantity.fromMilli(1500).toString(), '1500m');
  assert.equal(Quantity.fromInt(3 * 1024 * 1024, 'BinarySI').toString(), '3Mi');
  assert.equal(Quantity.fromInt(1000).toString(), '1k');
  assert.equal(Quantity.fromScaled(5, 9).toString(), '5G');
  assert.equal(Quantity.fromInt(5, 'DecimalExponent').withFormat('DecimalSI').toString(), '5');
  assert.equal(JSON.stringify({ cpu: parseQuantity('0.25') }), '{"cpu":"250m"}');
  assert.equal(quantityFrom(0.5).toString(), '500m');
  assert.equal(quantityFrom(2).toString(), '2');
  assert.equal(canonicalQuantity(' 1024Mi '), '1Gi');
});
