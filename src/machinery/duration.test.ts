import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationToMillis, formatDuration, HOUR, MILLISECOND, MINUTE, millisToDuration, parseDuration, SECOND } from './duration.js';

test('parses Go durations', () => {
  assert.equal(parseDuration('1h30m'), HOUR + 30n * MINUTE);
  assert.equal(parseDuration('300ms'), 300n * MILLISECOND);
  assert.equal(parseDuration('-1.5s'), -1_500_000_000n);
  assert.equal(parseDuration('+5s'), 5n * SECOND);
  assert.equal(parseDuration('0'), 0n);
  assert.equal(parseDuration('.5s'), 500n * MILLISECOND);
  assert.equal(parseDuration('1.s'), SECOND);
  assert.equal(parseDuration('2us'), 2000n);
  assert.equal(parseDuration('2µs'), 2000n);
  assert.equal(parseDuration('2μs'), 2000n);
  assert.equal(parseDuration('3ns'), 3n);
  assert.equal(parseDuration('1h1m1s1ms1us1ns'), HOUR + MINUTE + SECOND + MILLISECOND + 1000n + 1n);
  assert.equal(parseDuration('0.3333333333s'), 333_333_333n);
  assert.equal(parseDuration('9223372036854775807ns'), (1n << 63n) - 1n);
  assert.equal(parseDuration('-9223372036854775808ns'), -(1n << 63n));
});

test('rejects malformed durations with Go messages', () => {
  assert.throws(() => parseDuration(''), { message: 'time: invalid duration ""' });
  assert.throws(() => parseDuration('1'), { message: 'time: missing unit in duration "1"' });
  assert.throws(() => parseDuration('1d'), { message: 'time: unknown unit "d" in duration "1d"' });
  assert.throws(() => parseDuration('.s'), { message: 'time: invalid duration ".s"' });
  assert.throws(() => parseDuration('s'), { message: 'time: invalid duration "s"' });
  assert.throws(() => parseDuration('-'), { message: 'time: invalid duration "-"' });
  assert.throws(() => parseDuration('9223372036854775808ns'), { message: 'time: invalid duration "9223372036854775808ns"' });
});

test('formats as Duration.String()', () => {
  assert.equal(formatDuration(0n), '0s');
  assert.equal(formatDuration(HOUR + 30n * MINUTE), '1h30m0s');
  assert.equal(formatDuration(90n * SECOND), '1m30s');
  assert.equal(formatDuration(1_500_000_000n), '1.5s');
  assert.equal(formatDuration(300n * MILLISECOND), '300ms');
  assert.equal(formatDuration(1_500_000n), '1.5ms');
  assert.equal(formatDuration(2500n), '2.5µs');
  assert.equal(formatDuration(7n), '7ns');
  assert.equal(formatDuration(-HOUR), '-1h0m0s');
  assert.equal(formatDuration(100n * HOUR + SECOND + 1n), '100h0m1.000000001s');
  assert.equal(formatDuration(parseDuration('2h45m0.5s')), '2h45m0.5s');
});

test('conversions to and from milliseconds', () => {
  assert.equal(durationToMillis(parseDuration('1.5s')), 1500);
  assert.equal(millisToDuration(250), 250n * MILLISECOND);
});
