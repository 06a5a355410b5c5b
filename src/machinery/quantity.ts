// resource.Quantity (k8s.io/apimachinery/pkg/api/resource/quantity.go): parsing, exact
// arithmetic and the canonical string form. A value is held as mantissa × 10^exponent with a
// BigInt mantissa, so nothing is lost to floating point; parsing rounds away from zero to
// nanounits as upstream does. Canonical forms: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/

export type QuantityFormat = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

const SPLIT_RE_STRING = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
export const ERR_FORMAT_WRONG = `quantities must match the regular expression '${SPLIT_RE_STRING}'`;
export const ERR_NUMERIC = 'unable to parse numeric part of quantity';
export const ERR_SUFFIX = "unable to parse quantity's suffix";

/** A string that is not a quantity; the message is upstream's, for the caller to wrap (400 on decode). */
export class QuantityParseError extends Error {}

const NANO = -9;
const MAX_INT64 = (1n << 63n) - 1n;
const DEC_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BIN_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DEC_BY_EXP = new Map(Object.entries(DEC_SUFFIXES).map(([s, e]) => [e, s]));
const BIN_BY_EXP = new Map(Object.entries(BIN_SUFFIXES).map(([s, e]) => [e, s]));
const SUFFIX_CHARS = 'eEinumkKMGTP';
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

const pow10 = (n: number) => 10n ** BigInt(n);
const abs = (v: bigint) => (v < 0n ? -v : v);

