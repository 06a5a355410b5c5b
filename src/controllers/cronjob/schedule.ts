// Cron schedules as the CronJob controller reads them (upstream uses robfig/cron/v3's
// ParseStandard): five fields (minute hour day-of-month month day-of-week), the @yearly/@annually/
// @monthly/@weekly/@daily/@midnight/@hourly macros and "@every <duration>". Times are evaluated in
// an IANA time zone (spec.timeZone) or, without one, in the process's local zone.
//
// Field semantics follow robfig: "N/step" means N-max/step; a field written as "*" or "?" is
// "starred"; day-of-month and day-of-week combine with AND when either is starred, else with OR;
// day-of-week is 0-6 (Sunday 0). Next() searches at most five years ahead.

import { durationToMillis, parseDuration } from '../../machinery/duration.js';

export interface Schedule {
  /** The first activation strictly after `after`, or undefined if none within five years. */
  next(after: Date): Date | undefined;
}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MINUTE: Bounds = { min: 0, max: 59 };
const HOUR: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTH: Bounds = {
  min: 1,
  max: 12,
  names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 },
};
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

export class ScheduleParseError extends Error {}

interface Field {
  set: boolean[];
  star: boolean;
}

function parseNumber(s: string, expr: string): number {
  if (!/^-?\d+$/.test(s)) throw new ScheduleParseError(`failed to parse int from ${s}: strconv.Atoi: parsing "${s}": invalid syntax`);
  const n = Number(s);
  if (n < 0) throw new ScheduleParseError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseValue(s: string, b: Bounds, expr: string): number {
  const named = b.names?.[s.toLowerCase()];
  return named !== undefined ? named : parseNumber(s, expr);
}

function parseField(field: string, b: Bounds): Field {
  const set: boolean[] = new Array(b.max + 1).fill(false);
  let star = false;
  for (const expr of field.split(',')) {
    const rangeAndStep = expr.split('/');
    const lowAndHigh = rangeAndStep[0]!.split('-');
    const single = lowAndHigh.length === 1;
    let start: number;
    let end: number;
    let starred = false;
    if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
      start = b.min;
      end = b.max;
      starred = true;
    } else {
      start = parseValue(lowAndHigh[0]!, b, expr);
      if (lowAndHigh.length === 1) end = start;
      else if (lowAndHigh.length === 2) end = parseValue(lowAndHigh[1]!, b, expr);
      else throw new ScheduleParseError(`too many hyphens: ${expr}`);
    }
    let step = 1;
    if (rangeAndStep.length === 2) {
      step = parseNumber(rangeAndStep[1]!, expr);
      if (single) end = b.max;
      if (step > 1) starred = false;
    } else if (rangeAndStep.length > 2) throw new ScheduleParseError(`too many slashes: ${expr}`);
    if (start < b.min) throw new ScheduleParseError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
    if (end > b.max) throw new ScheduleParseError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
    if (start > end) throw new ScheduleParseError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
    if (step === 0) throw new ScheduleParseError(`step of range should be a positive number: ${expr}`);
    for (let i = start; i <= end; i += step) set[i] = true;
    if (starred) star = true;
  }
  return { set, star };
}

// ---- time zones -----------------------------------------------------------------------------

interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  weekday: number; // 0 = Sunday
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string | undefined): Intl.DateTimeFormat {
  const k = tz ?? '';
  let f = formatters.get(k);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(k, f);
  }
  return f;
}

/** True when `tz` names a time zone this runtime knows (IANA names, "UTC"). */
export function isValidTimeZone(tz: string): boolean {
  if (tz === '' || /^local$/i.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function wallParts(ms: number, tz: string | undefined): Wall & { second: number } {
  const out: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(new Date(ms))) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour) % 24,
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAYS[out.weekday!] ?? 0,
  };
}

/** The zone's offset from UTC at the instant, in ms (positive east of Greenwich). */
export function zoneOffsetMs(ms: number, tz: string | undefined): number {
  const w = wallParts(ms, tz);
  const asUTC = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUTC - Math.floor(ms / 1000) * 1000;
}

/** The instant of a wall-clock time in the zone (fields may overflow, as Date.UTC allows). */
function instantOf(tz: string | undefined, y: number, mo: number, d: number, h: number, mi: number): number {
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  const o1 = zoneOffsetMs(guess, tz);
  let t = guess - o1;
  const o2 = zoneOffsetMs(t, tz);
  if (o2 !== o1) t = guess - o2;
  return t;
}

