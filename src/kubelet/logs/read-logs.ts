// Reads a container's CRI log file as `kubectl logs` wants it: partial records joined, the
// CRI prefix stripped (or the time kept with `timestamps`), `tailLines`, `sinceSeconds` /
// `sinceTime`, `limitBytes`, and `follow`, which keeps reading as the file grows, follows a
// rotation to the new file, and stops once the container has stopped and the file is drained.

import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { PartialLineJoiner, parseCriLogLine, type LogLine } from './cri-log.js';

export interface LogOptions {
  follow?: boolean;
  /** Only the last N lines (0 gives none). */
  tailLines?: number;
  /** Only lines written at or after this time. */
  since?: Date;
  /** Prefix each line with its RFC3339Nano time. */
  timestamps?: boolean;
  /** Stop after this many bytes. */
  limitBytes?: number;
}

/** Thrown for query values that do not parse; the message is for the client. */
export class LogOptionsError extends Error {}

/**
 * The log options of a `/containerLogs` or `pods/log` query (upstream's PodLogOptions names).
 * `now` is for tests.
 */
export function parseLogOptions(q: URLSearchParams, now = Date.now()): LogOptions {
  const o: LogOptions = {};
  const bool = (name: string) => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (v === '' || v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new LogOptionsError(`invalid value for ${name}: ${JSON.stringify(v)}`);
  };
  const int = (name: string) => {
    const v = q.get(name);
    if (v === null || v === '') return undefined;
    if (!/^-?\d+$/.test(v)) throw new LogOptionsError(`invalid value for ${name}: ${JSON.stringify(v)}`);
    return Number(v);
  };
  o.follow = bool('follow');
  o.timestamps = bool('timestamps');
  const tail = int('tailLines');
  if (tail !== undefined) {
    if (tail < 0) throw new LogOptionsError('tailLines: Invalid value: must be greater than or equal to 0');
    o.tailLines = tail;
  }
  const limit = int('limitBytes');
  if (limit !== undefined) {
    if (limit < 1) throw new LogOptionsError('limitBytes: Invalid value: must be greater than 0');
    o.limitBytes = limit;
  }
  const sinceSeconds = int('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  if (sinceSeconds !== undefined && sinceTime) throw new LogOptionsError('at most one of `sinceTime` or `sinceSeconds` may be specified');
  if (sinceSeconds !== undefined) {
    if (sinceSeconds < 1) throw new LogOptionsError('sinceSeconds: Invalid value: must be greater than 0');
    o.since = new Date(now - sinceSeconds * 1000);
  } else if (sinceTime) {
    const t = Date.parse(sinceTime);
    if (Number.isNaN(t)) throw new LogOptionsError(`invalid value for sinceTime: ${JSON.stringify(sinceTime)}`);
    o.since = new Date(t);
  }
  return o;
}

export interface ReadLogsOptions {
  /** The CRI log file (absolute). */
  path: string;
  options: LogOptions;
  out: Writable;
  /** Whether the container still runs; `follow` ends once it does not and the file is drained. */
  isRunning?: () => Promise<boolean>;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** How often a followed file is checked for growth (default 100 ms). */
  pollIntervalMs?: number;
}

const READ_CHUNK = 64 * 1024;
/** How often `follow` asks whether the container still runs, while the file is idle. */
const RUNNING_CHECK_MS = 1000;

/** Streams the log to `out` (which it does not end). Rejects if the file cannot be opened. */
export async function readContainerLogs(o: ReadLogsOptions): Promise<void> {
  const opts = o.options;
  const emitter = new LineEmitter(o.out, opts, o.signal);
  let fh: FileHandle = await open(o.path, 'r');
  try {
    let ino = (await fh.stat()).ino;
    const reader = new LineReader();
    const joiner = new PartialLineJoiner();
    let offset = 0;
    // The tail window: lines before it are dropped once the first pass reaches the end.
    const tail = opts.tailLines;
    let window: LogLine[] | undefined = tail !== undefined ? [] : undefined;

    const handle = async (line: LogLine): Promise<boolean> => {
      if (window) {
        if (tail === 0) return true;
        window.push(line);
        if (window.length > tail!) window.shift();
        return true;
      }
      return emitter.emit(line);
    };
    const readAvailable = async (): Promise<{ read: number; more: boolean }> => {
      let total = 0;
      const buf = Buffer.alloc(READ_CHUNK);
      for (;;) {
        if (o.signal?.aborted) return { read: total, more: false };
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) return { read: total, more: true };
        offset += bytesRead;
        total += bytesRead;
        for (const raw of reader.push(buf.subarray(0, bytesRead))) {
          const rec = parseCriLogLine(raw);
          if (!rec) continue;
          const line = joiner.push(rec);
          if (line && !(await handle(line))) return { read: total, more: false };
        }
      }
    };

    let { more } = await readAvailable();
    if (window) {
      const lines = window;
      window = undefined;
      for (const l of lines) if (!(await emitter.emit(l))) return;
    }
    if (!more || !opts.follow) {
      for (const l of joiner.flush()) if (!(await emitter.emit(l))) return;
      return;
    }

    const interval = o.pollIntervalMs ?? 100;
    let lastRunningCheck = 0;
    let stopped = false;
    while (!o.signal?.aborted && !emitter.done) {
      await sleep(interval, o.signal);
      const r = await readAvailable();
      if (!r.more) return;
      if (r.read > 0) continue;
      // Idle: a rotation renames this file away and the runtime reopens a new one at the path.
      const now = await stat(o.path).catch(() => undefined);
      if (now && now.ino !== ino) {
        await fh.close();
        fh = await open(o.path, 'r');
        ino = (await fh.stat()).ino;
        offset = 0;
        continue;
      }
      if (stopped) break;
      if (o.isRunning && Date.now() - lastRunningCheck >= RUNNING_CHECK_MS) {
        lastRunningCheck = Date.now();
        // One more read after the container is seen stopped drains what it wrote last.
        if (!(await o.isRunning().catch(() => false))) stopped = true;
      }
    }
    for (const l of joiner.flush()) if (!(await emitter.emit(l))) return;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Splits bytes into lines (without the newline), keeping an unfinished last line. */
class LineReader {
  private rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      lines.push(data.subarray(start, nl));
      start = nl + 1;
    }
    this.rest = Buffer.from(data.subarray(start));
    return lines;
  }
}

/** Applies since, timestamps and limitBytes, and writes with backpressure. */
class LineEmitter {
  private written = 0;
  done = false;

  constructor(
    private readonly out: Writable,
    private readonly opts: LogOptions,
    private readonly signal?: AbortSignal,
  ) {}

  /** Returns false once nothing more should be written. */
  async emit(line: LogLine): Promise<boolean> {
    if (this.done || this.signal?.aborted || this.out.destroyed) return false;
    if (this.opts.since && line.timeMs < this.opts.since.getTime()) return true;
    let data = this.opts.timestamps ? Buffer.concat([Buffer.from(`${line.time} `), line.content]) : line.content;
    const limit = this.opts.limitBytes;
    if (limit !== undefined && this.written + data.length >= limit) {
      data = data.subarray(0, limit - this.written);
      this.done = true;
    }
    this.written += data.length;
    if (data.length && !this.out.write(data)) {
      await new Promise<void>((resolve) => {
        const finish = () => {
          this.out.off('drain', finish);
          this.out.off('close', finish);
          resolve();
        };
        this.out.on('drain', finish);
        this.out.on('close', finish);
      });
    }
    return !this.done;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
