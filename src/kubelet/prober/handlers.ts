// The probe actions (pkg/probe/{exec,http,tcp}): each runs once and says success, warning,
// failure or unknown, with the output upstream puts in its events.

import net from 'node:net';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { RuntimeError } from '../runtime/runtime.js';
import { dialError, goQuote, joinHostPort } from './go-errors.js';
import { HTTPGetError, httpGet } from './http-get.js';
import type { ContainerSpec, ExecAction, HTTPGetAction, ProbeOutcome, TCPSocketAction } from './types.js';
import { httpGetURL, resolveContainerPort } from './types.js';

const MAX_OUTPUT = 10 * 1024;
const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * `$(VAR)` references to the container's literal env values, as upstream's
 * ExpandContainerCommandOnlyStatic: `$$` escapes, unknown names are left as written.
 */
export function expandStatic(args: readonly string[], env: ContainerSpec['env']): string[] {
  const vars = new Map<string, string>();
  for (const e of env ?? []) if (e.value !== undefined && e.valueFrom === undefined) vars.set(e.name, e.value);
  return args.map((a) => {
    let out = '';
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== '$' || i + 1 >= a.length) {
        out += a[i];
        continue;
      }
      if (a[i + 1] === '$') {
        out += '$';
        i++;
        continue;
      }
      if (a[i + 1] === '(') {
        const end = a.indexOf(')', i + 2);
        if (end > 0) {
          const name = a.slice(i + 2, end);
          out += vars.has(name) ? vars.get(name)! : a.slice(i, end + 1);
          i = end;
          continue;
        }
      }
      out += '$';
    }
    return out;
  });
}

/** Runs the command in the container through the CRI; exit 0 is success. */
export async function execProbe(runtime: ContainerRuntime, containerId: string, action: ExecAction, container: ContainerSpec, timeoutSeconds: number): Promise<ProbeOutcome> {
  const cmd = expandStatic(action.command ?? [], container.env);
  try {
    const r = await runtime.execSync(containerId, cmd, timeoutSeconds);
    const output = Buffer.concat([Buffer.from(r.stdout ?? []), Buffer.from(r.stderr ?? [])]).subarray(0, MAX_OUTPUT).toString('utf8');
    return { result: r.exit_code === 0 ? 'success' : 'failure', output };
  } catch (e) {
    if (e instanceof RuntimeError && e.code === GRPC_DEADLINE_EXCEEDED) {
      return { result: 'failure', output: `command ${goQuote(cmd.join(' '))} timed out` };
    }
    return { result: 'unknown', output: '', error: e instanceof Error ? e.message : String(e) };
  }
}

/** GET on the pod (or `host`): 200-399 is success, a redirect off the host a warning. */
export async function httpProbe(action: HTTPGetAction, container: ContainerSpec, podIP: string | undefined, timeoutSeconds: number): Promise<ProbeOutcome> {
  if (!action.host && !podIP) return { result: 'unknown', output: '', error: 'the pod has no IP yet' };
  let url: string;
  try {
    url = httpGetURL(action, container, podIP);
  } catch (e) {
    return { result: 'unknown', output: '', error: (e as Error).message };
  }
  try {
    const res = await httpGet({ url, headers: action.httpHeaders, timeoutMs: timeoutSeconds * 1000, purpose: 'probe' });
    if (res.status >= 200 && res.status < 400) {
      if (res.status >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
      return { result: 'success', output: res.body };
    }
    return { result: 'failure', output: `HTTP probe failed with statuscode: ${res.status}` };
  } catch (e) {
    if (e instanceof HTTPGetError) return { result: 'failure', output: e.message };
    return { result: 'unknown', output: '', error: (e as Error).message };
  }
}

/** Opens (and closes) a TCP connection to the pod (or `host`). */
export async function tcpProbe(action: TCPSocketAction, container: ContainerSpec, podIP: string | undefined, timeoutSeconds: number): Promise<ProbeOutcome> {
  let port: number;
  try {
    port = resolveContainerPort(action.port, container);
  } catch (e) {
    return { result: 'unknown', output: '', error: (e as Error).message };
  }
  const host = action.host || podIP;
  if (!host) return { result: 'unknown', output: '', error: 'the pod has no IP yet' };
  const addr = joinHostPort(host, port);
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ result: 'failure', output: `dial tcp ${addr}: i/o timeout` });
    }, timeoutSeconds * 1000);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ result: 'success', output: '' });
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ result: 'failure', output: dialError(addr, err, host) });
    });
  });
}
