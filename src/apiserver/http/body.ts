// Request bodies: size limit, content types, JSON/YAML decoding, with upstream's errors.

import type { IncomingMessage } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { StatusError } from '../../machinery/errors.js';

/** Upstream's limit for a JSON/YAML request body (3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Deeper nesting than any real object: rejected before it can exhaust the stack. */
export const MAX_DEPTH = 1000;

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    throw StatusError.requestEntityTooLarge(`Request entity too large: limit is ${limit}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw StatusError.requestEntityTooLarge(`Request entity too large: limit is ${limit}`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

function depthOf(text: string): number {
  // Counts bracket nesting outside strings: cheap, and safe for any input.
  let depth = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inStr) {
      if (c === 92) i++;
      else if (c === 34) inStr = false;
      continue;
    }
    if (c === 34) inStr = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Decodes a JSON or YAML body into a plain value; `what` names the expected kind in errors. */
export function decodeBody(buf: Buffer, contentType: string, what: string): unknown {
  const text = buf.toString('utf8');
  if (text.trim() === '') {
    throw StatusError.badRequest(`the object provided is unrecognized (must be of type ${what}): couldn't get version/kind; json parse error: unexpected end of JSON input`);
  }
  const isYaml = contentType === 'application/yaml' || contentType === 'application/apply-patch+yaml' || contentType === 'text/yaml';
  if (depthOf(text) > MAX_DEPTH) {
    throw StatusError.badRequest(`the object provided is unrecognized (must be of type ${what}): nesting depth exceeds the limit of ${MAX_DEPTH}`);
  }
  if (isYaml) {
    try {
      const v = parseYaml(text, { maxAliasCount: 100, uniqueKeys: true });
      return v;
    } catch (e) {
      throw StatusError.badRequest(`the object provided is unrecognized (must be of type ${what}): error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw StatusError.badRequest(`the object provided is unrecognized (must be of type ${what}): couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

/**
 * Paths of keys that appear twice in one JSON object (`metadata.name`, `spec.containers[0].image`),
 * which upstream's strict decoder reports as `duplicate field "..."`. A single pass over the text.
 */
export function duplicateJSONFields(text: string): string[] {
  type Frame = { kind: 'obj'; keys: Set<string>; key: string | undefined; path: string } | { kind: 'arr'; index: number; path: string };
  const stack: Frame[] = [];
  const dups: string[] = [];
  let i = 0;
  let expectKey = false;
  const childPath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    if (top.kind === 'arr') return `${top.path}[${top.index}]`;
    return top.path ? `${top.path}.${top.key}` : (top.key ?? '');
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top?.kind === 'obj') {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const p = top.path ? `${top.path}.${key}` : key;
        if (top.keys.has(key)) dups.push(p);
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === '{') {
      stack.push({ kind: 'obj', keys: new Set(), key: undefined, path: childPath() });
      expectKey = true;
    } else if (c === '[') {
      stack.push({ kind: 'arr', index: 0, path: childPath() });
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'arr') top.index++;
      else expectKey = true;
    }
    i++;
  }
  return dups;
}
