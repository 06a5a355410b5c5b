// Termination messages (https://kubernetes.io/docs/tasks/debug/debug-application/determine-reason-pod-failure/):
// an empty file per container start, mounted read-write at terminationMessagePath, read back when
// the container exits; with FallbackToLogsOnError, the tail of the log when the file is empty
// and the container failed.

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../../api/meta/v1.js';
import type { KubeletPaths } from '../paths.js';
import type { Mount } from '../runtime/runtime.js';

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** Upstream's limits: the message, and the log tail used as fallback. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
export const MAX_TERMINATION_LOG_LINES = 80;
export const MAX_TERMINATION_LOG_BYTES = 2048;

/** Creates <podDir>/containers/<name>/<random> (empty, 0666) and returns its mount. */
export function prepareTerminationMessageFile(paths: KubeletPaths, pod: KubeObject, container: KubeObject['spec']): Mount | undefined {
  const containerPath: string = container?.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH;
  if (!containerPath) return undefined;
  const dir = paths.podContainerDir(pod.metadata.uid!, container.name);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const file = join(dir, randomBytes(4).toString('hex'));
  writeFileSync(file, '', { flag: 'w', mode: 0o666 });
  // Any user in the container must be able to write it.
  chmodSync(file, 0o666);
  return { container_path: containerPath, host_path: file, readonly: false, selinux_relabel: true };
}

/** The host file behind the container's termination message, from its mounts (e.g. the CRI status's). */
export function terminationMessageHostFile(container: KubeObject['spec'], mounts: Mount[]): string | undefined {
  const p: string = container?.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH;
  return mounts.find((m) => m.container_path === p)?.host_path;
}

/** The last `maxBytes` of a file. */
async function readTail(path: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The last `n` lines of a file, reading backwards in blocks. */
async function tailLines(path: string, n: number): Promise<string[]> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let pos = size;
    let chunk = Buffer.alloc(0);
    const block = 64 * 1024;
    const countNewlines = (b: Buffer) => {
      let c = 0;
      for (let i = 0; i < b.length; i++) if (b[i] === 10) c++;
      return c;
    };
    // n lines need n+1 newlines when the file ends with one.
    while (pos > 0 && countNewlines(chunk) <= n) {
      const len = Math.min(block, pos);
      pos -= len;
      const b = Buffer.alloc(len);
      await fh.read(b, 0, len, pos);
      chunk = Buffer.concat([b, chunk]);
    }
    const lines = chunk.toString('utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  } finally {
    await fh.close();
  }
}

/** The text of CRI log lines (`<time> <stream> <P|F> <text>`): partial lines are joined, full ones end with a newline. */
export function criLogText(lines: string[]): string {
  let out = '';
  for (const line of lines) {
    const m = /^\S+ (?:stdout|stderr) ([^ ]+) ?(.*)$/.exec(line);
    if (!m) {
      out += line + '\n';
      continue;
    }
    out += m[2] + (m[1].split(':')[0] === 'P' ? '' : '\n');
  }
  return out;
}

export interface TerminationMessageOptions {
  /** The host file mounted at terminationMessagePath, if the container had one. */
  hostFile?: string;
  /** The container's CRI log file. */
  logPath?: string;
  exitCode: number;
  /** Default: the container's terminationMessagePolicy (File). */
  policy?: 'File' | 'FallbackToLogsOnError';
}

/** The message for the container's terminated state (at most 4096 bytes); '' when there is none. */
export async function readTerminationMessage(_pod: KubeObject, container: KubeObject['spec'], opts: TerminationMessageOptions): Promise<string> {
  const policy = opts.policy ?? container?.terminationMessagePolicy ?? 'File';
  const fallback = policy === 'FallbackToLogsOnError' && opts.exitCode !== 0;
  let message = '';
  if (opts.hostFile) {
    try {
      message = (await readTail(opts.hostFile, MAX_TERMINATION_MESSAGE_BYTES)).toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return `Error on reading termination log ${opts.hostFile}: ${(e as Error).message}`;
    }
  }
  if (!message && fallback && opts.logPath) {
    try {
      const text = Buffer.from(criLogText(await tailLines(opts.logPath, MAX_TERMINATION_LOG_LINES)), 'utf8');
      message = text.subarray(Math.max(0, text.length - MAX_TERMINATION_LOG_BYTES)).toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return `Error on reading termination message from logs: ${(e as Error).message}`;
    }
  }
  const b = Buffer.from(message, 'utf8');
  return b.length > MAX_TERMINATION_MESSAGE_BYTES ? b.subarray(b.length - MAX_TERMINATION_MESSAGE_BYTES).toString('utf8') : message;
}
