// A SPDY/3.1 session over an upgraded socket, as moby/spdystream runs one for Kubernetes
// streaming: streams opened with SYN_STREAM and answered at once, DATA with FIN for half-close,
// RST_STREAM, PING answered, GOAWAY. spdystream does no flow control (it ignores WINDOW_UPDATE
// and never sends one), so neither does this session.

import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { FLAG_FIN, FrameDecoder, FrameEncoder, RstStatus, type Frame, type SpdyHeaders } from './spdy.js';

/** Chunk size for DATA frames written from a stream. */
const WRITE_CHUNK = 32 * 1024;

/** One SPDY stream: a Duplex whose writes become DATA frames and whose end is a FIN. */
export class SpdyStream extends Duplex {
  replied = false;
  /** Headers of the SYN_STREAM (remote streams) or of the SYN_REPLY (local streams). */
  replyHeaders: SpdyHeaders = {};
  private remoteFinished = false;

  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    super({ allowHalfOpen: true });
  }

  /** Resolves once the peer answered this stream (SYN_REPLY), or it ended without answering. */
  waitReply(): Promise<void> {
    if (this.replied || this.readableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.off('reply', done);
        this.off('end', done);
        this.off('close', done);
        resolve();
      };
      this.on('reply', done);
      this.on('end', done);
      this.on('close', done);
    });
  }

  /** The first value of a header (names are case-insensitive). */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()]?.[0];
  }

  override _read(): void {
    // Data is pushed as frames arrive; spdystream has no flow control to resume.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Writes after the connection went away are dropped: the reader side has ended already.
    if (this.conn.closed || this.locallyReset) return cb();
    let last: Promise<void> = Promise.resolve();
    for (let off = 0; off < chunk.length; off += WRITE_CHUNK) {
      last = this.conn.sendFrame({ type: 'data', streamId: this.id, flags: 0, data: chunk.subarray(off, off + WRITE_CHUNK) });
    }
    // The callback waits for the frame to reach the socket: a little backpressure.
    last.then(() => cb(), () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.conn.closed || this.locallyReset) return cb();
    this.conn.sendFrame({ type: 'data', streamId: this.id, flags: FLAG_FIN, data: Buffer.alloc(0) }).then(() => cb(), () => cb());
  }

  /** Sends RST_STREAM (CANCEL) and ends both directions. */
  reset(status: number = RstStatus.CANCEL): void {
    if (this.locallyReset) return;
    this.locallyReset = true;
    if (!this.conn.closed) this.conn.sendFrame({ type: 'rst_stream', streamId: this.id, status });
    this.remoteEnd();
  }

  /** @internal set when either side reset the stream */
  locallyReset = false;

  /** @internal */
  remoteData(data: Buffer): void {
    if (!this.remoteFinished && data.length) this.push(data);
  }

  /** @internal */
  remoteEnd(): void {
    if (this.remoteFinished) return;
    this.remoteFinished = true;
    this.push(null);
  }
}

export interface SpdyConnectionEvents {
  /** A stream opened by the peer (its SYN_STREAM); the connection replies at once. */
  stream: [SpdyStream];
  goaway: [number];
  close: [];
  error: [Error];
}

/**
 * A SPDY/3.1 session over an already upgraded socket. Client sessions open odd stream IDs,
 * server sessions even ones. Pings from the peer are answered.
 */
export class SpdyConnection extends EventEmitter<SpdyConnectionEvents> {
  private readonly encoder = new FrameEncoder();
  private readonly decoder = new FrameDecoder();
  private readonly streams = new Map<number, SpdyStream>();
  private nextStreamId: number;
  private nextPingId: number;
  private readonly pings = new Map<number, () => void>();
  closed = false;

