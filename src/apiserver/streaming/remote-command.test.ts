// The WebSocket → SPDY translator against a fake kubelet speaking SPDY (this package's own
// server side): stream types, stdin and its v5 close signal, tty resize, and the error channel.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { SpdyConnection, type SpdyStream } from './spdy-connection.js';
import { translateRemoteCommand } from './remote-command.js';

test('v5 WebSocket channels map onto SPDY remotecommand streams', async () => {
  const seen: { types: string[]; stdin: string; resize: string; protocol?: string } = { types: [], stdin: '', resize: '' };
  // The fake kubelet: answers the SPDY upgrade, then plays a command that echoes stdin once it
  // is closed and exits with 7.
  const kubelet = createServer();
  kubelet.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    seen.protocol = String(req.headers['x-stream-protocol-version']);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
    const conn = new SpdyConnection(socket, { client: false });
    const streams = new Map<string, SpdyStream>();
    conn.on('stream', (s) => {
      const type = s.header('streamType')!;
      seen.types.push(type);
      streams.set(type, s);
      if (type === 'resize') s.on('data', (d) => (seen.resize += d));
      if (type === 'stdin') {
        s.on('data', (d) => (seen.stdin += d));
        s.on('end', () => {
          streams.get('stdout')!.end(`got:${seen.stdin}`);
          const status = { metadata: {}, status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '7' }] } };
          streams.get('error')!.end(JSON.stringify(status));
          setTimeout(() => conn.close(), 20);
        });
      }
    });
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  const backend = new URL(`http://127.0.0.1:${(kubelet.address() as AddressInfo).port}/exec/default/web/c?command=cat&input=1&output=1&tty=1`);

  const apiserver = createServer();
  apiserver.on('upgrade', (req, socket, head) =>
    void translateRemoteCommand({ req, socket, head, protocol: 'v5.channel.k8s.io', backend, flags: { stdin: true, stdout: true, stderr: true, tty: true } }),
  );
  await new Promise<void>((r) => apiserver.listen(0, '127.0.0.1', r));

  const ws = new WebSocket(`ws://127.0.0.1:${(apiserver.address() as AddressInfo).port}/`, ['v5.channel.k8s.io']);
  const frames: { ch: number; data: string }[] = [];
  ws.on('message', (d: Buffer) => frames.push({ ch: d[0], data: d.subarray(1).toString() }));
  await new Promise((r) => ws.once('open', r));
  assert.equal(ws.protocol, 'v5.channel.k8s.io');
  ws.send(Buffer.concat([Buffer.from([4]), Buffer.from('{"Width":100,"Height":40}')]));
  ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello')]));
  ws.send(Buffer.from([255, 0]));
  const closeCode = await new Promise<number>((r) => ws.once('close', (code) => r(code)));

  assert.equal(closeCode, 1000);
  assert.equal(seen.protocol, 'v4.channel.k8s.io');
  // A terminal has no stderr stream; the error stream comes first.
  assert.deepEqual(seen.types, ['error', 'stdin', 'stdout', 'resize']);
  assert.equal(seen.stdin, 'hello');
  assert.equal(seen.resize, '{"Width":100,"Height":40}');
  assert.deepEqual(frames.filter((f) => f.ch === 1).map((f) => f.data).join(''), 'got:hello');
  const status = JSON.parse(frames.find((f) => f.ch === 3)!.data);
  assert.equal(status.details.causes[0].message, '7');
  apiserver.close();
  kubelet.close();
});

test('a kubelet that refuses the upgrade becomes a Status on the error channel', async () => {
  const kubelet = createServer((_req, res) => {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('container not found ("c")');
  });
  kubelet.on('upgrade', (_req, socket: Duplex) => {
    socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n\r\ncontainer not found ("c")');
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  const backend = new URL(`http://127.0.0.1:${(kubelet.address() as AddressInfo).port}/exec/default/web/c?command=ls&output=1`);
  const apiserver = createServer();
  apiserver.on('upgrade', (req, socket, head) =>
    void translateRemoteCommand({ req, socket, head, protocol: 'v5.channel.k8s.io', backend, flags: { stdin: false, stdout: true, stderr: false, tty: false } }),
  );
  await new Promise<void>((r) => apiserver.listen(0, '127.0.0.1', r));
  const ws = new WebSocket(`ws://127.0.0.1:${(apiserver.address() as AddressInfo).port}/`, ['v5.channel.k8s.io']);
  const frames: Buffer[] = [];
  ws.on('message', (d: Buffer) => frames.push(d));
  await new Promise((r) => ws.once('close', r));
  assert.equal(frames.length, 1);
  assert.equal(frames[0][0], 3);
  const status = JSON.parse(frames[0].subarray(1).toString());
  assert.equal(status.status, 'Failure');
  assert.match(status.message, /unable to upgrade connection: container not found \("c"\)/);
  apiserver.close();
  kubelet.close();
});
