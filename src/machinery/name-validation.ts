// Name, label and metadata validation with upstream's messages
// (k8s.io/apimachinery/pkg/util/validation and pkg/api/validation/objectmeta.go).

import { randomInt } from 'node:crypto';
import { type FieldError, fieldErr, FieldPath } from './field-errors.js';

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?';

const dns1123LabelRe = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const dns1123SubdomainRe = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const dns1035LabelRe = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const qualifiedNameRe = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const labelValueRe = new RegExp(`^${LABEL_VALUE_FMT}$`);

const maxLenMsg = (n: number) => `must be no more than ${n} characters`;
const regexMsg = (msg: string, fmt: string, examples: string[]) =>
  `${msg} (e.g. ${examples.map((e) => `'${e}'`).join(' or ')}, regex used for validation is '${fmt}')`;

export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenMsg(63));
  if (!dns1123LabelRe.test(v)) {
    errs.push(regexMsg("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", DNS1123_LABEL_FMT, ['my-name', '123-abc']));
  }
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenMsg(253));
  if (!dns1123SubdomainRe.test(v)) {
    errs.push(regexMsg("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", DNS1123_SUBDOMAIN_FMT, ['example.com']));
  }
  return errs;
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenMsg(63));
  if (!dns1035LabelRe.test(v)) {
    errs.push(regexMsg("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", DNS1035_LABEL_FMT, ['my-name', 'abc-123']));
  }
  return errs;
}

/** A "qualified name": optional DNS subdomain prefix and "/", then a 63-char name. */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) {
    const [prefix] = parts;
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [
      regexMsg("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", QUALIFIED_NAME_FMT, ['MyName', 'my.name', '123-abc']) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push(`name part ${maxLenMsg(63)}`);
  if (name.length && !qualifiedNameRe.test(name)) {
    errs.push(
      'name part ' +
        regexMsg("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", QUALIFIED_NAME_FMT, ['MyName', 'my.name', '123-abc']),
    );
  }
  return errs;
}

export function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 63) errs.push(maxLenMsg(63));
  if (!labelValueRe.test(v)) {
    errs.push(regexMsg("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", LABEL_VALUE_FMT, ['MyValue', 'my_value', '12345']));
  }
  return errs;
}

/** Environment variable names (IsEnvVarName). */
export function isEnvVarName(v: string): string[] {
  if (!/^[-._a-zA-Z][-._a-zA-Z0-9]*$/.test(v)) {
    return [regexMsg("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit", '[-._a-zA-Z][-._a-zA-Z0-9]*', ['my.env-name', 'MY_ENV.NAME', 'MyEnvName1'])];
  }
  return [];
}

/** ConfigMap and Secret keys (IsConfigMapKey). */
export function isConfigMapKey(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push(maxLenMsg(253));
  if (!/^[-._a-zA-Z0-9]+$/.test(v)) {
    errs.push(regexMsg("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", '[-._a-zA-Z0-9]+', ['key.name', 'KEY_NAME', 'key-name']));
  }
  if (v === '.') errs.push("must not be '.'");
  else if (v === '..') errs.push("must not be '..'");
  else if (v.startsWith('..')) errs.push("must not start with '..'");
  return errs;
}

/** IANA service names used as port names (IsValidPortName). */
export function isValidPortName(v: string): string[] {
  const errs: string[] = [];
  if (v.length < 1 || v.length > 15) errs.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(v)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (v.includes('--')) errs.push("must not contain consecutive hyphens");
  if (v.length > 0 && !/[a-z]/.test(v)) errs.push('must contain at least one letter (a-z)');
  if (v.startsWith('-') || v.endsWith('-')) errs.push('must not begin or end with a hyphen');
  return errs;
}

export function validateLabels(labels: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (labels === undefined || labels === null) return errs;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const m of isQualifiedName(k)) errs.push(fieldErr.invalid(path, k, m));
    if (typeof v !== 'string') errs.push(fieldErr.invalid(path.key(k), v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(fieldErr.invalid(path.key(k), v, m));
  }
  return errs;
}

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

