// Field selectors (k8s.io/apimachinery/pkg/fields): `metadata.name=x,status.phase!=Running`
// with =, == and !=; values escape `\`, `,` and `=` with a backslash. Terms are sorted as
// upstream sorts them, so the canonical string is stable.

import { StatusError } from './errors.js';

export type FieldOperator = '=' | '==' | '!=';

export interface FieldRequirement {
  readonly field: string;
  /** '=' and '==' both mean equality; kept as written. */
  readonly operator: FieldOperator;
  readonly value: string;
}

/** Reads a field of an object as a field selector sees it; undefined counts as "". */
export type FieldGetter = (field: string) => string | undefined;

export class FieldSelector {
  readonly requirements: readonly FieldRequirement[];

  constructor(requirements: readonly FieldRequirement[]) {
    // Upstream drops terms whose field and value are both empty ("=").
    this.requirements = requirements.filter((r) => r.field !== '' || r.value !== '');
  }

  static everything(): FieldSelector {
    return new FieldSelector([]);
  }

  empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(get: FieldGetter): boolean {
    for (const r of this.requirements) {
      const v = get(r.field) ?? '';
      if (r.operator === '!=' ? v === r.value : v !== r.value) return false;
    }
    return true;
  }

  /** The value `field` must equal, if any term demands one (RequiresExactMatch). */
  requiresExactMatch(field: string): string | undefined {
    return this.requirements.find((r) => r.field === field && r.operator !== '!=')?.value;
  }

  /** Canonical form: `==` prints as `=`, values escaped. */
  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator === '!=' ? '!=' : '='}${escapeFieldValue(r.value)}`).join(',');
  }

  /** Throws upstream's 400 for the first field the resource cannot select on. */
  assertSupported(supported: (field: string) => boolean): void {
    for (const r of this.requirements) {
      if (!supported(r.field)) throw StatusError.badRequest(`field label not supported: ${r.field}`);
    }
  }
}

export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** fields.UnescapeValue; errors are 400s with upstream's wording (Go prints the rune as a number). */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c !== '\\' && c !== ',' && c !== '=') throw StatusError.badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      inSlash = false;
    } else if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') throw StatusError.badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw StatusError.badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Splits on commas not escaped by a backslash. */
function splitTerms(s: string): string[] {
  if (s.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** The first operator found scanning left to right; at one position "!=" and "==" win over "=". */
function splitTerm(term: string): [string, FieldOperator, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** fields.ParseSelector; a malformed selector is a 400 StatusError. */
export function parseFieldSelector(input: string): FieldSelector {
  const parts = splitTerms(input).sort();
  const reqs: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const t = splitTerm(part);
    if (!t) throw StatusError.badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    reqs.push({ field: t[0], operator: t[1], value: unescapeFieldValue(t[2]) });
  }
  return new FieldSelector(reqs);
}

/** fields.SelectorFromSet: equality on every entry. */
export function fieldSelectorFromSet(set: Record<string, string> | undefined | null): FieldSelector {
  return new FieldSelector(Object.entries(set ?? {}).map(([field, value]) => ({ field, operator: '=' as const, value })));
}
