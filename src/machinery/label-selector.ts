// Label selectors: the string form (`a=b,c!=d,e in (x,y),!f`) and metav1.LabelSelector objects,
// with upstream's parse errors and canonical string form.

import { StatusError } from './errors.js';
import { isQualifiedName, isValidLabelValue } from './name-validation.js';

export type Operator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!';

export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!' | '=' | '!=';
  values: string[];
}

export class Selector {
  constructor(readonly requirements: Requirement[]) {}

  empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(labels: Record<string, string> | undefined): boolean {
    const l = labels ?? {};
    for (const r of this.requirements) {
      const has = Object.prototype.hasOwnProperty.call(l, r.key);
      const v = l[r.key];
      switch (r.op) {
        case '=':
        case 'in':
          if (!has || !r.values.includes(v)) return false;
          break;
        case '!=':
        case 'notin':
          if (has && r.values.includes(v)) return false;
          break;
        case 'exists':
          if (!has) return false;
          break;
        case '!':
          if (has) return false;
          break;
      }
    }
    return true;
  }

  /** Canonical form, requirements sorted by key as upstream prints them. */
  toString(): string {
    return [...this.requirements]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((r) => {
        switch (r.op) {
          case '=':
            return `${r.key}=${r.values[0]}`;
          case '!=':
            return `${r.key}!=${r.values[0]}`;
          case 'in':
            return `${r.key} in (${[...r.values].sort().join(',')})`;
          case 'notin':
            return `${r.key} notin (${[...r.values].sort().join(',')})`;
          case 'exists':
            return r.key;
          case '!':
            return `!${r.key}`;
        }
        return '';
      })
      .join(',');
  }
}

function bad(msg: string): StatusError {
  return StatusError.badRequest(`unable to parse requirement: ${msg}`);
}

function checkKey(key: string): void {
  const errs = isQualifiedName(key);
  if (errs.length) throw bad(`key: Invalid value: "${key}": ${errs.join('; ')}`);
}

function checkValue(v: string): void {
  const errs = isValidLabelValue(v);
  if (errs.length) throw bad(`values[0][value]: Invalid value: "${v}": ${errs.join('; ')}`);
}

/** Parses the string form; throws a 400 StatusError on syntax errors. */
export function parseSelector(input: string): Selector {
  const reqs: Requirement[] = [];
  const s = input.trim();
  if (!s) return new Selector([]);
  let i = 0;
  const skipWs = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const readWord = (): string => {
    skipWs();
    const start = i;
    while (i < s.length && !/[\s,=!()]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipWs();
    if (s[i] === '!') {
      i++;
      const key = readWord();
      if (!key) throw bad(`found '${s[i] ?? ''}', expected: identifier`);
      checkKey(key);
      reqs.push({ key, op: '!', values: [] });
    } else {
      const key = readWord();
      if (!key) throw StatusError.badRequest(`found '${s[i] ?? ''}', expected: !, identifier, or 'end of string'`);
      checkKey(key);
      skipWs();
      if (i >= s.length || s[i] === ',') {
        reqs.push({ key, op: 'exists', values: [] });
      } else if (s.startsWith('==', i) || s[i] === '=' || s.startsWith('!=', i)) {
        const op = s.startsWith('!=', i) ? '!=' : '=';
        i += s.startsWith('==', i) || s.startsWith('!=', i) ? 2 : 1;
        const v = readWord();
        checkValue(v);
        reqs.push({ key, op, values: [v] });
      } else {
        const word = readWord();
        if (word !== 'in' && word !== 'notin') throw bad(`found '${word}', expected: in, notin, =, ==, !=, gt, lt`);
        skipWs();
        if (s[i] !== '(') throw bad(`found '${s[i] ?? ''}', expected: '('`);
        i++;
        const values: string[] = [];
        for (;;) {
          skipWs();
          if (s[i] === ')') {
            i++;
            break;
          }
          const v = readWord();
          checkValue(v);
          values.push(v);
          skipWs();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === ')') {
            i++;
            break;
          }
          throw bad(`found '${s[i] ?? 'end of string'}', expected: ',' or ')'`);
        }
        if (!values.length && word === 'in') throw bad('for \'in\', \'notin\' operators, values set can\'t be empty');
        reqs.push({ key, op: word, values });
      }
    }
    skipWs();
    if (i < s.length) {
      if (s[i] !== ',') throw bad(`found '${s[i]}', expected: ',' or 'end of string'`);
      i++;
      skipWs();
      if (i >= s.length) throw bad("found 'end of string', expected: identifier");
    }
  }
  return new Selector(reqs);
}

export interface LabelSelectorObject {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** metav1.LabelSelectorAsSelector. An empty object selects everything. */
export function selectorFromObject(sel: LabelSelectorObject | undefined | null): Selector {
  if (!sel) return new Selector([]);
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key: k, op: '=', values: [v] });
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        reqs.push({ key: e.key, op: 'in', values: e.values ?? [] });
        break;
      case 'NotIn':
        reqs.push({ key: e.key, op: 'notin', values: e.values ?? [] });
        break;
      case 'Exists':
        reqs.push({ key: e.key, op: 'exists', values: [] });
        break;
      case 'DoesNotExist':
        reqs.push({ key: e.key, op: '!', values: [] });
        break;
      default:
        throw StatusError.badRequest(`"${e.operator}" is not a valid label selector operator`);
    }
  }
  return new Selector(reqs);
}

/** The string form of a LabelSelector object ("app=web,tier in (a,b)"). */
export function selectorToString(sel: LabelSelectorObject): string {
  return selectorFromObject(sel).toString();
}
