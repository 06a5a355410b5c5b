// IntOrString (k8s.io/apimachinery/pkg/util/intstr): a JSON number or string, used for ports
// ("http" or 8080) and for counts that may be percentages ("25%" or 3).

import { type FieldError, fieldErr, FieldPath } from './field-errors.js';
import { isValidPercent } from './validation.js';

export type IntOrString = number | string;

/** Go's strconv.Atoi: optional sign, decimal digits, within int64. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return undefined;
  return Number(v);
}

function atoiError(s: string): string {
  return /^[+-]?\d+$/.test(s) ? `strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range` : `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`;
}

/**
 * GetScaledValueFromIntOrPercent: an int is returned as is; "N%" is N percent of total, rounded up
 * or down. Any other string is an error with upstream's message.
 */
export function getScaledValueFromIntOrPercent(v: IntOrString | undefined | null, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) throw new Error('nil value for IntOrString');
  if (typeof v === 'number') return Math.trunc(v);
  if (!v.endsWith('%')) throw new Error('invalid value for IntOrString: invalid type: string is not a percentage');
  const n = atoi(v.slice(0, -1));
  if (n === undefined) throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}: ${atoiError(v.slice(0, -1))}`);
  // Integer arithmetic where it is exact; same result as upstream's float64 ceil/floor.
  const product = n * total;
  return roundUp ? Math.ceil(product / 100) : Math.floor(product / 100);
}

/** The int value of an IntOrString (IntValue): a string is parsed, 0 when it is not a number. */
export function intValue(v: IntOrString): number {
  if (typeof v === 'number') return v;
  return atoi(v) ?? 0;
}

/** The percentage held by "N%" strings; undefined for ints and other strings. */
export function percentValue(v: IntOrString | undefined | null): number | undefined {
  if (typeof v !== 'string' || isValidPercent(v).length > 0) return undefined;
  return Number(v.slice(0, -1));
}

/** apps validation's ValidatePositiveIntOrPercent: a non-negative int or a "N%" string. */
export function validatePositiveIntOrPercent(v: unknown, path: FieldPath | string): FieldError[] {
  const p = typeof path === 'string' ? new FieldPath(path) : path;
  if (typeof v === 'string') return isValidPercent(v).map((m) => fieldErr.invalid(p, v, m));
  if (typeof v === 'number' && Number.isInteger(v)) return v < 0 ? [fieldErr.invalid(p, v, 'must be greater than or equal to 0')] : [];
  return [fieldErr.invalid(p, v, "must be an integer or percentage (e.g '5%')")];
}

/** IsNotMoreThan100Percent: percentages above 100% are invalid; ints are not checked here. */
export function validateNotMoreThan100Percent(v: unknown, path: FieldPath | string): FieldError[] {
  const p = typeof path === 'string' ? new FieldPath(path) : path;
  const pct = typeof v === 'string' ? percentValue(v) : undefined;
  if (pct === undefined || pct <= 100) return [];
  return [fieldErr.invalid(p, v, 'must not be greater than 100%')];
}
