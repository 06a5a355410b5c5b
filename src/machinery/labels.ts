// Label selectors (k8s.io/apimachinery/pkg/labels and metav1.LabelSelectorAsSelector): the
// string form `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1` with upstream's lexer, parser, error
// messages and canonical string form, and the metav1.LabelSelector object form.

import { StatusError } from './errors.js';
import { type FieldError, fieldErr, fieldErrorMessage, FieldPath } from './field-errors.js';
import { isQualifiedName, isValidLabelValue, validateLabels } from './validation.js';

/** selection.Operator values, as upstream spells them. */
export type Operator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

const has = (l: Labels, k: string) => Object.prototype.hasOwnProperty.call(l, k);
const byKey = (a: Requirement, b: Requirement) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
const INT_RE = /^[+-]?\d+$/;

function parseInt64(s: string): bigint | undefined {
  if (!INT_RE.test(s)) return undefined;
  const v = BigInt(s);
  return v >= -(2n ** 63n) && v < 2n ** 63n ? v : undefined;
}

export function requirementMatches(r: Requirement, labels: Labels): boolean {
  switch (r.operator) {
    case '=':
    case '==':
    case 'in':
      return has(labels, r.key) && r.values.includes(labels[r.key]);
    case '!=':
    case 'notin':
      return !has(labels, r.key) || !r.values.includes(labels[r.key]);
    case 'exists':
      return has(labels, r.key);
    case '!':
      return !has(labels, r.key);
    case 'gt':
    case 'lt': {
      if (!has(labels, r.key) || r.values.length !== 1) return false;
      const lv = parseInt64(labels[r.key]);
      const rv = parseInt64(r.values[0]);
      if (lv === undefined || rv === undefined) return false;
      return r.operator === 'gt' ? lv > rv : lv < rv;
    }
  }
}

/** Requirement.String(): values sorted only when there are several, as upstream's safeSort. */
export function requirementString(r: Requirement): string {
  let s = r.operator === '!' ? `!${r.key}` : r.key;
  switch (r.operator) {
    case 'exists':
    case '!':
      return s;
    case '=':
    case '==':
    case '!=':
      s += r.operator;
      break;
    case 'in':
    case 'notin':
      s += ` ${r.operator} `;
      break;
    case 'gt':
      s += '>';
      break;
    case 'lt':
      s += '<';
      break;
  }
  const vals = r.values.length === 1 ? r.values[0] : [...r.values].sort().join(',');
  return r.operator === 'in' || r.operator === 'notin' ? `${s}(${vals})` : s + vals;
}

export class Selector {
  /** Requirements sorted by key (stable), as upstream keeps them. */
  readonly requirements: readonly Requirement[];
  private readonly nothing: boolean;

  constructor(requirements: readonly Requirement[], opts: { nothing?: boolean } = {}) {
    this.requirements = [...requirements].sort(byKey);
    this.nothing = opts.nothing ?? false;
  }

  static everything(): Selector {
    return new Selector([]);
  }

  /** labels.Nothing(): what a nil metav1.LabelSelector selects. */
  static nothing(): Selector {
    return new Selector([], { nothing: true });
  }

  /** True when the selector selects everything (no requirements). */
  empty(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  matches(labels: Labels | undefined | null): boolean {
    if (this.nothing) return false;
    const l = labels ?? {};
    for (const r of this.requirements) if (!requirementMatches(r, l)) return false;
    return true;
  }

  toString(): string {
    return this.requirements.map(requirementString).join(',');
  }

  /** The value `key` must equal (=, == or a one-value in), as upstream's RequiresExactMatch; for index lookups. */
  requiresExactMatch(key: string): string | undefined {
    const r = this.requirements.find((x) => x.key === key);
    if (!r) return undefined;
    if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) return r.values[0];
    return undefined;
  }

