// Image references as Docker and containerd read them (github.com/distribution/reference):
// `busybox` is `docker.io/library/busybox:latest`, a first component with a dot, a colon or
// `localhost` is a registry host. Errors carry distribution's messages, which the kubelet shows.

const NAME_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const HEX64 = /^[a-f0-9]{64}$/;

export const DEFAULT_DOMAIN = 'docker.io';

export interface ImageReference {
  /** Registry host, e.g. docker.io, 127.0.0.1:5000. */
  domain: string;
  /** Repository path within the registry, e.g. library/busybox. */
  path: string;
  tag?: string;
  digest?: string;
}

export class InvalidReferenceError extends Error {}

function splitDomain(s: string): { domain: string; remainder: string } {
  const i = s.indexOf('/');
  if (i === -1) return { domain: DEFAULT_DOMAIN, remainder: `library/${s}` };
  const first = s.slice(0, i);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost' && first.toLowerCase() === first) {
    return { domain: DEFAULT_DOMAIN, remainder: s };
  }
  const domain = first === 'index.docker.io' ? DEFAULT_DOMAIN : first;
  let remainder = s.slice(i + 1);
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { domain, remainder };
}

/** Parses like distribution's ParseNormalizedNamed; throws InvalidReferenceError. */
export function parseImageReference(s: string): ImageReference {
  if (!s) throw new InvalidReferenceError('invalid reference format');
  if (HEX64.test(s)) throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const { domain, remainder } = splitDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) throw new InvalidReferenceError(`invalid reference format: repository name (${remote}) must be lowercase`);
  const full = `${domain}/${remainder}`;
  const m = REFERENCE.exec(full);
  if (!m) throw new InvalidReferenceError('invalid reference format');
  if (m[1].length > 255) throw new InvalidReferenceError('repository name must not be more than 255 characters');
  const path = m[1].slice(domain.length + 1);
  return { domain, path, ...(m[2] ? { tag: m[2] } : {}), ...(m[3] ? { digest: m[3] } : {}) };
}

/** `busybox` → `docker.io/library/busybox:latest`; digests are kept, tags only added when absent. */
export function normalizeImageName(s: string): string {
  const r = parseImageReference(s);
  let out = `${r.domain}/${r.path}`;
  if (r.tag) out += `:${r.tag}`;
  if (r.digest) out += `@${r.digest}`;
  if (!r.tag && !r.digest) out += ':latest';
  return out;
}

/** The image string with `:latest` appended when it has neither tag nor digest (the kubelet's rule). */
export function applyDefaultImageTag(s: string): string {
  const r = parseImageReference(s);
  return r.tag || r.digest ? s : `${s}:latest`;
}
