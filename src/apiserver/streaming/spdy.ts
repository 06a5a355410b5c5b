// SPDY/3.1 framing as Kubernetes streaming uses it (moby/spdystream over an upgraded HTTP
// connection): the frame codec, with header blocks compressed by zlib with the SPDY/3
// dictionary, one compression context per direction kept for the whole connection.
// Frame layout: https://www.chromium.org/spdy/spdy-protocol/spdy-protocol-draft3-1/
// The session on top is spdy-connection.ts.

import * as zlib from 'node:zlib';

export const SPDY_VERSION = 3;

export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

/** RST_STREAM status codes. */
export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;

const MAX_DATA_LENGTH = 0xffffff;
/** Frames bigger than this are refused: no streaming use needs them and they would be memory. */
const MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/** Lower-case header names to their values (SPDY joins several values with NUL). */
export type SpdyHeaders = Record<string, string[]>;

export type Frame =
  | { type: 'data'; streamId: number; flags: number; data: Buffer }
  | { type: 'syn_stream'; streamId: number; associatedStreamId: number; priority: number; slot: number; flags: number; headers: SpdyHeaders }
  | { type: 'syn_reply'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'rst_stream'; streamId: number; status: number }
  | { type: 'settings'; flags: number; entries: { flags: number; id: number; value: number }[] }
  | { type: 'ping'; id: number }
  | { type: 'goaway'; lastGoodStreamId: number; status: number }
  | { type: 'headers'; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: 'window_update'; streamId: number; delta: number };

// The SPDY/3 header compression dictionary (draft 3, section 2.6.10.1): length-prefixed header
// names and common values, then a run of status codes, reason phrases, dates and media types.
const DICTIONARY_WORDS = [
  'options', 'head', 'post', 'put', 'delete', 'trace', 'accept', 'accept-charset', 'accept-encoding', 'accept-language',
  'accept-ranges', 'age', 'allow', 'authorization', 'cache-control', 'connection', 'content-base', 'content-encoding',
  'content-language', 'content-length', 'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'etag',
  'expect', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'last-modified', 'location', 'max-forwards', 'pragma', 'proxy-authenticate', 'proxy-authorization', 'range', 'referer',
  'retry-after', 'server', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'user-agent', 'vary', 'via', 'warning',
  'www-authenticate', 'method', 'get', 'status', '200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive',
  'origin',
];
const DICTIONARY_TAIL =
  '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
  '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized' +
  '403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
  'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
  'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,' +
  'text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.';

export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  ...DICTIONARY_WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, 'latin1')]);
  }),
  Buffer.from(DICTIONARY_TAIL, 'latin1'),
]);

/**
 * One zlib context for the life of a connection direction. Each call feeds a block and flushes
 * with Z_SYNC_FLUSH, which is how SPDY peers delimit header blocks; calls are serialized so
 * blocks go through the context in frame order.
 */
class ZlibContext {
  private chain: Promise<unknown> = Promise.resolve();
  private out: Buffer[] = [];
  private failure?: Error;
  private pendingReject?: (e: Error) => void;

  constructor(private readonly z: zlib.Deflate | zlib.Inflate) {
    z.on('data', (d: Buffer) => this.out.push(d));
    z.on('error', (e) => {
      this.failure = new SpdyProtocolError(`header block: ${e.message}`);
      this.pendingReject?.(this.failure);
    });
  }

  process(block: Buffer): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.failure) return reject(this.failure);
        this.out = [];
        this.pendingReject = reject;
        this.z.write(block);
        this.z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          this.pendingReject = undefined;
          if (this.failure) return reject(this.failure);
          resolve(Buffer.concat(this.out));
        });
      });
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.z.close();
  }
}

export class HeaderCompressor {
  private readonly ctx = new ZlibContext(zlib.createDeflate({ dictionary: SPDY3_DICTIONARY }));

  compress(headers: SpdyHeaders): Promise<Buffer> {
    return this.ctx.process(encodeHeaderBlock(headers));
  }

  close(): void {
    this.ctx.close();
  }
}

