// Container lifecycle hooks (pkg/kubelet/lifecycle/handlers.go): postStart and preStop run an
// exec command in the container, an HTTP GET against the pod, or a sleep. `runHandler` returns
// undefined on success, else upstream's message; the agent records the events below.
//
// How upstream uses the result:
// - postStart failed: Warning event FailedPostStartHook with the message, then the container is
//   killed (Killing event message "FailedPostStartHook") and its waiting reason is
//   PostStartHookError with the message.
// - preStop failed: Warning event FailedPreStopHook with the fixed message "PreStopHook failed"
//   (the hook's output may hold secrets). The hook runs at most the pod's grace period.
// An HTTP hook's status code is not checked (only transport errors fail), as upstream.

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { goQuote, goSlice, grpcStatusError } from '../prober/go-errors.js';
import { httpGet, HTTPGetError } from '../prober/http-get.js';
import type { ContainerSpec, LifecycleHandler } from '../prober/types.js';
import { httpGetURL } from '../prober/types.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { RuntimeError } from '../runtime/runtime.js';

export const EVENT_FAILED_POST_START_HOOK = 'FailedPostStartHook';
export const EVENT_FAILED_PRE_STOP_HOOK = 'FailedPreStopHook';
/** The FailedPreStopHook event's message. */
export const PRE_STOP_HOOK_FAILED_MESSAGE = 'PreStopHook failed';
/** The Killing event's message when postStart failed. */
export const POST_START_KILL_MESSAGE = 'FailedPostStartHook';
/** The container's waiting reason after a failed postStart (its message is runHandler's). */
export const REASON_POST_START_HOOK_ERROR = 'PostStartHookError';
/** Event when an HTTPS hook got a plain HTTP answer and the HTTP retry worked. */
export const EVENT_LIFECYCLE_HTTP_FALLBACK = 'LifecycleHTTPFallback';

/** Upstream's format.Pod: name_namespace(uid). */
export const formatPod = (pod: KubeObject): string => `${pod.metadata.name}_${pod.metadata.namespace ?? 'default'}(${pod.metadata.uid})`;

export interface RunHandlerOptions {
  /** Ends a sleep hook early (the container is being killed). */
  signal?: AbortSignal;
  recorder?: EventRecorder;
}

async function runExec(runtime: ContainerRuntime, containerId: string, command: string[]): Promise<{ err?: string; output: string }> {
  try {
    const r = await runtime.execSync(containerId, command, 0);
    const output = Buffer.concat([Buffer.from(r.stdout ?? []), Buffer.from(r.stderr ?? [])]).toString('utf8');
    if (r.exit_code !== 0) return { err: `command '${command.join(' ')}' exited with ${r.exit_code}: ${Buffer.from(r.stderr ?? []).toString('utf8')}`, output };
    return { output };
  } catch (e) {
    if (e instanceof RuntimeError) return { err: grpcStatusError(e.code, e.message), output: '' };
    return { err: e instanceof Error ? e.message : String(e), output: '' };
  }
}

async function runHTTP(pod: KubeObject, container: ContainerSpec, handler: LifecycleHandler, podIP: string | undefined, opts: RunHandlerOptions): Promise<string | undefined> {
  const action = handler.httpGet!;
  if (!action.host && !podIP) return `failed to find networking container: pod ${formatPod(pod)} has no IP`;
  const url = httpGetURL(action, container, podIP);
  try {
    await httpGet({ url, headers: action.httpHeaders, purpose: 'lifecycle', signal: opts.signal });
    return undefined;
  } catch (e) {
    if (e instanceof HTTPGetError && e.httpResponseToHTTPS) {
      // Upstream retries an HTTPS hook answered in plain HTTP over HTTP, without Authorization.
      const plain = url.replace(/^https:/, 'http:');
      try {
        await httpGet({ url: plain, headers: action.httpHeaders?.filter((h) => h.name.toLowerCase() !== 'authorization'), purpose: 'lifecycle', signal: opts.signal });
        const host = new URL(plain).host;
        opts.recorder?.event({ apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata }, 'Warning', EVENT_LIFECYCLE_HTTP_FALLBACK, `request to HTTPS lifecycle hook ${host} got HTTP response, retry with HTTP succeeded`);
        return undefined;
      } catch {
        /* report the HTTPS error */
      }
    }
    return (e as Error).message;
  }
}

function runSleep(seconds: number, signal?: AbortSignal): Promise<string | undefined> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve('container terminated before sleep hook finished');
    const onAbort = () => {
      clearTimeout(timer);
      resolve('container terminated before sleep hook finished');
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(undefined);
    }, seconds * 1000);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs a postStart or preStop handler of `container` (running as `containerId`). Resolves
 * undefined when it succeeded, else with upstream's failure message, e.g.
 * `Exec lifecycle hook ([sh -c exit 1]) for Container "web" in Pod "p_default(uid)" failed - error: command 'sh -c exit 1' exited with 1: , message: ""`.
 */
export async function runHandler(
  pod: KubeObject,
  container: ContainerSpec,
  containerId: string,
  handler: LifecycleHandler,
  podIP: string | undefined,
  runtime: ContainerRuntime,
  opts: RunHandlerOptions = {},
): Promise<string | undefined> {
  const where = `for Container ${goQuote(container.name)} in Pod ${goQuote(formatPod(pod))}`;
  if (handler.exec) {
    const command = handler.exec.command ?? [];
    const r = await runExec(runtime, containerId, command);
    return r.err === undefined ? undefined : `Exec lifecycle hook (${goSlice(command)}) ${where} failed - error: ${r.err}, message: ${goQuote(r.output)}`;
  }
  if (handler.httpGet) {
    let err: string | undefined;
    try {
      err = await runHTTP(pod, container, handler, podIP, opts);
    } catch (e) {
      err = (e as Error).message;
    }
    return err === undefined ? undefined : `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${where} failed - error: ${err}`;
  }
  if (handler.sleep) {
    const err = await runSleep(handler.sleep.seconds, opts.signal);
    return err === undefined ? undefined : `Sleep lifecycle hook (${handler.sleep.seconds}) ${where} failed - error: ${err}`;
  }
  return `Cannot run handler: invalid handler: ${JSON.stringify(handler)}`;
}
