// Name, label and metadata validation with upstream's messages (v1.32):
// k8s.io/apimachinery/pkg/util/validation, pkg/api/validation (objectmeta.go, generic.go) and
// pkg/apis/meta/v1/validation. kubectl shows these strings verbatim, so they must match exactly.

import { type FieldError, fieldErr, FieldPath } from './field-errors.js';

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const ENV_VAR_NAME_FMT = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const C_IDENTIFIER_FMT = '[A-Za-z_][A-Za-z0-9_]*';
const CONFIG_MAP_KEY_FMT = '[-._a-zA-Z0-9]+';
const PERCENT_FMT = '[0-9]+%';

const anchored = (fmt: string) => new RegExp(`^(?:${fmt})$`);
const dns1123LabelRe = anchored(DNS1123_LABEL_FMT);
const dns1123SubdomainRe = anchored(DNS1123_SUBDOMAIN_FMT);
const dns1035LabelRe = anchored(DNS1035_LABEL_FMT);
const qualifiedNameRe = anchored(QUALIFIED_NAME_FMT);
const labelValueRe = anchored(LABEL_VALUE_FMT);
const envVarNameRe = anchored(ENV_VAR_NAME_FMT);
const cIdentifierRe = anchored(C_IDENTIFIER_FMT);
const configMapKeyRe = anchored(CONFIG_MAP_KEY_FMT);
const percentRe = anchored(PERCENT_FMT);

const QUALIFIED_NAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

export const DNS1123_LABEL_MAX_LENGTH = 63;
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
export const LABEL_VALUE_MAX_LENGTH = 63;
export const FIELD_IMMUTABLE_ERROR_MSG = 'field is immutable';
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;

export function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

export function emptyError(): string {
  return 'must be non-empty';
}

export function inclusiveRangeError(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

/** Upstream's RegexError, including its "'a',  or 'b', " spacing. */
export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let s = `${msg} (e.g. `;
  examples.forEach((e, i) => {
    if (i > 0) s += ' or ';
    s += `'${e}', `;
  });
  return `${s}regex used for validation is '${fmt}')`;
}

/** Go's len() counts bytes, not UTF-16 units. */
const byteLen = (s: string) => Buffer.byteLength(s, 'utf8');

export function isDNS1123Label(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!dns1123LabelRe.test(v)) {
    if (dns1123SubdomainRe.test(v)) errs.push('must not contain dots');
    else
      errs.push(
        regexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
          DNS1123_LABEL_FMT,
          'my-name',
          '123-abc',
        ),
      );
  }
  return errs;
}

export function isDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainRe.test(v)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        'example.com',
      ),
    );
  }
  return errs;
}

export function isDNS1035Label(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > 63) errs.push(maxLenError(63));
  if (!dns1035LabelRe.test(v)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL_FMT,
        'my-name',
        'abc-123',
      ),
    );
  }
  return errs;
}