export class HeaderDecompressor {
  private readonly ctx = new ZlibContext(zlib.createInflate({ dictionary: SPDY3_DICTIONARY }));

  async decompress(block: Buffer): Promise<SpdyHeaders> {
    if (!block.length) return {};
    return decodeHeaderBlock(await this.ctx.process(block));
  }

  close(): void {
    this.ctx.close();
  }
}

export function encodeHeaderBlock(headers: SpdyHeaders): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(headers);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(entries.length);
  parts.push(count);
  for (const [name, values] of entries) {
    const n = Buffer.from(name.toLowerCase(), 'utf8');
    const v = Buffer.from(values.join('\0'), 'utf8');
    const nl = Buffer.alloc(4);
    nl.writeUInt32BE(n.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(nl, n, vl, v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(buf: Buffer): SpdyHeaders {
  const out: SpdyHeaders = {};
  let off = 0;
  const u32 = () => {
    if (off + 4 > buf.length) throw new SpdyProtocolError('truncated header block');
    const v = buf.readUInt32BE(off);
    off += 4;
    return v;
  };
  const bytes = (n: number) => {
    if (off + n > buf.length) throw new SpdyProtocolError('truncated header block');
    const s = buf.subarray(off, off + n).toString('utf8');
    off += n;
    return s;
  };
  const count = u32();
  for (let i = 0; i < count; i++) {
    const name = bytes(u32());
    const value = bytes(u32());
    if (name !== name.toLowerCase()) throw new SpdyProtocolError('header was not lowercased');
    (out[name] ??= []).push(...value.split('\0'));
  }
  return out;
}

export class SpdyProtocolError extends Error {
  override name = 'SpdyProtocolError';
}

/** Encodes frames; one per connection direction (it owns the header compression context). */
export class FrameEncoder {
  private readonly compressor = new HeaderCompressor();

  async encode(f: Frame): Promise<Buffer> {
    switch (f.type) {
      case 'data': {
        if (f.data.length > MAX_DATA_LENGTH) throw new SpdyProtocolError('data frame too large');
        const h = Buffer.alloc(8);
        h.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        h.writeUInt32BE(f.data.length, 4);
        h[4] = f.flags & 0xff;
        return Buffer.concat([h, f.data]);
      }
      case 'syn_stream': {
        const block = await this.compressor.compress(f.headers);
        const body = Buffer.alloc(10);
        body.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        body.writeUInt32BE(f.associatedStreamId & 0x7fffffff, 4);
        body[8] = (f.priority & 0x7) << 5;
        body[9] = f.slot & 0xff;
        return control(FrameType.SYN_STREAM, f.flags, Buffer.concat([body, block]));
      }
      case 'syn_reply':
      case 'headers': {
        const block = await this.compressor.compress(f.headers);
        const body = Buffer.alloc(4);
        body.writeUInt32BE(f.streamId & 0x7fffffff, 0);
        return control(f.type === 'syn_reply' ? FrameType.SYN_REPLY : FrameType.HEADERS, f.flags, Buffer.concat([body, block]));
      }
      case 'rst_stream':
        return control(FrameType.RST_STREAM, 0, u32pair(f.streamId & 0x7fffffff, f.status));
      case 'settings': {
        const body = Buffer.alloc(4 + 8 * f.entries.length);
        body.writeUInt32BE(f.entries.length, 0);
        f.entries.forEach((e, i) => {
          body.writeUInt32BE((((e.flags & 0xff) << 24) | (e.id & 0xffffff)) >>> 0, 4 + i * 8);
          body.writeUInt32BE(e.value >>> 0, 8 + i * 8);
        });
        return control(FrameType.SETTINGS, f.flags, body);
      }
      case 'ping': {
        const body = Buffer.alloc(4);
        body.writeUInt32BE(f.id >>> 0);
        return control(FrameType.PING, 0, body);
      }
      case 'goaway':
        return control(FrameType.GOAWAY, 0, u32pair(f.lastGoodStreamId & 0x7fffffff, f.status));
      case 'window_update':
        return control(FrameType.WINDOW_UPDATE, 0, u32pair(f.streamId & 0x7fffffff, f.delta & 0x7fffffff));
    }
  }

  close(): void {
    this.compressor.close();
  }
}

function u32pair(a: number, b: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt32BE(a >>> 0, 0);
  buf.writeUInt32BE(b >>> 0, 4);
  return buf;
}

function control(type: number, flags: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  h.writeUInt16BE(type, 2);
  h.writeUInt32BE(body.length, 4);
  h[4] = flags & 0xff;
  return Buffer.concat([h, body]);
}

/** Decodes a byte stream into frames; bytes may arrive in any split. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private readonly decompressor = new HeaderDecompressor();
  private chain: Promise<unknown> = Promise.resolve();

  /**
   * Returns the frames completed by this chunk, in order across calls. Rejects with
   * SpdyProtocolError on malformed input.
   */
  push(chunk: Buffer): Promise<Frame[]> {
    const run = async () => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      const frames: Frame[] = [];
      while (this.buf.length >= 8) {
        const length = this.buf.readUInt32BE(4) & 0xffffff;
        if (length > MAX_FRAME_LENGTH) throw new SpdyProtocolError('frame too large');
        if (this.buf.length < 8 + length) break;
        const head = this.buf.subarray(0, 8);
        const body = this.buf.subarray(8, 8 + length);
        this.buf = this.buf.subarray(8 + length);
        const f = await this.decodeOne(head, body);
        if (f) frames.push(f);
      }
      return frames;
    };
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async decodeOne(head: Buffer, body: Buffer): Promise<Frame | undefined> {
    const flags = head[4];
    if ((head[0] & 0x80) === 0) {
      return { type: 'data', streamId: head.readUInt32BE(0) & 0x7fffffff, flags, data: Buffer.from(body) };
    }
    const version = head.readUInt16BE(0) & 0x7fff;
    if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
    const type = head.readUInt16BE(2);
    const need = (n: number) => {
      if (body.length < n) throw new SpdyProtocolError('invalid control frame');
    };
    switch (type) {
      case FrameType.SYN_STREAM:
        need(10);
        return {
          type: 'syn_stream',
          streamId: body.readUInt32BE(0) & 0x7fffffff,
          associatedStreamId: body.readUInt32BE(4) & 0x7fffffff,
          priority: body[8] >> 5,
          slot: body[9],
          flags,
          headers: await this.decompressor.decompress(body.subarray(10)),
        };
      case FrameType.SYN_REPLY:
      case FrameType.HEADERS:
        need(4);
        return {
          type: type === FrameType.SYN_REPLY ? 'syn_reply' : 'headers',
          streamId: body.readUInt32BE(0) & 0x7fffffff,
          flags,
          headers: await this.decompressor.decompress(body.subarray(4)),
        };
      case FrameType.RST_STREAM:
        need(8);
        return { type: 'rst_stream', streamId: body.readUInt32BE(0) & 0x7fffffff, status: body.readUInt32BE(4) };
      case FrameType.SETTINGS: {
        need(4);
        const n = body.readUInt32BE(0);
        need(4 + 8 * n);
        const entries = [];
        for (let i = 0; i < n; i++) {
          const fid = body.readUInt32BE(4 + i * 8);
          entries.push({ flags: fid >>> 24, id: fid & 0xffffff, value: body.readUInt32BE(8 + i * 8) });
        }
        return { type: 'settings', flags, entries };
      }
      case FrameType.PING:
        need(4);
        return { type: 'ping', id: body.readUInt32BE(0) };
      case FrameType.GOAWAY:
        need(8);
        return { type: 'goaway', lastGoodStreamId: body.readUInt32BE(0) & 0x7fffffff, status: body.readUInt32BE(4) };
      case FrameType.WINDOW_UPDATE:
        need(8);
        return { type: 'window_update', streamId: body.readUInt32BE(0) & 0x7fffffff, delta: body.readUInt32BE(4) & 0x7fffffff };
      default:
        // Unknown control frames are ignored, as the spec asks.
        return undefined;
    }
  }

  close(): void {
    this.decompressor.close();
  }
}
