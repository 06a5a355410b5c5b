// The gRPC probe (pkg/probe/grpc): one grpc.health.v1.Health/Check call over plain HTTP/2.
// The two messages are tiny (`string service = 1` and `enum ServingStatus status = 1`), so they
// are encoded here by hand instead of loading a .proto at run time.

import * as grpc from '@grpc/grpc-js';
import { goDuration, grpcStatusError, joinHostPort } from './go-errors.js';
import { KUBE_VERSION } from './http-get.js';
import type { GRPCAction, ProbeOutcome } from './types.js';

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
export type ServingStatus = (typeof SERVING_STATUS)[number];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function readVarint(buf: Buffer, at: number): [number, number] {
  let n = 0;
  let shift = 0;
  for (;;) {
    if (at >= buf.length) throw new Error('truncated varint');
    const b = buf[at++];
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [n, at];
    shift += 7;
  }
}

/** Field 1 of a message: varint value or length-delimited bytes; other fields skipped. */
function field1(buf: Buffer): number | Buffer | undefined {
  let at = 0;
  let found: number | Buffer | undefined;
  while (at < buf.length) {
    let tag: number;
    [tag, at] = readVarint(buf, at);
    const wire = tag & 7;
    let value: number | Buffer;
    if (wire === 0) [value, at] = readVarint(buf, at);
    else if (wire === 2) {
      let len: number;
      [len, at] = readVarint(buf, at);
      value = buf.subarray(at, at + len);
      at += len;
    } else if (wire === 1) (value = 0), (at += 8);
    else if (wire === 5) (value = 0), (at += 4);
    else throw new Error(`unsupported wire type ${wire}`);
    if (tag >>> 3 === 1) found = value;
  }
  return found;
}

export const encodeHealthCheckRequest = (req: { service?: string }): Buffer => {
  const s = Buffer.from(req.service ?? '', 'utf8');
  return s.length ? Buffer.from([0x0a, ...varint(s.length), ...s]) : Buffer.alloc(0);
};
export const decodeHealthCheckRequest = (buf: Buffer): { service: string } => {
  const f = field1(buf);
  return { service: Buffer.isBuffer(f) ? f.toString('utf8') : '' };
};
export const encodeHealthCheckResponse = (res: { status: ServingStatus }): Buffer => {
  const n = SERVING_STATUS.indexOf(res.status);
  return n > 0 ? Buffer.from([0x08, ...varint(n)]) : Buffer.alloc(0);
};
export const decodeHealthCheckResponse = (buf: Buffer): { status: string } => {
  const f = field1(buf);
  const n = typeof f === 'number' ? f : 0;
  return { status: SERVING_STATUS[n] ?? String(n) };
};

/** The service definition, for servers (tests) implementing grpc.health.v1.Health/Check. */
export const healthServiceDefinition: grpc.ServiceDefinition = {
  Check: {
    path: HEALTH_CHECK_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthCheckRequest,
    requestDeserialize: decodeHealthCheckRequest,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: decodeHealthCheckResponse,
  } as grpc.MethodDefinition<unknown, unknown>,
};

export async function grpcProbe(action: GRPCAction, podIP: string | undefined, timeoutSeconds: number, host?: string): Promise<ProbeOutcome> {
  const port = action.port;
  if (!(Number.isInteger(port) && port > 0 && port < 65536)) return { result: 'unknown', output: '', error: `invalid port number: ${port}` };
  if (!host && !podIP) return { result: 'unknown', output: '', error: 'the pod has no IP yet' };
  const addr = joinHostPort((host || podIP)!, port);
  const timeout = goDuration(timeoutSeconds);
  const deadline = Date.now() + timeoutSeconds * 1000;
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': `kube-probe/${KUBE_VERSION}`,
    'grpc.enable_retries': 0,
  });
  try {
    // As upstream's blocking dial: keep trying to connect until the deadline.
    const connectErr = await new Promise<Error | undefined>((resolve) => client.waitForReady(deadline, (err) => resolve(err ?? undefined)));
    if (connectErr) {
      return { result: 'failure', output: `timeout: failed to connect service ${JSON.stringify(addr)} within ${timeout}: context deadline exceeded` };
    }
    const res = await new Promise<{ err?: grpc.ServiceError; value?: { status: string } }>((resolve) => {
      client.makeUnaryRequest(
        HEALTH_CHECK_METHOD,
        encodeHealthCheckRequest,
        decodeHealthCheckResponse,
        { service: action.service ?? '' },
        new grpc.Metadata(),
        { deadline },
        (err, value) => resolve({ err: err ?? undefined, value }),
      );
    });
    if (res.err) {
      const { code, details } = res.err;
      if (code === grpc.status.UNIMPLEMENTED) {
        return { result: 'failure', output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${details}` };
      }
      if (code === grpc.status.DEADLINE_EXCEEDED) return { result: 'failure', output: `timeout: health rpc did not complete within ${timeout}` };
      return { result: 'failure', output: `error: health rpc probe failed: ${grpcStatusError(code, details)}` };
    }
    const status = res.value?.status ?? 'UNKNOWN';
    if (status !== 'SERVING') return { result: 'failure', output: `service unhealthy (responded with ${JSON.stringify(status)})` };
    return { result: 'success', output: 'service healthy' };
  } finally {
    client.close();
  }
}