/** Splits "−1.5Gi" into sign, integer digits, fraction digits and suffix as upstream's scanner does. */
function splitQuantity(str: string): { positive: boolean; value: string; num: string; denom: string; suffix: string } {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (str[0] === '-') {
    positive = false;
    pos++;
  } else if (str[0] === '+') pos++;
  // Leading zeros are skipped; an all-zero string is 0.
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  let num = str.slice(pos, i);
  if (i >= end) return { positive, value: str, num: num || '0', denom: '', suffix: '' };
  pos = i;
  if (num === '') num = '0';
  let denom = '';
  if (str[pos] === '.') {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    if (i >= end) return { positive, value: str, num, denom, suffix: '' };
    pos = i;
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  i = pos;
  while (i < end && SUFFIX_CHARS.includes(str[i])) i++;
  if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
  pos = i;
  if (str[pos] === '-' || str[pos] === '+') pos++;
  i = pos;
  while (i < end && isDigit(str[i])) i++;
  if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
  throw new QuantityParseError(ERR_FORMAT_WRONG);
}

/** The suffix as base, exponent and format; undefined when upstream's suffixer rejects it. */
function interpretSuffix(s: string): { base: 2 | 10; exponent: number; format: QuantityFormat } | undefined {
  if (own(DEC_SUFFIXES, s)) return { base: 10, exponent: DEC_SUFFIXES[s], format: 'DecimalSI' };
  if (own(BIN_SUFFIXES, s)) return { base: 2, exponent: BIN_SUFFIXES[s], format: 'BinarySI' };
  if (s.length > 1 && (s[0] === 'e' || s[0] === 'E')) {
    const rest = s.slice(1);
    if (!/^[+-]?\d+$/.test(rest)) return undefined;
    const v = BigInt(rest);
    if (v > MAX_INT64 || v < -MAX_INT64 - 1n) return undefined;
    // Go keeps int32(parsed): out-of-range exponents wrap.
    return { base: 10, exponent: Number(BigInt.asIntN(32, v)), format: 'DecimalExponent' };
  }
  return undefined;
}

/** Moves trailing decimal zeros of the mantissa into the exponent; 0 is 0e0. */
function normalize(m: bigint, e: number): [bigint, number] {
  if (m === 0n) return [0n, 0];
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  return [m, e];
}

export class Quantity {
  /** value = mantissa × 10^exponent, mantissa without trailing zeros. */
  readonly mantissa: bigint;
  readonly exponent: number;
  readonly format: QuantityFormat;
  /** The input string when upstream would keep it (it judged it already canonical). */
  private readonly original: string | undefined;

  private constructor(m: bigint, e: number, format: QuantityFormat, original?: string) {
    [this.mantissa, this.exponent] = normalize(m, e);
    this.format = format;
    this.original = original;
  }

  static parse(str: string): Quantity {
    return parseQuantity(str);
  }

  /** value × 10^scale in the given format (resource.NewScaledQuantity and friends). */
  static fromScaled(value: bigint | number, scale = 0, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(value), scale, format);
  }

  static fromInt(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
    return Quantity.fromScaled(value, 0, format);
  }

  static fromMilli(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
    return Quantity.fromScaled(value, -3, format);
  }

  /** @internal Used by the parser. */
  static make(m: bigint, e: number, format: QuantityFormat, original?: string): Quantity {
    return new Quantity(m, e, format, original);
  }

  sign(): -1 | 0 | 1 {
    return this.mantissa < 0n ? -1 : this.mantissa > 0n ? 1 : 0;
  }

  isZero(): boolean {
    return this.mantissa === 0n;
  }

  cmp(y: Quantity): -1 | 0 | 1 {
    const [a, b] = align(this, y);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equal(y: Quantity): boolean {
    return this.cmp(y) === 0;
  }

  cmpInt64(v: bigint | number): -1 | 0 | 1 {
    return this.cmp(Quantity.fromInt(v));
  }

  /** Sum; keeps this quantity's format unless it is zero (then y's), as upstream's Add. */
  add(y: Quantity): Quantity {
    const [a, b, e] = alignWithExp(this, y);
    return new Quantity(a + b, e, this.isZero() ? y.format : this.format);
  }

  sub(y: Quantity): Quantity {
    const [a, b, e] = alignWithExp(this, y);
    return new Quantity(a - b, e, this.isZero() ? y.format : this.format);
  }

  neg(): Quantity {
    return new Quantity(-this.mantissa, this.exponent, this.format);
  }

  mul(factor: bigint | number): Quantity {
    return new Quantity(this.mantissa * BigInt(factor), this.exponent, this.format);
  }

  /** ceil(|q| / 10^scale) with q's sign (rounding away from zero), as upstream's ScaledValue. */
  scaledValue(scale: number): bigint {
    const shift = this.exponent - scale;
    if (shift >= 0) return this.mantissa * pow10(shift);
    const d = pow10(-shift);
    const q = this.mantissa / d;
    if (this.mantissa % d === 0n) return q;
    return this.mantissa > 0n ? q + 1n : q - 1n;
  }

  /** Value() rounded up to an integer; a plain number (exact below 2^53). */
  value(): number {
    return Number(this.scaledValue(0));
  }

  milliValue(): number {
    return Number(this.scaledValue(-3));
  }

  /** AsInt64: the exact integer value when there is one within int64. */
  asInt64(): bigint | undefined {
    if (this.exponent < 0) return undefined;
    const v = this.mantissa * pow10(this.exponent);
    return v > MAX_INT64 || v < -MAX_INT64 - 1n ? undefined : v;
  }

  asApproximateFloat64(): number {
    return Number(this.mantissa) * 10 ** this.exponent;
  }

  /** RoundUp(scale): rounds away from zero to a multiple of 10^scale. */
  roundUp(scale: number): Quantity {
    if (this.exponent >= scale) return this;
    return new Quantity(this.scaledValue(scale), scale, this.format);
  }

  /** The same value shown in another format. */
  withFormat(format: QuantityFormat): Quantity {
    return new Quantity(this.mantissa, this.exponent, format);
  }

  toString(): string {
    if (this.original !== undefined) return this.original;
    if (this.isZero()) return '0';
    let format = this.format;
    if (format === 'BinarySI') {
      // Small or fractional binary quantities print in decimal (upstream's CanonicalizeBytes).
      if (this.cmpInt64(-1024) > 0 && this.cmpInt64(1024) < 0) format = 'DecimalSI';
      else if (this.exponent < 0) format = 'DecimalSI';
    }
    const sign = this.mantissa < 0n ? '-' : '';
    if (format === 'BinarySI') {
      let v = abs(this.mantissa) * pow10(this.exponent);
      let times = 0;
      // Ei is the largest binary suffix; beyond it the number grows instead.
      while (times < 6 && v % 1024n === 0n) {
        v /= 1024n;
        times++;
      }
      return `${sign}${v}${BIN_BY_EXP.get(times * 10) ?? ''}`;
    }
    let m = abs(this.mantissa);
    let e = this.exponent;
    const r = ((e % 3) + 3) % 3;
    if (r !== 0) {
      m *= pow10(r);
      e -= r;
    }
    if (format === 'DecimalExponent') return `${sign}${m}${e === 0 ? '' : `e${e}`}`;
    if (e > 18) {
      // No SI suffix above E: keep the value exact with a larger number.
      m *= pow10(e - 18);
      e = 18;
    }
    return `${sign}${m}${DEC_BY_EXP.get(e) ?? ''}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function alignWithExp(x: Quantity, y: Quantity): [bigint, bigint, number] {
  const e = Math.min(x.exponent, y.exponent);
  return [x.mantissa * pow10(x.exponent - e), y.mantissa * pow10(y.exponent - e), e];
}

function align(x: Quantity, y: Quantity): [bigint, bigint] {
  // Different signs or zeros decide without scaling (avoids 10^huge for 1e999999 vs 1m).
  const sx = x.sign();
  const sy = y.sign();
  if (sx !== sy || sx === 0) return [BigInt(sx), BigInt(sy)];
  const digits = (q: Quantity) => abs(q.mantissa).toString().length + q.exponent;
  const dx = digits(x);
  const dy = digits(y);
  if (dx !== dy) return sx > 0 ? [BigInt(dx), BigInt(dy)] : [BigInt(-dx), BigInt(-dy)];
  const [a, b] = alignWithExp(x, y);
  return [a, b];
}

/** ParseQuantity; throws QuantityParseError with upstream's message. */
export function parseQuantity(str: string): Quantity {
  if (str.length === 0) throw new QuantityParseError(ERR_FORMAT_WRONG);
  if (str === '0') return Quantity.make(0n, 0, 'DecimalSI', '0');
  const { positive, value, num, denom, suffix } = splitQuantity(str);
  const suf = interpretSuffix(suffix);
  if (!suf) throw new QuantityParseError(ERR_SUFFIX);
  const { base, exponent } = suf;
  let format = suf.format;

  // Upstream's int64 fast path decides whether the input string is kept as the printed form.
  let precision: number;
  let scale = 0;
  let multiplier = 1n;
  if (format === 'BinarySI') {
    if (exponent >= 0 && denom.length === 0) {
      multiplier = 1n << BigInt(exponent);
      precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else precision = -1;
  } else {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  }
  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= NANO) {
      const shifted = num + denom;
      const v = BigInt(shifted) * multiplier;
      if (v <= MAX_INT64) {
        const m = positive ? v : -v;
        let keep = false;
        if (format === 'BinarySI') keep = exponent % 10 === 0 && (BigInt(shifted) & 7n) !== 0n;
        else keep = scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0';
        return Quantity.make(m, scale, format, keep ? str : undefined);
      }
    }
  }

  // Exact path: the decimal value, scaled, rounded away from zero to nanounits.
  if (!/\d/.test(value)) throw new QuantityParseError(ERR_NUMERIC);
  let m = BigInt(num + denom);
  let e = -denom.length;
  if (base === 10) e += exponent;
  else m *= 1n << BigInt(exponent);
  if (e < NANO) {
    const d = pow10(NANO - e);
    m = m % d === 0n ? m / d : m / d + 1n;
    e = NANO;
  }
  if (format === 'BinarySI') {
    const [nm, ne] = normalize(m, e);
    const q = Quantity.make(nm, ne, format);
    if (q.cmp(Quantity.fromInt(MAX_INT64)) > 0) {
      m = MAX_INT64;
      e = 0;
    } else if (!q.isZero() && q.cmpInt64(1) < 0) format = 'DecimalSI';
  }
  return Quantity.make(positive ? m : -m, e, format);
}

/** Parses a quantity as JSON carries it: a string, or a number (upstream accepts both). */
export function quantityFrom(v: unknown): Quantity {
  if (v instanceof Quantity) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return parseQuantity(String(v));
  if (typeof v === 'string') return parseQuantity(v.trim());
  throw new QuantityParseError(ERR_FORMAT_WRONG);
}

/** The upstream error message for a string that is not a quantity, or undefined when it is one. */
export function quantityError(v: unknown): string | undefined {
  try {
    quantityFrom(v);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The form the API server stores and returns for a quantity written as `v`. */
export function canonicalQuantity(v: unknown): string {
  return quantityFrom(v).toString();
}