  constructor(
    private readonly socket: Duplex,
    opts: { client: boolean; head?: Buffer },
  ) {
    super();
    this.nextStreamId = opts.client ? 1 : 2;
    this.nextPingId = opts.client ? 1 : 2;
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.teardown());
    socket.on('end', () => this.teardown());
    socket.on('error', (e) => {
      if (this.listenerCount('error')) this.emit('error', e);
      this.teardown();
    });
    if (opts.head?.length) queueMicrotask(() => this.onData(opts.head!));
  }

  /** Opens a stream with the given headers (SYN_STREAM); data may be written at once. */
  openStream(headers: Record<string, string | string[]>, opts: { fin?: boolean } = {}): SpdyStream {
    if (this.closed) throw new Error('SPDY connection is closed');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const h: SpdyHeaders = {};
    for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = Array.isArray(v) ? v : [v];
    const s = new SpdyStream(this, id, h);
    this.streams.set(id, s);
    this.sendFrame({ type: 'syn_stream', streamId: id, associatedStreamId: 0, priority: 0, slot: 0, flags: opts.fin ? FLAG_FIN : 0, headers: h });
    return s;
  }

  /** Resolves when the peer answers a PING. */
  ping(): Promise<void> {
    const id = this.nextPingId;
    this.nextPingId += 2;
    return new Promise((resolve) => {
      this.pings.set(id, resolve);
      this.sendFrame({ type: 'ping', id });
    });
  }

  /**
   * Queues a frame; frames reach the socket in the order they were queued (header blocks are
   * compressed asynchronously). Frames queued after the connection closed are dropped.
   */
  sendFrame(f: Frame): Promise<void> {
    const run = async () => {
      if (this.closed && f.type !== 'goaway') return;
      try {
        const bytes = await this.encoder.encode(f);
        if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
      } catch (e) {
        // A frame that cannot be encoded ends the session; callers never see a rejection.
        if (this.listenerCount('error')) this.emit('error', e as Error);
        this.destroy();
      }
    };
    const p = this.sendChain.then(run);
    this.sendChain = p.catch(() => undefined);
    return p;
  }
  private sendChain: Promise<unknown> = Promise.resolve();

  /** Sends GOAWAY and closes the socket once everything queued is written. */
  close(): void {
    if (this.closed) return;
    const done = this.sendFrame({ type: 'goaway', lastGoodStreamId: 0, status: 0 });
    this.teardown();
    done.finally(() => this.socket.end());
  }

  destroy(): void {
    this.socket.destroy();
    this.teardown();
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.decoder.push(d).then(
      (frames) => {
        for (const f of frames) if (!this.closed) this.handle(f);
      },
      (e) => {
        if (this.listenerCount('error')) this.emit('error', e as Error);
        this.destroy();
      },
    );
  }

  private handle(f: Frame): void {
    switch (f.type) {
      case 'data': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.remoteData(f.data);
        if (f.flags & FLAG_FIN) s.remoteEnd();
        return;
      }
      case 'syn_stream': {
        const s = new SpdyStream(this, f.streamId, f.headers);
        s.replied = true;
        this.streams.set(f.streamId, s);
        this.sendFrame({ type: 'syn_reply', streamId: f.streamId, flags: 0, headers: {} });
        if (f.flags & FLAG_FIN) s.remoteEnd();
        this.emit('stream', s);
        return;
      }
      case 'syn_reply': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.replied = true;
        s.replyHeaders = f.headers;
        s.emit('reply', f.headers);
        if (f.flags & FLAG_FIN) s.remoteEnd();
        return;
      }
      case 'headers': {
        const s = this.streams.get(f.streamId);
        if (s && f.flags & FLAG_FIN) s.remoteEnd();
        return;
      }
      case 'rst_stream': {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        this.streams.delete(f.streamId);
        s.locallyReset = true;
        s.remoteEnd();
        s.emit('reset', f.status);
        return;
      }
      case 'ping': {
        // Our own pings have our parity; answer the peer's.
        if ((f.id & 1) === (this.nextPingId & 1)) {
          this.pings.get(f.id)?.();
          this.pings.delete(f.id);
        } else this.sendFrame(f);
        return;
      }
      case 'goaway':
        this.emit('goaway', f.lastGoodStreamId);
        return;
      case 'settings':
      case 'window_update':
        return;
    }
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.remoteEnd();
    this.streams.clear();
    for (const resolve of this.pings.values()) resolve();
    this.pings.clear();
    // Frames still queued (a GOAWAY) are encoded first.
    this.sendChain.finally(() => this.encoder.close());
    this.decoder.close();
    this.emit('close');
  }
}