export function validateAnnotations(ann: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (ann === undefined || ann === null) return errs;
  let total = 0;
  for (const [k, v] of Object.entries(ann as Record<string, unknown>)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(fieldErr.invalid(path, k, m));
    total += k.length + (typeof v === 'string' ? v.length : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE) errs.push(fieldErr.tooLong(path, '', TOTAL_ANNOTATION_SIZE));
  return errs;
}

export interface ObjectMetaValidationOptions {
  namespaced: boolean;
  /** Name rule; defaults to DNS-1123 subdomain. */
  nameValidator?: (name: string) => string[];
}

export function validateObjectMeta(meta: Record<string, any>, opts: ObjectMetaValidationOptions): FieldError[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const path = new FieldPath('metadata');
  const errs: FieldError[] = [];
  const nameRule = opts.nameValidator ?? isDNS1123Subdomain;
  if (meta.generateName) {
    for (const m of nameRule(meta.generateName.replace(/-$/, 'a'))) errs.push(fieldErr.invalid(path.child('generateName'), meta.generateName, m));
  }
  if (!meta.name) errs.push(fieldErr.required(path.child('name'), 'name or generateName is required'));
  else for (const m of nameRule(meta.name)) errs.push(fieldErr.invalid(path.child('name'), meta.name, m));
  if (opts.namespaced) {
    if (!meta.namespace) errs.push(fieldErr.required(path.child('namespace'), ''));
    else for (const m of isDNS1123Label(meta.namespace)) errs.push(fieldErr.invalid(path.child('namespace'), meta.namespace, m));
  } else if (meta.namespace) {
    errs.push(fieldErr.forbidden(path.child('namespace'), 'not allowed on this type'));
  }
  if (meta.generation !== undefined && meta.generation < 0) errs.push(fieldErr.invalid(path.child('generation'), meta.generation, 'must be greater than or equal to 0'));
  errs.push(...validateLabels(meta.labels, path.child('labels')));
  errs.push(...validateAnnotations(meta.annotations, path.child('annotations')));
  const owners = meta.ownerReferences as Record<string, any>[] | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (owners) {
    let controllers = 0;
    owners.forEach((o, i) => {
      const p = path.child('ownerReferences').index(i);
      if (!o.apiVersion) errs.push(fieldErr.invalid(p.child('apiVersion'), o.apiVersion ?? '', 'version must not be empty'));
      if (!o.kind) errs.push(fieldErr.invalid(p.child('kind'), o.kind ?? '', 'kind must not be empty'));
      if (!o.name) errs.push(fieldErr.invalid(p.child('name'), o.name ?? '', 'name must not be empty'));
      if (!o.uid) errs.push(fieldErr.invalid(p.child('uid'), o.uid ?? '', 'uid must not be empty'));
      if (o.controller) controllers++;
    });
    if (controllers > 1) {
      errs.push(fieldErr.invalid(path.child('ownerReferences'), owners, 'Only one reference can have Controller set to true'));
    }
  }
  const finalizers = meta.finalizers as string[] | undefined;
  if (finalizers) {
    finalizers.forEach((f, i) => {
      for (const m of isQualifiedName(f)) errs.push(fieldErr.invalid(path.child('finalizers').index(i), f, m));
    });
  }
  return errs;
}

export function validateObjectMetaUpdate(meta: Record<string, any>, old: Record<string, any>): FieldError[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const path = new FieldPath('metadata');
  const errs: FieldError[] = [];
  const immutable = (field: string) => {
    if ((meta[field] ?? '') !== (old[field] ?? '')) errs.push(fieldErr.invalid(path.child(field), meta[field], 'field is immutable'));
  };
  immutable('name');
  immutable('namespace');
  immutable('uid');
  immutable('creationTimestamp');
  return errs;
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** generateName: the prefix (trimmed so the whole fits 63 chars) and 5 random characters. */
export function generateName(base: string): string {
  const prefix = base.length > 58 ? base.slice(0, 58) : base;
  let suffix = '';
  for (let i = 0; i < 5; i++) suffix += NAME_ALPHABET[randomInt(NAME_ALPHABET.length)];
  return prefix + suffix;
}