/** A "qualified name" (label keys, annotation keys, finalizers): optional DNS subdomain prefix and "/". */
export function isQualifiedName(v: string): string[] {
  const errs: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push(`prefix part ${emptyError()}`);
    else for (const m of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push(`name part ${emptyError()}`);
  else if (byteLen(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!qualifiedNameRe.test(name)) errs.push(`name part ${regexError(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

export function isValidLabelValue(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!labelValueRe.test(v)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        'MyValue',
        'my_value',
        '12345',
      ),
    );
  }
  return errs;
}

function hasChDirPrefix(v: string): string[] {
  if (v === '.') return ["must not be '.'"];
  if (v === '..') return ["must not be '..'"];
  if (v.startsWith('..')) return ["must not start with '..'"];
  return [];
}

/** IsEnvVarName. */
export function isEnvVarName(v: string): string[] {
  const errs: string[] = [];
  if (!envVarNameRe.test(v)) {
    errs.push(
      regexError(
        "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit",
        ENV_VAR_NAME_FMT,
        'my.env-name',
        'MY_ENV.NAME',
        'MyEnvName1',
      ),
    );
  }
  errs.push(...hasChDirPrefix(v));
  return errs;
}

export function isCIdentifier(v: string): string[] {
  if (cIdentifierRe.test(v)) return [];
  return [
    regexError(
      "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'",
      C_IDENTIFIER_FMT,
      'my_name',
      'MY_NAME',
      'MyName',
    ),
  ];
}

/** ConfigMap and Secret keys (IsConfigMapKey). */
export function isConfigMapKey(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!configMapKeyRe.test(v)) {
    errs.push(regexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", CONFIG_MAP_KEY_FMT, 'key.name', 'KEY_NAME', 'key-name'));
  }
  errs.push(...hasChDirPrefix(v));
  return errs;
}

/** IANA service names used as port names (IsValidPortName). */
export function isValidPortName(v: string): string[] {
  const errs: string[] = [];
  if (byteLen(v) > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(v)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(v)) errs.push('must contain at least one letter (a-z)');
  if (v.includes('--')) errs.push('must not contain consecutive hyphens');
  if (v.length > 0 && (v.startsWith('-') || v.endsWith('-'))) errs.push('must not begin or end with a hyphen');
  return errs;
}

/** A parsed IP prefix: the family, the address as a bigint, and the prefix length. */
export interface ParsedCIDR {
  family: 4 | 6;
  bits: number;
  address: bigint;
  prefix: number;
}

function ipToBigInt(ip: string): { family: 4 | 6; value: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((n, i) => n > 255 || (ip.split('.')[i].length > 1 && ip.split('.')[i].startsWith('0')))) return undefined;
    return { family: 4, value: parts.reduce((a, n) => (a << 8n) | BigInt(n), 0n) };
  }
  if (!ip.includes(':') || !/^[0-9a-fA-F:.]+$/.test(ip)) return undefined;
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...head, ...tail];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  if (halves.length === 1 ? all.length !== 8 : all.length > 7) return undefined;
  const full = [...head, ...Array(8 - all.length).fill('0'), ...tail];
  return { family: 6, value: full.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** Parses "a.b.c.d/n" or an IPv6 prefix; undefined when it is not one. */
export function parseCIDR(v: string): ParsedCIDR | undefined {
  const slash = v.indexOf('/');
  if (slash < 0 || !/^\d{1,3}$/.test(v.slice(slash + 1))) return undefined;
  const ip = ipToBigInt(v.slice(0, slash));
  const prefix = Number(v.slice(slash + 1));
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  return { family: ip.family, bits, address: ip.value, prefix };
}

/** IsValidCIDR (legacy fields): a parseable CIDR. */
export function isValidCIDR(v: string): string[] {
  return parseCIDR(v) ? [] : ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'];
}

/** Whether `inner` lies inside `outer` and is strictly smaller. */
export function isStrictSubnet(inner: ParsedCIDR, outer: ParsedCIDR): boolean {
  if (inner.family !== outer.family || inner.prefix <= outer.prefix) return false;
  const shift = BigInt(outer.bits - outer.prefix);
  return inner.address >> shift === outer.address >> shift;
}

export function isValidPortNum(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? [] : [inclusiveRangeError(1, 65535)];
}

export function isInRange(v: number, lo: number, hi: number): string[] {
  return v >= lo && v <= hi ? [] : [inclusiveRangeError(lo, hi)];
}

export function isValidPercent(v: string): string[] {
  if (percentRe.test(v)) return [];
  return [regexError("a valid percent string must be a numeric string followed by an ending '%'", PERCENT_FMT, '1%', '93%')];
}

/** A name rule: `prefix` is true when validating a generateName (upstream's ValidateNameFunc). */
export type NameValidator = (name: string, prefix?: boolean) => string[];

/** generateName "web-" is checked as "wea" (upstream drops two characters, then appends 'a'). */
export function maskTrailingDash(name: string): string {
  return name.length > 1 && name.endsWith('-') ? `${name.slice(0, -2)}a` : name;
}

export const nameIsDNSSubdomain: NameValidator = (name, prefix) => isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);
export const nameIsDNSLabel: NameValidator = (name, prefix) => isDNS1123Label(prefix ? maskTrailingDash(name) : name);
export const nameIsDNS1035Label: NameValidator = (name, prefix) => isDNS1035Label(prefix ? maskTrailingDash(name) : name);

/** Upstream's "path segment name" rule, used by most kinds on top of their own name rule. */
export function isValidPathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (name.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

/** metav1 ValidateLabels: key errors and value errors are both reported at the labels path. */
export function validateLabels(labels: unknown, path: FieldPath | string): FieldError[] {
  const p = typeof path === 'string' ? new FieldPath(path) : path;
  const errs: FieldError[] = [];
  if (!isDict(labels)) return errs;
  for (const [k, v] of Object.entries(labels)) {
    for (const m of isQualifiedName(k)) errs.push(fieldErr.invalid(p, k, m));
    if (typeof v !== 'string') errs.push(fieldErr.invalid(p, v, 'must be a string'));
    else for (const m of isValidLabelValue(v)) errs.push(fieldErr.invalid(p, v, m));
  }
  return errs;
}

/** Annotation keys are qualified names compared case-insensitively; total size <= 256 KiB. */
export function validateAnnotations(ann: unknown, path: FieldPath | string): FieldError[] {
  const p = typeof path === 'string' ? new FieldPath(path) : path;
  const errs: FieldError[] = [];
  if (!isDict(ann)) return errs;
  let total = 0;
  for (const [k, v] of Object.entries(ann)) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(fieldErr.invalid(p, k, m));
    total += byteLen(k) + (typeof v === 'string' ? byteLen(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) errs.push(fieldErr.tooLong(p, '', TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return errs;
}

/** schema.FromAPIVersionAndKind: "apps/v1" → group apps, version v1; a malformed one has no version. */
function parseApiVersion(apiVersion: string): { group: string; version: string } {
  if (!apiVersion) return { group: '', version: '' };
  if (apiVersion === 'v1') return { group: '', version: 'v1' };
  const parts = apiVersion.split('/');
  if (parts.length === 1) return { group: '', version: apiVersion };
  if (parts.length === 2) return { group: parts[0], version: parts[1] };
  return { group: '', version: '' };
}

export function validateOwnerReferences(refs: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(refs)) return errs;
  let firstController = '';
  for (const ref of refs) {
    const o: Dict = isDict(ref) ? ref : {};
    const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : '';
    const kind = typeof o.kind === 'string' ? o.kind : '';
    const name = typeof o.name === 'string' ? o.name : '';
    const uid = typeof o.uid === 'string' ? o.uid : '';
    const gv = parseApiVersion(apiVersion);
    if (!gv.version) errs.push(fieldErr.invalid(path.child('apiVersion'), apiVersion, 'version must not be empty'));
    if (!kind) errs.push(fieldErr.invalid(path.child('kind'), kind, 'must not be empty'));
    if (!name) errs.push(fieldErr.invalid(path.child('name'), name, 'must not be empty'));
    if (!uid) errs.push(fieldErr.invalid(path.child('uid'), uid, 'must not be empty'));
    if (gv.group === '' && gv.version === 'v1' && kind === 'Event') {
      errs.push(fieldErr.invalid(path, ref, `${gv.group}/${gv.version}, Kind=${kind} is disallowed from being an owner`));
    }
    if (o.controller === true) {
      const cur = `${kind}/${name}`;
      if (firstController) {
        errs.push(fieldErr.invalid(path, refs, `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${cur}`));
      } else firstController = cur;
    }
  }
  return errs;
}

export function validateFinalizers(finalizers: unknown, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(finalizers)) return errs;
  for (const f of finalizers) {
    const s = typeof f === 'string' ? f : String(f);
    for (const m of isQualifiedName(s)) errs.push(fieldErr.invalid(path, s, m));
  }
  if (finalizers.includes('orphan') && finalizers.includes('foregroundDeletion')) {
    errs.push({
      ...fieldErr.invalid(path, finalizers, 'finalizer orphan and foregroundDeletion cannot be both set'),
      renderedValue: `[]string{${finalizers.map((f) => JSON.stringify(f)).join(', ')}}`,
    });
  }
  return errs;
}

export interface ObjectMetaValidationOptions {
  namespaced: boolean;
  /** Where metadata sits; `metadata` unless told. */
  path?: FieldPath | string;
  /** Name rule; defaults to DNS-1123 subdomain. Called with prefix=true for generateName. */
  nameValidator?: NameValidator;
}

/** ValidateObjectMeta on create (and, by the REST store, on update too). */
export function validateObjectMeta(meta: unknown, opts: ObjectMetaValidationOptions): FieldError[] {
  const path = typeof opts.path === 'string' ? new FieldPath(opts.path) : (opts.path ?? new FieldPath('metadata'));
  const m: Dict = isDict(meta) ? meta : {};
  const errs: FieldError[] = [];
  const nameRule: NameValidator = opts.nameValidator ?? nameIsDNSSubdomain;
  const generateName = typeof m.generateName === 'string' ? m.generateName : '';
  const name = typeof m.name === 'string' ? m.name : '';
  if (generateName) {
    // Validators written for names only (one parameter) still get the masked prefix.
    const masked = nameRule.length < 2 ? maskTrailingDash(generateName) : generateName;
    for (const msg of nameRule(masked, true)) errs.push(fieldErr.invalid(path.child('generateName'), generateName, msg));
  }
  if (!name) errs.push(fieldErr.required(path.child('name'), 'name or generateName is required'));
  else for (const msg of nameRule(name, false)) errs.push(fieldErr.invalid(path.child('name'), name, msg));

  const namespace = typeof m.namespace === 'string' ? m.namespace : '';
  if (opts.namespaced) {
    if (!namespace) errs.push(fieldErr.required(path.child('namespace'), ''));
    else for (const msg of nameIsDNSLabel(namespace, false)) errs.push(fieldErr.invalid(path.child('namespace'), namespace, msg));
  } else if (namespace) {
    errs.push(fieldErr.forbidden(path.child('namespace'), 'not allowed on this type'));
  }
  if (typeof m.generation === 'number' && m.generation < 0) {
    errs.push(fieldErr.invalid(path.child('generation'), m.generation, 'must be greater than or equal to 0'));
  }
  errs.push(...validateLabels(m.labels, path.child('labels')));
  errs.push(...validateAnnotations(m.annotations, path.child('annotations')));
  errs.push(...validateOwnerReferences(m.ownerReferences, path.child('ownerReferences')));
  errs.push(...validateFinalizers(m.finalizers, path.child('finalizers')));
  return errs;
}

function sameValue(a: unknown, b: unknown): boolean {
  const norm = (v: unknown) => (v === undefined || v === null ? '' : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

export interface ObjectMetaUpdateOptions {
  path?: FieldPath | string;
  /** Upstream rejects updates without metadata.resourceVersion; off unless asked, as callers fill it in. */
  requireResourceVersion?: boolean;
}

/**
 * The update-only checks of ValidateObjectMetaUpdate: immutable identity fields, generation never
 * decremented, no new finalizers once deleting. Labels, annotations and the rest are checked by
 * validateObjectMeta, which callers run on the new object too.
 */
export function validateObjectMetaUpdate(newMeta: unknown, oldMeta: unknown, opts: ObjectMetaUpdateOptions = {}): FieldError[] {
  const path = typeof opts.path === 'string' ? new FieldPath(opts.path) : (opts.path ?? new FieldPath('metadata'));
  const n: Dict = isDict(newMeta) ? newMeta : {};
  const o: Dict = isDict(oldMeta) ? oldMeta : {};
  const errs: FieldError[] = [];
  if (o.deletionTimestamp) {
    const oldF = new Set(Array.isArray(o.finalizers) ? (o.finalizers as string[]) : []);
    const extra = [...new Set(Array.isArray(n.finalizers) ? (n.finalizers as string[]) : [])].filter((f) => !oldF.has(f)).sort();
    if (extra.length) {
      const goList = `[]string{${extra.map((f) => JSON.stringify(f)).join(', ')}}`;
      errs.push(fieldErr.forbidden(path.child('finalizers'), `no new finalizers can be added if the object is being deleted, found new finalizers ${goList}`));
    }
  }
  if (opts.requireResourceVersion && !n.resourceVersion) {
    errs.push(fieldErr.invalid(path.child('resourceVersion'), n.resourceVersion ?? '', 'must be specified for an update'));
  }
  const gen = (v: unknown) => (typeof v === 'number' ? v : 0);
  if (gen(n.generation) < gen(o.generation)) errs.push(fieldErr.invalid(path.child('generation'), n.generation ?? 0, 'must not be decremented'));
  for (const f of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
    if (!sameValue(n[f], o[f])) {
      const v = n[f] ?? (f === 'deletionTimestamp' || f === 'deletionGracePeriodSeconds' ? null : '');
      errs.push(fieldErr.invalid(path.child(f), v, FIELD_IMMUTABLE_ERROR_MSG));
    }
  }
  return errs;
}
