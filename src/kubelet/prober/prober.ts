// Runs one probe of a container (pkg/kubelet/prober/prober.go): picks the action, retries a run
// that could not be made at all up to 3 times, and records the upstream events: `Unhealthy`
// "<Kind> probe failed: <output>", `ProbeWarning` "<Kind> probe warning: <output>", and
// "<Kind> probe errored and resulted in unknown state: <error>".

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import { grpcProbe } from './grpc-health.js';
import { execProbe, httpProbe, tcpProbe } from './handlers.js';
import type { ContainerSpec, Probe, ProbeOutcome } from './types.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export const EVENT_UNHEALTHY = 'Unhealthy';
export const EVENT_PROBE_WARNING = 'ProbeWarning';
const MAX_RETRIES = 3;

export const probeKindTitle = (k: ProbeKind): string => k[0].toUpperCase() + k.slice(1);

/** Runs the probe's action once. */
export async function runProbeAction(probe: Probe, container: ContainerSpec, containerId: string, podIP: string | undefined, runtime: ContainerRuntime): Promise<ProbeOutcome> {
  const timeout = probe.timeoutSeconds || 1;
  if (probe.exec) return execProbe(runtime, containerId, probe.exec, container, timeout);
  if (probe.httpGet) return httpProbe(probe.httpGet, container, podIP, timeout);
  if (probe.tcpSocket) return tcpProbe(probe.tcpSocket, container, podIP, timeout);
  if (probe.grpc) return grpcProbe(probe.grpc, podIP, timeout);
  return { result: 'unknown', output: '', error: `missing probe handler for container ${container.name}` };
}

export interface ProbeRun {
  /** Success (a warning counts as success) or failure; undefined when the probe errored. */
  ok?: boolean;
  output: string;
}

/** Probes once (with retries of errored runs) and records the event upstream records. */
export async function probeContainer(opts: {
  kind: ProbeKind;
  probe: Probe;
  pod: KubeObject;
  container: ContainerSpec;
  containerId: string;
  podIP?: string;
  runtime: ContainerRuntime;
  recorder?: EventRecorder;
}): Promise<ProbeRun> {
  let out: ProbeOutcome = { result: 'unknown', output: '' };
  for (let i = 0; i < MAX_RETRIES; i++) {
    out = await runProbeAction(opts.probe, opts.container, opts.containerId, opts.podIP, opts.runtime);
    if (out.error === undefined) break;
  }
  const title = probeKindTitle(opts.kind);
  const ref: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: opts.pod.metadata };
  if (out.error !== undefined) {
    opts.recorder?.event(ref, 'Warning', EVENT_UNHEALTHY, `${title} probe errored and resulted in unknown state: ${out.error}`);
    return { output: out.error };
  }
  switch (out.result) {
    case 'success':
      return { ok: true, output: out.output };
    case 'warning':
      opts.recorder?.event(ref, 'Warning', EVENT_PROBE_WARNING, `${title} probe warning: ${out.output}`);
      return { ok: true, output: out.output };
    case 'failure':
      opts.recorder?.event(ref, 'Warning', EVENT_UNHEALTHY, `${title} probe failed: ${out.output}`);
      return { ok: false, output: out.output };
    default:
      opts.recorder?.event(ref, 'Warning', EVENT_UNHEALTHY, `${title} probe resulted in unknown state`);
      return { ok: false, output: out.output };
  }
}