  /** Every exact-match pair (key → value) the selector demands; an index can narrow candidates by any of them. */
  exactMatches(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const r of this.requirements) {
      if (has(out, r.key)) continue;
      const v = this.requiresExactMatch(r.key);
      if (v !== undefined) out[r.key] = v;
    }
    return out;
  }

  /** A new selector with more requirements (Selector.Add). */
  add(...reqs: Requirement[]): Selector {
    return new Selector([...this.requirements, ...reqs], { nothing: this.nothing });
  }
}

/** labels.NewRequirement: validates key, values and their count for the operator; errors as field errors. */
export function requirementErrors(key: string, operator: Operator, values: readonly string[], path?: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const child = (n: string) => (path ? path.child(n) : new FieldPath(n));
  const keyErrs = isQualifiedName(key);
  if (keyErrs.length) errs.push(fieldErr.invalid(child('key'), key, keyErrs.join('; ')));
  const vp = child('values');
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push(goSliceInvalid(vp, values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push(goSliceInvalid(vp, values, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push(goSliceInvalid(vp, values, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push(goSliceInvalid(vp, values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) errs.push(fieldErr.invalid(vp.index(i), v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
    default:
      errs.push(fieldErr.notSupported(child('operator'), operator, ['in', 'notin', '=', '==', '!=', 'exists', '!', 'gt', 'lt']));
  }
  values.forEach((v, i) => {
    const ve = isValidLabelValue(v);
    if (ve.length) errs.push(fieldErr.invalid(vp.index(i).key(key), v, ve.join('; ')));
  });
  return errs;
}

/** Upstream's field errors print a []string bad value with %#v: []string{"a", "b"}. */
function goSliceInvalid(path: FieldPath, values: readonly string[], detail: string): FieldError {
  return { ...fieldErr.invalid(path, values, detail), renderedValue: `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}` };
}

/** utilerrors.Aggregate's Error(): one message alone, several as "[a, b]" (duplicates dropped). */
function aggregate(errs: FieldError[]): string {
  const msgs = [...new Set(errs.map(fieldErrorMessage))];
  return msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
}

/** Builds a validated requirement; throws a 400 StatusError with upstream's message. */
export function newRequirement(key: string, operator: Operator, values: readonly string[]): Requirement {
  const errs = requirementErrors(key, operator, values);
  if (errs.length) throw StatusError.badRequest(aggregate(errs));
  return { key, operator, values: [...values] };
}

// ---- the string form: upstream's lexer and recursive-descent parser ----

type Tok = 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';
interface Item {
  tok: Tok;
  lit: string;
}

const KEYWORDS: Record<string, Tok> = { ')': ')', ',': ',', '!': '!', '==': '==', '=': '=', '>': '>', in: 'in', '<': '<', '!=': '!=', notin: 'notin', '(': '(' };
const isWs = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string) => c === '=' || c === '!' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<';

function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isWs(s[pos])) pos++;
    if (pos >= s.length) {
      items.push({ tok: 'eos', lit: '' });
      return items;
    }
    if (isSpecial(s[pos])) {
      // Longest run of symbols that is still a known token ("!=" not "!" then "=").
      let buf = '';
      let last: Item | undefined;
      while (pos < s.length && isSpecial(s[pos])) {
        buf += s[pos];
        const t = Object.prototype.hasOwnProperty.call(KEYWORDS, buf) ? KEYWORDS[buf] : undefined;
        if (t) last = { tok: t, lit: buf };
        else if (last) break;
        pos++;
      }
      items.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buf}'` });
    } else {
      const start = pos;
      while (pos < s.length && !isSpecial(s[pos]) && !isWs(s[pos])) pos++;
      const word = s.slice(start, pos);
      const t = word === 'in' || word === 'notin' ? KEYWORDS[word] : 'id';
      items.push({ tok: t, lit: word });
    }
  }
}

type Ctx = 'keyAndOperator' | 'values';
const BINARY_OPERATORS = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  private view(i: number, ctx: Ctx): Item {
    const it = this.items[Math.min(i, this.items.length - 1)];
    // In a values context the keywords "in"/"notin" are plain identifiers (a label may be named "in").
    if (ctx === 'values' && (it.tok === 'in' || it.tok === 'notin')) return { tok: 'id', lit: it.lit };
    return it;
  }
  private lookahead(ctx: Ctx): Item {
    return this.view(this.pos, ctx);
  }
  private consume(ctx: Ctx): Item {
    return this.view(this.pos++, ctx);
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.lookahead('values');
      if (tok === 'id' || tok === '!') {
        let r: Requirement;
        try {
          r = this.parseRequirement();
        } catch (e) {
          throw StatusError.badRequest(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const t = this.consume('values');
        if (t.tok === 'eos') return reqs;
        if (t.tok === ',') {
          const t2 = this.lookahead('values');
          if (t2.tok !== 'id' && t2.tok !== '!') throw StatusError.badRequest(`found '${t2.lit}', expected: identifier after ','`);
        } else {
          throw StatusError.badRequest(`found '${t.lit}', expected: ',' or 'end of string'`);
        }
      } else if (tok === 'eos') {
        return reqs;
      } else {
        throw StatusError.badRequest(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): Requirement {
    let operator: Operator | undefined;
    let t = this.consume('values');
    if (t.tok === '!') {
      operator = '!';
      t = this.consume('values');
    }
    if (t.tok !== 'id') throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyErrs = isQualifiedName(key);
    // Upstream validates the key with a nil field path, which Go prints as "<nil>".
    if (keyErrs.length) throw new Error(fieldErrorMessage(fieldErr.invalid('<nil>', key, keyErrs.join('; '))));
    const next = this.lookahead('values').tok;
    if (next === 'eos' || next === ',') operator ??= 'exists';
    if (operator === 'exists' || operator === '!') return checked(key, operator, []);
    const op = this.parseOperator();
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    // sets.String.List(): sorted and without duplicates.
    return checked(key, op, [...new Set(values)].sort());
  }

  private parseOperator(): Operator {
    const { tok, lit } = this.consume('keyAndOperator');
    switch (tok) {
      case 'in':
      case 'notin':
      case '=':
      case '==':
      case '!=':
        return tok;
      case '>':
        return 'gt';
      case '<':
        return 'lt';
      default:
        throw new Error(`found '${lit}', expected: ${BINARY_OPERATORS.join(', ')}`);
    }
  }

  private parseValues(): string[] {
    const open = this.consume('values');
    if (open.tok !== '(') throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.lookahead('values');
    if (tok === 'id' || tok === ',') {
      const s = this.parseIdentifiersList();
      if (this.consume('values').tok !== ')') throw new Error(`found '${lit}', expected: ')'`);
      return s;
    }
    if (tok === ')') {
      this.consume('values');
      return [''];
    }
    throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
  }

  private parseIdentifiersList(): string[] {
    const s: string[] = [];
    for (;;) {
      const { tok, lit } = this.consume('values');
      if (tok === 'id') {
        s.push(lit);
        const t2 = this.lookahead('values');
        if (t2.tok === ',') continue;
        if (t2.tok === ')') return s;
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (tok === ',') {
        // "(,", ",)" and ",," stand for empty values.
        if (s.length === 0) s.push('');
        const t2 = this.lookahead('values').tok;
        if (t2 === ')') {
          s.push('');
          return s;
        }
        if (t2 === ',') {
          this.consume('values');
          s.push('');
        }
      } else {
        throw new Error(`found '${lit}', expected: ',', or identifier`);
      }
    }
  }

  private parseExactValue(): string[] {
    const t = this.lookahead('values').tok;
    if (t === 'eos' || t === ',') return [''];
    const { tok, lit } = this.consume('values');
    if (tok === 'id') return [lit];
    throw new Error(`found '${lit}', expected: identifier`);
  }
}

function checked(key: string, operator: Operator, values: string[]): Requirement {
  const errs = requirementErrors(key, operator, values);
  if (errs.length) throw new Error(aggregate(errs));
  return { key, operator, values };
}

/** labels.Parse: the string form; a syntax or validation error is a 400 StatusError. */
export function parseSelector(input: string): Selector {
  return new Selector(new Parser(lex(input)).parse());
}

/** labels.SelectorFromSet: one equality requirement per entry (not validated, as upstream). */
export function selectorFromSet(set: Labels | undefined | null): Selector {
  return new Selector(Object.entries(set ?? {}).map(([key, v]) => ({ key, operator: '=' as const, values: [v] })));
}

/** labels.Set.String(): "a=b,c=d" sorted; kubectl prints "<none>" for an empty set (formatLabels). */
export function formatLabels(set: Labels | undefined | null, empty = '<none>'): string {
  const s = Object.entries(set ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');
  return s || empty;
}

// ---- metav1.LabelSelector ----

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const OBJECT_OPS: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/**
 * metav1.LabelSelectorAsSelector: null selects nothing, {} selects everything; an unknown
 * operator or an invalid key/value throws a 400 StatusError with upstream's message.
 */
export function labelSelectorAsSelector(ps: LabelSelector | undefined | null): Selector {
  if (!ps) return Selector.nothing();
  const ml = Object.entries(ps.matchLabels ?? {});
  const me = ps.matchExpressions ?? [];
  if (ml.length + me.length === 0) return Selector.everything();
  const reqs: Requirement[] = [];
  for (const [k, v] of ml) reqs.push(newRequirement(k, '=', [v]));
  for (const e of me) {
    const op = Object.prototype.hasOwnProperty.call(OBJECT_OPS, e.operator) ? OBJECT_OPS[e.operator] : undefined;
    if (!op) throw StatusError.badRequest(`${JSON.stringify(e.operator)} is not a valid label selector operator`);
    reqs.push(newRequirement(e.key, op, e.values ?? []));
  }
  return new Selector(reqs);
}

/** As labelSelectorAsSelector, but a missing selector selects everything (for printing and defaults). */
export function selectorFromObject(ps: LabelSelector | undefined | null): Selector {
  return ps ? labelSelectorAsSelector(ps) : Selector.everything();
}

/** The string form of a LabelSelector object ("app=web,tier in (a,b)"); "<error>" when it is invalid, as upstream prints it. */
export function selectorToString(ps: LabelSelector | undefined | null): string {
  try {
    return selectorFromObject(ps).toString();
  } catch {
    return '<error>';
  }
}

/** metav1.FormatLabelSelector, for SELECTOR columns: "<none>" when empty, "<error>" when invalid. */
export function formatLabelSelector(ps: LabelSelector | undefined | null): string {
  return selectorToString(ps) || '<none>';
}

export interface LabelSelectorValidationOptions {
  allowInvalidLabelValueInSelector?: boolean;
  allowUnknownOperatorInRequirement?: boolean;
}

/** metav1validation.ValidateLabelSelector, for kinds whose spec holds a selector. */
export function validateLabelSelector(ps: LabelSelector | undefined | null, path: FieldPath, opts: LabelSelectorValidationOptions = {}): FieldError[] {
  const errs: FieldError[] = [];
  if (!ps) return errs;
  errs.push(...validateLabels(ps.matchLabels, path.child('matchLabels')));
  (ps.matchExpressions ?? []).forEach((sr, i) => {
    const p = path.child('matchExpressions').index(i);
    const values = sr.values ?? [];
    switch (sr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) errs.push(fieldErr.required(p.child('values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) errs.push(fieldErr.forbidden(p.child('values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      default:
        if (!opts.allowUnknownOperatorInRequirement) errs.push(fieldErr.invalid(p.child('operator'), sr.operator, 'not a valid selector operator'));
    }
    for (const m of isQualifiedName(sr.key ?? '')) errs.push(fieldErr.invalid(p.child('key'), sr.key ?? '', m));
    if (!opts.allowInvalidLabelValueInSelector) {
      values.forEach((v, vi) => {
        for (const m of isValidLabelValue(v)) errs.push(fieldErr.invalid(p.child('values').index(vi), v, m));
      });
    }
  });
  return errs;
}
