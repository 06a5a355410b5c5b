// The CRI container log format the runtime writes (one line per write, split at 16 KiB):
//   <RFC3339Nano time> <stdout|stderr> <tags> <content>\n
// where tags are ':'-separated and the first is F (full line) or P (partial: the line goes on in
// the next record). https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md

export type LogStream = 'stdout' | 'stderr';

export interface CriLogRecord {
  /** The timestamp as written (RFC3339Nano). */
  time: string;
  /** Milliseconds since the epoch (sub-millisecond digits dropped). */
  timeMs: number;
  stream: LogStream;
  partial: boolean;
  content: Buffer;
}

/** Parses one line (without its newline). Returns undefined for a malformed line. */
export function parseCriLogLine(line: Buffer): CriLogRecord | undefined {
  const s1 = line.indexOf(0x20);
  if (s1 <= 0) return undefined;
  const s2 = line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const time = line.subarray(0, s1).toString('latin1');
  const stream = line.subarray(s1 + 1, s2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const timeMs = Date.parse(time);
  if (Number.isNaN(timeMs)) return undefined;
  // Older runtimes wrote no tag field; then the rest is the content of a full line.
  let s3 = line.indexOf(0x20, s2 + 1);
  let tags = s3 < 0 ? line.subarray(s2 + 1).toString('latin1') : line.subarray(s2 + 1, s3).toString('latin1');
  const first = tags.split(':')[0];
  if (first !== 'F' && first !== 'P') {
    tags = 'F';
    s3 = s2;
  }
  const content = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  return { time, timeMs, stream, partial: first === 'P', content };
}

/** A whole log line: partial records joined, with the first record's time. */
export interface LogLine {
  time: string;
  timeMs: number;
  stream: LogStream;
  /** The content including its trailing newline. */
  content: Buffer;
}

/**
 * Joins partial records into lines, per stream (stdout and stderr interleave independently).
 * Feed records in file order; complete lines come out.
 */
export class PartialLineJoiner {
  private readonly pending: Partial<Record<LogStream, { first: CriLogRecord; parts: Buffer[] }>> = {};

  push(r: CriLogRecord): LogLine | undefined {
    const p = this.pending[r.stream];
    if (r.partial) {
      if (p) p.parts.push(r.content);
      else this.pending[r.stream] = { first: r, parts: [r.content] };
      return undefined;
    }
    const head = p?.first ?? r;
    const content = Buffer.concat([...(p?.parts ?? []), r.content, NEWLINE]);
    delete this.pending[r.stream];
    return { time: head.time, timeMs: head.timeMs, stream: r.stream, content };
  }

  /** Lines still partial (e.g. the file ends mid-line and the container is gone). */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.pending[s];
      if (!p) continue;
      out.push({ time: p.first.time, timeMs: p.first.timeMs, stream: s, content: Buffer.concat(p.parts) });
      delete this.pending[s];
    }
    return out;
  }
}

const NEWLINE = Buffer.from('\n');

/** Formats a time as the CRI writes it (RFC3339Nano, UTC). */
export function criTimestamp(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

/** Builds a CRI log line (for tests and tools). */
export function formatCriLogLine(o: { time: Date; stream: LogStream; partial?: boolean; content: string }): string {
  return `${criTimestamp(o.time)} ${o.stream} ${o.partial ? 'P' : 'F'} ${o.content}\n`;
}
