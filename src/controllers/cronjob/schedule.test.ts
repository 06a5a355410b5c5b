import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { jobNameFor, mostRecentScheduleTime, nextScheduleDelay } from './index.js';
import { formatRFC3339InZone, parseSchedule, ScheduleParseError } from './schedule.js';

const next = (spec: string, from: string, tz = 'UTC') => parseSchedule(spec, tz).next(new Date(from))?.toISOString();
const seq = (spec: string, from: string, n: number, tz = 'UTC') => {
  const s = parseSchedule(spec, tz);
  const out: string[] = [];
  let t = new Date(from);
  for (let i = 0; i < n; i++) {
    t = s.next(t)!;
    out.push(t.toISOString());
  }
  return out;
};

describe('cron schedule', () => {
  test('standard fields, steps, ranges, lists and names', () => {
    assert.equal(next('* * * * *', '2024-03-05T10:00:30Z'), '2024-03-05T10:01:00.000Z');
    assert.equal(next('* * * * *', '2024-03-05T10:00:00Z'), '2024-03-05T10:01:00.000Z', 'strictly after');
    assert.deepEqual(seq('*/15 * * * *', '2024-03-05T10:07:00Z', 3), ['2024-03-05T10:15:00.000Z', '2024-03-05T10:30:00.000Z', '2024-03-05T10:45:00.000Z']);
    assert.deepEqual(seq('5/20 * * * *', '2024-03-05T10:00:00Z', 4), ['2024-03-05T10:05:00.000Z', '2024-03-05T10:25:00.000Z', '2024-03-05T10:45:00.000Z', '2024-03-05T11:05:00.000Z']);
    assert.deepEqual(seq('0 9-17/4 * * MON-fri', '2024-03-08T12:00:00Z', 3), ['2024-03-08T13:00:00.000Z', '2024-03-08T17:00:00.000Z', '2024-03-11T09:00:00.000Z']);
    assert.equal(next('30 2 1,15 * *', '2024-03-02T00:00:00Z'), '2024-03-15T02:30:00.000Z');
    assert.equal(next('0 0 1 feb *', '2024-03-02T00:00:00Z'), '2025-02-01T00:00:00.000Z');
    assert.equal(next('0 0 29 2 *', '2024-03-01T00:00:00Z'), '2028-02-29T00:00:00.000Z');
  });

  test('day-of-month and day-of-week: OR when both restricted, AND when one is *', () => {
    // 2024-03-05 is a Tuesday. "13th or any Friday": the next is Friday the 8th.
    assert.equal(next('0 0 13 * 5', '2024-03-05T00:00:00Z'), '2024-03-08T00:00:00.000Z');
    // "* in day-of-month": only Fridays.
    assert.equal(next('0 0 * * 5', '2024-03-05T00:00:00Z'), '2024-03-08T00:00:00.000Z');
    // "?" is a star too.
    assert.equal(next('0 0 ? * 2', '2024-03-05T00:00:00Z'), '2024-03-12T00:00:00.000Z');
    // A stepped star is not a star: "*/2" days OR Friday.
    assert.equal(next('0 0 */2 * 5', '2024-03-05T12:00:00Z'), '2024-03-07T00:00:00.000Z');
  });

  test('macros', () => {
    const from = '2024-03-05T10:20:00Z';
    assert.equal(next('@hourly', from), '2024-03-05T11:00:00.000Z');
    assert.equal(next('@daily', from), '2024-03-06T00:00:00.000Z');
    assert.equal(next('@midnight', from), '2024-03-06T00:00:00.000Z');
    assert.equal(next('@weekly', from), '2024-03-10T00:00:00.000Z');
    assert.equal(next('@monthly', from), '2024-04-01T00:00:00.000Z');
    assert.equal(next('@yearly', from), '2025-01-01T00:00:00.000Z');
    assert.equal(next('@annually', from), '2025-01-01T00:00:00.000Z');
    assert.equal(next('@every 90s', '2024-03-05T10:20:00.700Z'), '2024-03-05T10:21:30.000Z');
  });

  test('time zones, including DST changes', () => {
    // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
    assert.equal(next('0 9 * * *', '2024-01-10T12:00:00Z', 'Europe/Berlin'), '2024-01-11T08:00:00.000Z');
    assert.equal(next('0 9 * * *', '2024-07-10T12:00:00Z', 'Europe/Berlin'), '2024-07-11T07:00:00.000Z');
    assert.equal(next('@daily', '2024-03-05T10:00:00Z', 'Asia/Kolkata'), '2024-03-05T18:30:00.000Z');
    // New York springs forward on 2024-03-10: 02:30 does not exist that day and is skipped.
    assert.deepEqual(seq('30 2 * * *', '2024-03-09T00:00:00Z', 2, 'America/New_York'), ['2024-03-09T07:30:00.000Z', '2024-03-11T06:30:00.000Z']);
    // ... and falls back on 2024-11-03: 01:30 happens twice.
    assert.deepEqual(seq('30 1 * * *', '2024-11-03T00:00:00Z', 3, 'America/New_York'), ['2024-11-03T05:30:00.000Z', '2024-11-03T06:30:00.000Z', '2024-11-04T06:30:00.000Z']);
    assert.equal(formatRFC3339InZone(new Date('2024-07-11T07:00:00Z'), 'Europe/Berlin'), '2024-07-11T09:00:00+02:00');
    assert.equal(formatRFC3339InZone(new Date('2024-07-11T07:00:00Z'), 'UTC'), '2024-07-11T07:00:00Z');
    assert.equal(formatRFC3339InZone(new Date('2024-07-11T07:00:00Z'), 'America/St_Johns'), '2024-07-11T04:30:00-02:30');
  });

  test('errors', () => {
    const err = (spec: string, tz?: string) => {
      try {
        parseSchedule(spec, tz);
        return undefined;
      } catch (e) {
        assert.ok(e instanceof ScheduleParseError);
        return e.message;
      }
    };
    assert.equal(err('* * * *'), 'expected exactly 5 fields, found 4: [* * * *]');
    assert.equal(err('0 0 * * * *'), 'expected exactly 5 fields, found 6: [0 0 * * * *]');
    assert.equal(err('60 * * * *'), 'end of range (60) above maximum (59): 60');
    assert.equal(err('* * 0 * *'), 'beginning of range (0) below minimum (1): 0');
    assert.equal(err('* * * * 7'), 'end of range (7) above maximum (6): 7');
    assert.equal(err('5-2 * * * *'), 'beginning of range (5) beyond end of range (2): 5-2');
    assert.equal(err('*/0 * * * *'), 'step of range should be a positive number: */0');
    assert.equal(err('@fortnightly'), 'unrecognized descriptor: @fortnightly');
    assert.equal(err('TZ=UTC * * * * *'), 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
    assert.equal(err('CRON_TZ=UTC * * * * *'), 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
    assert.equal(err('* * * * *', 'Mars/Olympus'), 'unknown time zone Mars/Olympus');
    assert.equal(err('* * * * *', 'Europe/Berlin'), undefined);
  });

  test('0 0 31 2 * never fires', () => {
    assert.equal(next('0 0 31 2 *', '2024-01-01T00:00:00Z'), undefined);
  });
});

describe('schedule arithmetic of the controller', () => {
  const cj = (created: string, last?: string, sds?: number): KubeObject => ({
    metadata: { name: 'c', creationTimestamp: created },
    spec: { schedule: '* * * * *', startingDeadlineSeconds: sds },
    status: last ? { lastScheduleTime: last } : {},
  });
  const every = parseSchedule('* * * * *', 'UTC');
  const t = (s: string) => Date.parse(s);

  test('job names are minutes since the epoch', () => {
    assert.equal(jobNameFor('hello', t('2024-03-05T10:01:00Z')), `hello-${t('2024-03-05T10:01:00Z') / 60000}`);
  });

  test('most recent unmet time and missed counts', () => {
    assert.deepEqual(mostRecentScheduleTime(cj('2024-03-05T10:00:10Z'), t('2024-03-05T10:00:50Z'), every, true), { earliest: t('2024-03-05T10:00:10Z'), missed: 'none' });
    assert.equal(mostRecentScheduleTime(cj('2024-03-05T10:00:10Z'), t('2024-03-05T10:01:05Z'), every, true).mostRecent, t('2024-03-05T10:01:00Z'));
    const few = mostRecentScheduleTime(cj('2024-03-05T10:00:10Z', '2024-03-05T10:01:00Z'), t('2024-03-05T10:05:30Z'), every, true);
    assert.equal(few.mostRecent, t('2024-03-05T10:05:00Z'));
    assert.equal(few.missed, 'few');
    const many = mostRecentScheduleTime(cj('2024-03-05T00:00:10Z'), t('2024-03-05T10:05:30Z'), every, true);
    assert.equal(many.mostRecent, t('2024-03-05T10:05:00Z'));
    assert.equal(many.missed, 'many');
    // startingDeadlineSeconds bounds how far back it looks.
    assert.equal(mostRecentScheduleTime(cj('2024-03-05T00:00:10Z', undefined, 200), t('2024-03-05T10:05:30Z'), every, true).missed, 'few');
    assert.equal(nextScheduleDelay(cj('2024-03-05T10:00:10Z'), t('2024-03-05T10:00:50Z'), every), 10_100);
    assert.equal(nextScheduleDelay(cj('2024-03-05T10:00:10Z', '2024-03-05T10:01:00Z'), t('2024-03-05T10:01:00.500Z'), every), 59_600);
  });
});
