// Shared matching helpers: tolerations against taints, node selector terms, score normalising.

import type { Labels, Operator, Requirement } from '../../machinery/labels.js';
import { requirementMatches } from '../../machinery/labels.js';
import { MAX_NODE_SCORE, type PodInfo, type Taint, type Toleration } from '../framework/types.js';

/** Toleration.ToleratesTaint. */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator || 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

export function toleratedBy(taint: Taint, tolerations: readonly Toleration[]): boolean {
  for (const t of tolerations) if (tolerates(t, taint)) return true;
  return false;
}

// ---- node selectors ----

const NODE_OPS: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!', Gt: 'gt', Lt: 'lt' };

interface NodeSelectorRequirementJSON {
  key?: string;
  operator?: string;
  values?: string[];
}

export interface NodeSelectorTermJSON {
  matchExpressions?: NodeSelectorRequirementJSON[];
  matchFields?: NodeSelectorRequirementJSON[];
}

/** A compiled term; `null` requirement lists mean the term is invalid and matches nothing. */
export interface CompiledTerm {
  labels: Requirement[] | null;
  fields: Requirement[] | null;
}

function compileRequirement(r: NodeSelectorRequirementJSON, fields: boolean): Requirement | null {
  const op = Object.prototype.hasOwnProperty.call(NODE_OPS, r.operator ?? '') ? NODE_OPS[r.operator!] : undefined;
  if (!op || !r.key) return null;
  const values = r.values ?? [];
  if (fields) {
    if (r.key !== 'metadata.name' || (op !== 'in' && op !== 'notin') || values.length !== 1) return null;
  }
  switch (op) {
    case 'in':
    case 'notin':
      if (values.length === 0) return null;
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) return null;
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1 || !/^[+-]?\d+$/.test(values[0])) return null;
      break;
  }
  return { key: r.key, operator: op, values };
}

export function compileTerm(t: NodeSelectorTermJSON): CompiledTerm {
  const compile = (list: NodeSelectorRequirementJSON[] | undefined, fields: boolean): Requirement[] | null => {
    const out: Requirement[] = [];
    for (const r of list ?? []) {
      const c = compileRequirement(r, fields);
      if (!c) return null;
      out.push(c);
    }
    return out;
  };
  return { labels: compile(t.matchExpressions, false), fields: compile(t.matchFields, true) };
}

/** A term matches when it is valid, not empty, and all its expressions and fields match. */
export function termMatchesNode(t: CompiledTerm, nodeName: string, labels: Labels): boolean {
  if (!t.labels || !t.fields) return false;
  if (t.labels.length === 0 && t.fields.length === 0) return false;
  for (const r of t.labels) if (!requirementMatches(r, labels)) return false;
  if (t.fields.length) {
    const f = { 'metadata.name': nodeName };
    for (const r of t.fields) if (!requirementMatches(r, f)) return false;
  }
  return true;
}

/** The pod's spec.nodeSelector plus required node affinity, compiled once per pod. */
export interface RequiredNodeAffinity {
  selector: [string, string][];
  /** null: no required terms (everything matches); otherwise ORed terms. */
  terms: CompiledTerm[] | null;
}

export function requiredNodeAffinity(pod: PodInfo): RequiredNodeAffinity {
  let r = pod.memo.requiredNodeAffinity as RequiredNodeAffinity | undefined;
  if (!r) {
    const spec = pod.pod.spec ?? {};
    const sel = spec.nodeSelector && typeof spec.nodeSelector === 'object' ? Object.entries(spec.nodeSelector as Record<string, string>) : [];
    const req = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const terms = req ? ((req.nodeSelectorTerms ?? []) as NodeSelectorTermJSON[]).map(compileTerm) : null;
    r = { selector: sel, terms };
    pod.memo.requiredNodeAffinity = r;
  }
  return r;
}

export function matchesRequiredNodeAffinity(r: RequiredNodeAffinity, nodeName: string, labels: Labels): boolean {
  for (const [k, v] of r.selector) if (labels[k] !== v) return false;
  if (r.terms) {
    for (const t of r.terms) if (termMatchesNode(t, nodeName, labels)) return true;
    return false;
  }
  return true;
}

/** helper.DefaultNormalizeScore: scale to [0, 100] by the max; `reverse` flips. */
export function defaultNormalizeScore(scores: number[], reverse: boolean, max = MAX_NODE_SCORE): void {
  let top = 0;
  for (const s of scores) if (s > top) top = s;
  if (top === 0) {
    if (reverse) scores.fill(max);
    return;
  }
  for (let i = 0; i < scores.length; i++) {
    let s = Math.trunc((max * scores[i]) / top);
    if (reverse) s = max - s;
    scores[i] = s;
  }
}