/** RFC 3339 with the zone's offset ("Z" for UTC), as Go's time.Format(time.RFC3339). */
export function formatRFC3339InZone(d: Date, tz: string | undefined): string {
  const ms = Math.floor(d.getTime() / 1000) * 1000;
  const off = zoneOffsetMs(ms, tz);
  const w = new Date(ms + off);
  const p = (n: number, l = 2) => String(n).padStart(l, '0');
  const base = `${p(w.getUTCFullYear(), 4)}-${p(w.getUTCMonth() + 1)}-${p(w.getUTCDate())}T${p(w.getUTCHours())}:${p(w.getUTCMinutes())}:${p(w.getUTCSeconds())}`;
  if (off === 0) return `${base}Z`;
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off) / 60000;
  return `${base}${sign}${p(Math.floor(abs / 60))}:${p(abs % 60)}`;
}

// ---- schedules ------------------------------------------------------------------------------

class SpecSchedule implements Schedule {
  constructor(
    private readonly minute: Field,
    private readonly hour: Field,
    private readonly dom: Field,
    private readonly month: Field,
    private readonly dow: Field,
    private readonly tz: string | undefined,
  ) {}

  private dayMatches(w: Wall): boolean {
    const domMatch = this.dom.set[w.day] === true;
    const dowMatch = this.dow.set[w.weekday] === true;
    return this.dom.star || this.dow.star ? domMatch && dowMatch : domMatch || dowMatch;
  }

  next(after: Date): Date | undefined {
    // Activations fall on whole minutes; start at the first whole minute after `after`.
    let t = Math.floor(after.getTime() / 60000) * 60000 + 60000;
    const yearLimit = wallParts(t, this.tz).year + 5;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const w = wallParts(t, this.tz);
      if (w.year > yearLimit) return undefined;
      let nt: number;
      if (!this.month.set[w.month]) nt = instantOf(this.tz, w.year, w.month + 1, 1, 0, 0);
      else if (!this.dayMatches(w)) nt = instantOf(this.tz, w.year, w.month, w.day + 1, 0, 0);
      else if (!this.hour.set[w.hour]) nt = t + (60 - w.minute) * 60000;
      else if (!this.minute.set[w.minute]) {
        let m = w.minute + 1;
        while (m < 60 && !this.minute.set[m]) m++;
        nt = t + (m - w.minute) * 60000;
      } else return new Date(t);
      // Wall-clock jumps across a DST change can land at or before t; always move forward.
      t = nt > t ? nt : t + 60000;
    }
    return undefined;
  }
}

/** "@every <duration>": a fixed delay, whole seconds, at least one second. */
class ConstantDelaySchedule implements Schedule {
  constructor(private readonly delayMs: number) {}
  next(after: Date): Date {
    const base = Math.floor(after.getTime() / 1000) * 1000;
    return new Date(base + this.delayMs);
  }
}

/**
 * Parses a standard cron schedule. `timeZone` is spec.timeZone (an IANA name); without it the
 * process's local zone is used, as kube-controller-manager does. TZ=/CRON_TZ= prefixes are
 * rejected, as the API validation does.
 */
export function parseSchedule(spec: string, timeZone?: string): Schedule {
  if (timeZone !== undefined && !isValidTimeZone(timeZone)) throw new ScheduleParseError(`unknown time zone ${timeZone}`);
  const s = spec.trim();
  if (s === '') throw new ScheduleParseError('empty spec string');
  if (/^(CRON_)?TZ=/.test(s)) throw new ScheduleParseError('cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
  let text = s;
  if (s.startsWith('@')) {
    if (s.startsWith('@every ')) {
      let nanos: bigint;
      try {
        nanos = parseDuration(s.slice('@every '.length).trim());
      } catch (e) {
        throw new ScheduleParseError(`failed to parse duration ${s}: ${(e as Error).message}`);
      }
      let ms = durationToMillis(nanos);
      if (ms < 1000) ms = 1000;
      return new ConstantDelaySchedule(ms - (ms % 1000));
    }
    const macro = MACROS[s];
    if (!macro) throw new ScheduleParseError(`unrecognized descriptor: ${s}`);
    text = macro;
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5) throw new ScheduleParseError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  return new SpecSchedule(
    parseField(fields[0]!, MINUTE),
    parseField(fields[1]!, HOUR),
    parseField(fields[2]!, DOM),
    parseField(fields[3]!, MONTH),
    parseField(fields[4]!, DOW),
    timeZone,
  );
}
