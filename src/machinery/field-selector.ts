// Field selectors: `metadata.name=x,status.phase!=Running` (=, ==, !=; `\` escapes).

import { StatusError } from './errors.js';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export class FieldSelector {
  constructor(readonly requirements: FieldRequirement[]) {}

  empty(): boolean {
    return this.requirements.length === 0;
  }

  matches(get: (field: string) => string | undefined): boolean {
    for (const r of this.requirements) {
      const v = get(r.field) ?? '';
      if (r.op === '=' ? v !== r.value : v === r.value) return false;
    }
    return true;
  }

  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.op}${r.value}`).join(',');
  }
}

/** Splits on unescaped commas and removes escapes; upstream's escaping rules. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) {
      cur += s[i] + s[i + 1];
      i++;
    } else if (s[i] === ',') {
      out.push(cur);
      cur = '';
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

export function parseFieldSelector(input: string): FieldSelector {
  const s = input.trim();
  if (!s) return new FieldSelector([]);
  const reqs: FieldRequirement[] = [];
  for (const term of splitTerms(s)) {
    if (!term) continue;
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(term);
    if (!m || !m[1]) throw StatusError.badRequest(`invalid selector: '${input}'; can't understand '${term}'`);
    reqs.push({ field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: unescape(m[3]) });
  }
  return new FieldSelector(reqs);
}
