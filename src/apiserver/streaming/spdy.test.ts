import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { SpdyConnection, type SpdyStream } from './spdy-connection.js';
import { FLAG_FIN, FrameDecoder, FrameEncoder, SPDY3_DICTIONARY, type Frame } from './spdy.js';

test('the SPDY/3 dictionary has the spec length', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString('latin1'), '\0\0\0\x07options');
  assert.ok(SPDY3_DICTIONARY.toString('latin1').endsWith(',enq=0.'));
});

test('every frame type round-trips, in any byte split', async () => {
  const frames: Frame[] = [
    { type: 'syn_stream', streamId: 1, associatedStreamId: 0, priority: 3, slot: 0, flags: 0, headers: { streamtype: ['error'] } },
    { type: 'syn_reply', streamId: 1, flags: 0, headers: {} },
    { type: 'data', streamId: 1, flags: 0, data: Buffer.from('hello') },
    { type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.alloc(0) },
    { type: 'headers', streamId: 1, flags: FLAG_FIN, headers: { a: ['1', '2'] } },
    { type: 'rst_stream', streamId: 5, status: 5 },
    { type: 'settings', flags: 0, entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }] },
    { type: 'ping', id: 7 },
    { type: 'goaway', lastGoodStreamId: 9, status: 0 },
    { type: 'window_update', streamId: 1, delta: 1000 },
  ];
  for (const split of [1, 3, 7, 100_000]) {
    // A fresh encoder per pass: header contexts must match the decoder's from the first block.
    const e = new FrameEncoder();
    const all = Buffer.concat(await Promise.all(frames.map((f) => e.encode(f))));
    const dec = new FrameDecoder();
    const pending: Promise<Frame[]>[] = [];
    for (let i = 0; i < all.length; i += split) pending.push(dec.push(all.subarray(i, i + split)));
    const out = (await Promise.all(pending)).flat();
    assert.deepEqual(out, frames);
  }
});

test('header compression keeps one context across blocks (later blocks are smaller)', async () => {
  const enc = new FrameEncoder();
  const dec = new FrameDecoder();
  const headers = { streamtype: ['stdout'], port: ['8080'], requestid: ['0'] };
  const sizes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const b = await enc.encode({ type: 'syn_stream', streamId: 1 + 2 * i, associatedStreamId: 0, priority: 0, slot: 0, flags: 0, headers });
    sizes.push(b.length);
    const [f] = await dec.push(b);
    assert.equal(f.type, 'syn_stream');
    assert.deepEqual((f as { headers: unknown }).headers, headers);
  }
  assert.ok(sizes[3] < sizes[0], `sizes ${sizes}`);
  // A block decoded out of context fails instead of yielding garbage.
  const fresh = new FrameDecoder();
  const second = new FrameEncoder();
  await second.encode({ type: 'syn_reply', streamId: 1, flags: 0, headers });
  await assert.rejects(fresh.push(await second.encode({ type: 'syn_reply', streamId: 3, flags: 0, headers })));
});

test('malformed input is an error, not a crash', async () => {
  const dec = new FrameDecoder();
  await assert.rejects(dec.push(Buffer.from([0x80, 0x02, 0x00, 0x01, 0, 0, 0, 0])), /version/);
  const dec2 = new FrameDecoder();
  await assert.rejects(dec2.push(Buffer.from([0x80, 0x03, 0x00, 0x06, 0, 0, 0, 1, 0])), /invalid control frame/);
  const dec3 = new FrameDecoder();
  await assert.rejects(dec3.push(Buffer.from([0x80, 0x03, 0x00, 0x02, 0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 3, 4])), /header block/);
});

test('client and server connections exchange streams, data, FIN and pings over a socket', async () => {
  let serverSock!: Socket;
  const srv = createServer((s) => (serverSock = s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  const clientSock = connect(port, '127.0.0.1');
  await new Promise((r) => clientSock.once('connect', r));
  while (!serverSock) await new Promise((r) => setTimeout(r, 5));
  const client = new SpdyConnection(clientSock, { client: true });
  const server = new SpdyConnection(serverSock, { client: false });
  const got = new Promise<{ type: string; body: string }>((resolve) => {
    server.on('stream', (s: SpdyStream) => {
      let body = '';
      s.on('data', (d) => (body += d));
      s.on('end', () => {
        s.end(`echo:${body}`);
        resolve({ type: s.header('streamType') ?? '', body });
      });
    });
  });
  const st = client.openStream({ streamType: 'stdin' });
  const big = 'x'.repeat(100_000);
  st.end(big);
  let reply = '';
  st.on('data', (d) => (reply += d));
  await new Promise((r) => st.on('end', r));
  const seen = await got;
  assert.equal(seen.type, 'stdin');
  assert.equal(seen.body.length, big.length);
  assert.equal(reply, `echo:${big}`);
  await client.ping();
  client.close();
  await new Promise<void>((r) => server.once('close', () => r()));
  srv.close();
});
