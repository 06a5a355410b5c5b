// Field-level validation errors, shaped like k8s.io/apimachinery/pkg/util/validation/field.
// Each error renders as "<path>: <type>[: <detail>]" exactly as upstream prints it, because
// kubectl shows these strings to users verbatim.

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'FieldValueNotFound';

const typeText: Record<FieldErrorType, string> = {
  FieldValueRequired: 'Required value',
  FieldValueInvalid: 'Invalid value',
  FieldValueNotSupported: 'Unsupported value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueForbidden: 'Forbidden',
  FieldValueTooLong: 'Too long',
  FieldValueTooMany: 'Too many',
  FieldValueTypeInvalid: 'Invalid value',
  FieldValueNotFound: 'Not found',
};

export interface FieldError {
  type: FieldErrorType;
  field: string;
  /** The offending value, when upstream echoes it (Invalid, NotSupported, Duplicate, ...). */
  badValue?: unknown;
  hasBadValue: boolean;
  /** The bad value as upstream prints it when JSON is not Go's form (e.g. map[string]string{...}). */
  renderedValue?: string;
  detail: string;
}

/** Builds dotted/indexed field paths: new FieldPath('spec').child('containers').index(0). */
export class FieldPath {
  constructor(readonly path: string = '') {}
  child(...names: string[]): FieldPath {
    let p = this.path;
    for (const n of names) p = p ? `${p}.${n}` : n;
    return new FieldPath(p);
  }
  index(i: number): FieldPath {
    return new FieldPath(`${this.path}[${i}]`);
  }
  key(k: string): FieldPath {
    return new FieldPath(`${this.path}[${k}]`);
  }
  toString(): string {
    return this.path;
  }
}

type PathLike = FieldPath | string;
const p = (x: PathLike) => (typeof x === 'string' ? x : x.path);

export const fieldErr = {
  required: (path: PathLike, detail = ''): FieldError => ({ type: 'FieldValueRequired', field: p(path), hasBadValue: false, detail }),
  invalid: (path: PathLike, value: unknown, detail = ''): FieldError => ({ type: 'FieldValueInvalid', field: p(path), badValue: value, hasBadValue: true, detail }),
  notSupported: (path: PathLike, value: unknown, valid: string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field: p(path),
    badValue: value,
    hasBadValue: true,
    detail: valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : '',
  }),
  duplicate: (path: PathLike, value: unknown): FieldError => ({ type: 'FieldValueDuplicate', field: p(path), badValue: value, hasBadValue: true, detail: '' }),
  forbidden: (path: PathLike, detail: string): FieldError => ({ type: 'FieldValueForbidden', field: p(path), hasBadValue: false, detail }),
  tooLong: (path: PathLike, value: unknown, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field: p(path),
    badValue: value,
    hasBadValue: false,
    detail: `may not be more than ${max} bytes`,
  }),
  tooMany: (path: PathLike, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field: p(path),
    badValue: actual,
    hasBadValue: false,
    detail: `must have at most ${max} items`,
  }),
  typeInvalid: (path: PathLike, value: unknown, detail: string): FieldError => ({ type: 'FieldValueTypeInvalid', field: p(path), badValue: value, hasBadValue: true, detail }),
  notFound: (path: PathLike, value: unknown): FieldError => ({ type: 'FieldValueNotFound', field: p(path), badValue: value, hasBadValue: true, detail: '' }),
};

/** Renders a bad value the way Go's %#v-ish printing in field.Error does for common types. */
function renderValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

/** "spec.containers[0].image: Required value" / "metadata.name: Invalid value: \"A\": detail". */
export function fieldErrorMessage(e: FieldError): string {
  let s = `${e.field}: ${typeText[e.type]}`;
  if (e.hasBadValue) s += `: ${e.renderedValue ?? renderValue(e.badValue)}`;
  if (e.detail) s += `: ${e.detail}`;
  return s;
}
