// WebSocket clients of exec/attach (kubectl ≥ 1.30 speaks `v5.channel.k8s.io`) against a
// kubelet that speaks SPDY: the API server ends the WebSocket and opens a SPDY remotecommand v4
// session to the kubelet, as upstream's StreamTranslator does. Channels map to SPDY streams:
//   0 stdin, 1 stdout, 2 stderr, 3 error (a Status JSON), 4 resize; v5 adds the client's
//   [255, 0] message, "stdin is closed", which becomes a FIN on the stdin stream.
// The session ends when the runtime has closed stdout, stderr and the error stream: the error
// channel then carries the Status (its exit code is what kubectl prints) and the WebSocket
// closes normally.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { dialUpgrade, type BackendTLS, type DialResult } from '../../machinery/httpstream/upgrade-proxy.js';
import { extractMessage } from './kubelet-client.js';
import { SpdyConnection, type SpdyStream } from './spdy-connection.js';

export const STREAM_PROTOCOL_V5 = 'v5.channel.k8s.io';
export const STREAM_PROTOCOL_V4 = 'v4.channel.k8s.io';
/** WebSocket subprotocols this translator serves, preferred first. */
export const TRANSLATED_PROTOCOLS = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];

const CH_STDIN = 0;
const CH_STDOUT = 1;
const CH_STDERR = 2;
const CH_ERROR = 3;
const CH_RESIZE = 4;
const CH_CLOSE = 255;

export interface StreamFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

/** The client's offered WebSocket subprotocols. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  return (Array.isArray(h) ? h.join(',') : (h ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Accepts a WebSocket with the given subprotocol. `ws` refuses subprotocols that are not HTTP
 * tokens, and `SPDY/3.1+portforward.k8s.io` has a '/', so the offer is taken out of its sight
 * and the answer added to the handshake response here.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined): Promise<WebSocket> {
  delete req.headers['sec-websocket-protocol'];
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  if (protocol) wss.on('headers', (headers) => headers.push(`Sec-WebSocket-Protocol: ${protocol}`));
  return new Promise((resolve) => wss.handleUpgrade(req, socket, head, (ws) => resolve(ws)));
}

function failureStatus(message: string) {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `Internal error occurred: ${message}`, reason: 'InternalError', details: { causes: [{ message }] }, code: 500 });
}

const SUCCESS = JSON.stringify({ metadata: {}, status: 'Success' });

/**
 * Serves one exec/attach WebSocket by translating to SPDY against `backend` (the kubelet's
 * /exec or /attach URL with the stream flags already in its query).
 */
export async function translateRemoteCommand(o: {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  protocol: string;
  backend: URL;
  tls?: BackendTLS;
  flags: StreamFlags;
}): Promise<void> {
  let dialed: DialResult | undefined;
  let dialError: string | undefined;
  try {
    dialed = await dialUpgrade({
      url: o.backend,
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': [STREAM_PROTOCOL_V4] },
      tls: o.tls,
    });
    if (!dialed.upgraded) dialError = `unable to upgrade connection: ${extractMessage(dialed.body.toString('utf8')) || `status ${dialed.status}`}`;
  } catch (e) {
    dialError = `error dialing backend: ${(e as Error).message}`;
  }
  const ws = await acceptWebSocket(o.req, o.socket, o.head, o.protocol);
  const send = (channel: number, data: Buffer | string) => {
    if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
  };
  if (dialError || !dialed?.upgraded) {
    send(CH_ERROR, failureStatus(dialError ?? 'upgrade failed'));
    ws.close(1000);
    return;
  }
  const spdy = new SpdyConnection(dialed.socket, { client: true, head: dialed.head });
  spdy.on('error', () => undefined);
  // Upstream's v4 client creates the error stream first, then the others it needs.
  const open = (type: string) => spdy.openStream({ streamType: type });
  const errorStream = open('error');
  const stdin = o.flags.stdin ? open('stdin') : undefined;
  const stdout = o.flags.stdout ? open('stdout') : undefined;
  const stderr = o.flags.stderr && !o.flags.tty ? open('stderr') : undefined;
  const resize = o.flags.tty ? open('resize') : undefined;

  const ended = (s: SpdyStream | undefined) => (s ? new Promise<void>((r) => (s.readableEnded ? r() : s.once('end', () => r()))) : Promise.resolve());
  const errorChunks: Buffer[] = [];
  errorStream.on('data', (d: Buffer) => errorChunks.push(d));
  stdout?.on('data', (d: Buffer) => send(CH_STDOUT, d));
  stderr?.on('data', (d: Buffer) => send(CH_STDERR, d));

  // Like upstream's SPDY client, stdin flows only once the runtime has answered every stream:
  // containerd starts copying an attach's stdin before it hooks up stdout, so input that is
  // already waiting can be echoed before anyone listens.
  let queued: Buffer[] | undefined = [];
  const forward = (data: Buffer) => {
    const payload = data.subarray(1);
    switch (data[0]) {
      case CH_STDIN:
        if (payload.length) stdin?.write(payload);
        return;
      case CH_RESIZE:
        resize?.write(payload);
        return;
      case CH_CLOSE:
        if (payload[0] === CH_STDIN) stdin?.end();
        return;
    }
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary || !data.length) return;
    if (queued) queued.push(data);
    else forward(data);
  });
  void Promise.all([errorStream, stdin, stdout, stderr, resize].map((s) => s?.waitReply())).then(() => {
    const q = queued ?? [];
    queued = undefined;
    for (const d of q) forward(d);
  });
  ws.on('close', () => spdy.destroy());
  ws.on('error', () => spdy.destroy());

  await Promise.all([ended(errorStream), ended(stdout), ended(stderr)]);
  const status = Buffer.concat(errorChunks);
  send(CH_ERROR, status.length ? status : SUCCESS);
  ws.close(1000);
  spdy.close();
}
