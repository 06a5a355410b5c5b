// Go durations (time.ParseDuration and Duration.String), as metav1.Duration carries them in
// JSON ("1h30m0s", "300ms"). Values are int64 nanoseconds, held as BigInt to stay exact.

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

export const NANOSECOND = 1n;
export const MICROSECOND = 1_000n;
export const MILLISECOND = 1_000_000n;
export const SECOND = 1_000_000_000n;
export const MINUTE = 60n * SECOND;
export const HOUR = 60n * MINUTE;

const MAX_INT64 = (1n << 63n) - 1n;

export class DurationParseError extends Error {}

/** Go's strconv.Quote for the error text; enough for printable input. */
const quote = (s: string) => JSON.stringify(s);

/** time.ParseDuration: "1h30m", "-1.5s", "300ms", "0"; the result in nanoseconds. */
export function parseDuration(input: string): bigint {
  const orig = input;
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw new DurationParseError(`time: invalid duration ${quote(orig)}`);
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const intPart = m[1];
    const fracPart = m[2] ?? '';
    // A number needs a digit before or after the point (".5s" is fine, ".s" is not).
    if (intPart === '' && fracPart === '') throw new DurationParseError(`time: invalid duration ${quote(orig)}`);
    s = s.slice(m[0].length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') throw new DurationParseError(`time: missing unit in duration ${quote(orig)}`);
    s = s.slice(u.length);
    const unit = UNITS[u];
    if (unit === undefined) throw new DurationParseError(`time: unknown unit ${quote(u)} in duration ${quote(orig)}`);
    let v = BigInt(intPart || '0') * unit;
    if (fracPart) {
      // Go truncates the fraction toward zero at nanosecond precision.
      v += (BigInt(fracPart) * unit) / 10n ** BigInt(fracPart.length);
    }
    total += v;
    if (total > MAX_INT64 + (neg ? 1n : 0n)) throw new DurationParseError(`time: invalid duration ${quote(orig)}`);
  }
  return neg ? -total : total;
}

/** Fraction digits of v at `prec` places without trailing zeros, and v's integer part. */
function frac(v: bigint, prec: number): [string, bigint] {
  const d = 10n ** BigInt(prec);
  const f = (v % d).toString().padStart(prec, '0').replace(/0+$/, '');
  return [f ? `.${f}` : '', v / d];
}

/** Duration.String(): "1h30m0s", "1.5s", "300ms", "2µs", "0s". */
export function formatDuration(nanos: bigint | number): string {
  let u = BigInt(nanos);
  if (u === 0n) return '0s';
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < SECOND) {
    if (u < MICROSECOND) out = `${u}ns`;
    else if (u < MILLISECOND) {
      const [f, i] = frac(u, 3);
      out = `${i}${f}µs`;
    } else {
      const [f, i] = frac(u, 6);
      out = `${i}${f}ms`;
    }
  } else {
    const [f, secs] = frac(u, 9);
    out = `${secs % 60n}${f}s`;
    const mins = secs / 60n;
    if (mins > 0n) {
      out = `${mins % 60n}m${out}`;
      const hours = mins / 60n;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** Milliseconds as a JavaScript number, for timers. */
export function durationToMillis(nanos: bigint): number {
  return Number(nanos) / 1e6;
}

export function millisToDuration(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}
