// The pod's API status from what the runtime reports: container states with lastState and
// restartCount, the phase (upstream's getPhase rules), and the conditions PodReadyToStartContainers,
// Initialized, ContainersReady and Ready, keeping each condition's lastTransitionTime while its
// status stays the same.

import type { KubeObject } from '../../api/meta/v1.js';
import { latestByName, previousByName, type RuntimeContainer, type RuntimePod } from './runtime-state.js';

export interface Waiting {
  reason: string;
  message?: string;
}

export interface StatusInputs {
  pod: KubeObject;
  runtime?: RuntimePod;
  /** Why a container is not running yet (ContainerCreating, ErrImagePull, CrashLoopBackOff, ...). */
  waiting: (name: string) => Waiting | undefined;
  ready: (name: string, containerId: string) => boolean;
  started: (name: string, containerId: string) => boolean;
  /** The termination message of an exited container (file or logs, per its policy). */
  terminationMessage: (c: RuntimeContainer) => string | undefined;
  hostIP: string;
  /** Pod-level failure (e.g. activeDeadlineSeconds, eviction): the phase becomes Failed. */
  failed?: { reason: string; message: string };
  qosClass: string;
  now?: () => string;
}

const rfc = (ns: string | undefined): string | undefined => {
  if (!ns || ns === '0') return undefined;
  const ms = Number(BigInt(ns) / 1_000_000n);
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
};

function containerState(c: RuntimeContainer, message: string | undefined): Record<string, unknown> {
  const s = c.status;
  if (s.state === 'CONTAINER_RUNNING') return { running: { startedAt: rfc(s.started_at) } };
  if (s.state === 'CONTAINER_EXITED') {
    const reason = s.reason || (s.exit_code === 0 ? 'Completed' : 'Error');
    return {
      terminated: {
        exitCode: s.exit_code,
        reason,
        ...(message || s.message ? { message: message || s.message } : {}),
        startedAt: rfc(s.started_at) ?? null,
        finishedAt: rfc(s.finished_at) ?? null,
        containerID: `containerd://${c.id}`,
      },
    };
  }
  if (s.state === 'CONTAINER_CREATED') return { waiting: { reason: 'ContainerCreating' } };
  return { waiting: { reason: 'ContainerStatusUnknown', message: 'The container could not be located when the pod was terminated' } };
}

export function containerStatuses(inp: StatusInputs, containers: any[], isInit: boolean): Record<string, unknown>[] {
  const latest = latestByName(inp.runtime);
  const out: Record<string, unknown>[] = [];
  for (const spec of containers) {
    const cur = latest.get(spec.name);
    const prev = previousByName(inp.runtime, spec.name);
    const waiting = inp.waiting(spec.name);
    const exited = (c: RuntimeContainer | undefined) => !!c && c.status.state === 'CONTAINER_EXITED';
    let state: Record<string, unknown>;
    let lastState: Record<string, unknown> = {};
    if (cur && cur.status.state === 'CONTAINER_RUNNING') {
      state = containerState(cur, undefined);
      if (exited(prev)) lastState = containerState(prev!, inp.terminationMessage(prev!));
    } else if (cur && exited(cur)) {
      if (waiting) {
        // Back-off or a failed restart: waiting, with the last run as lastState.
        state = { waiting };
        lastState = containerState(cur, inp.terminationMessage(cur));
      } else {
        state = containerState(cur, inp.terminationMessage(cur));
        if (exited(prev)) lastState = containerState(prev!, inp.terminationMessage(prev!));
      }
    } else {
      state = { waiting: waiting ?? { reason: isInit || !(inp.pod.spec?.initContainers ?? []).length ? 'ContainerCreating' : 'PodInitializing' } };
    }
    const running = cur?.status.state === 'CONTAINER_RUNNING';
    const st: Record<string, unknown> = {
      name: spec.name,
      state,
      lastState,
      ready: running && inp.ready(spec.name, cur!.id),
      restartCount: cur?.attempt ?? 0,
      image: spec.image,
      imageID: cur?.status.image_ref ?? '',
      ...(cur ? { containerID: `containerd://${cur.id}` } : {}),
      started: running && inp.started(spec.name, cur!.id),
    };
    if (isInit && spec.restartPolicy !== 'Always') st.ready = (state.terminated as any)?.exitCode === 0;
    out.push(st);
  }
  return out;
}

/** Upstream's getPhase. */
export function podPhase(pod: KubeObject, init: Record<string, any>[], containers: Record<string, any>[], sandboxReady: boolean): string {
  const policy = pod.spec?.restartPolicy ?? 'Always';
  let pendingInit = 0;
  let failedInit = false;
  for (const s of init) {
    const spec = (pod.spec?.initContainers ?? []).find((c: any) => c.name === s.name);
    if (spec?.restartPolicy === 'Always') {
      if (!s.state.running && !s.started) pendingInit++;
      continue;
    }
    if (s.state.terminated?.exitCode === 0) continue;
    if (s.state.terminated || (s.state.waiting && s.lastState?.terminated)) {
      if (policy === 'Never') failedInit = true;
    }
    pendingInit++;
  }
  if (failedInit) return 'Failed';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of containers) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    }
  }
  if (pendingInit > 0 && !(running > 0 && sandboxReady)) return 'Pending';
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

export function computePodStatus(inp: StatusInputs): Record<string, any> {
  const pod = inp.pod;
  const now = inp.now?.() ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const old = pod.status ?? {};
  const sandbox = inp.runtime?.sandboxes[0];
  const sandboxReady = !!sandbox?.ready;
  const init = containerStatuses(inp, pod.spec?.initContainers ?? [], true);
  const containers = containerStatuses(inp, pod.spec?.containers ?? [], false);
  let phase = podPhase(pod, init, containers, sandboxReady);
  // Terminal phases stick (upstream never leaves Succeeded/Failed).
  if (old.phase === 'Succeeded' || old.phase === 'Failed') phase = old.phase;
  if (inp.failed) phase = 'Failed';
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  const conditions: Record<string, any>[] = [];
  const prev = new Map<string, any>((old.conditions ?? []).map((c: any) => [c.type, c]));
  const cond = (type: string, status: boolean, reason?: string, message?: string) => {
    const s = status ? 'True' : 'False';
    const p = prev.get(type);
    conditions.push({
      type,
      status: s,
      lastProbeTime: null,
      lastTransitionTime: p && p.status === s ? p.lastTransitionTime : now,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    });
  };
  cond('PodReadyToStartContainers', sandboxReady && !terminal);
  const initPending = init.filter((s, i) => {
    const spec = pod.spec.initContainers[i];
    if (spec.restartPolicy === 'Always') return !s.started;
    return !((s.state as any).terminated?.exitCode === 0);
  });
  const initDone = initPending.length === 0 || (terminal && phase === 'Succeeded');
  cond('Initialized', initDone, initDone ? undefined : 'ContainersNotInitialized', initDone ? undefined : `containers with incomplete status: [${initPending.map((s) => s.name).join(' ')}]`);
  const unready = containers.filter((s) => !s.ready).map((s) => s.name);
  const ready = unready.length === 0 && !terminal;
  const why = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const msg = terminal ? undefined : `containers with unready status: [${unready.join(' ')}]`;
  const gates = (pod.spec?.readinessGates ?? []).map((g: any) => g.conditionType);
  const gateFalse = gates.filter((t: string) => prev.get(t)?.status !== 'True');
  cond('Ready', ready && gateFalse.length === 0, ready ? (gateFalse.length ? 'ReadinessGatesNotReady' : undefined) : why, ready ? (gateFalse.length ? `corresponding condition of pod readiness gate "${gateFalse[0]}" does not exist.` : undefined) : msg);
  cond('ContainersReady', ready, ready ? undefined : why, ready ? undefined : msg);
  // Conditions others own (PodScheduled, DisruptionTarget, readiness gates) stay.
  const mine = new Set(conditions.map((c) => c.type));
  for (const c of old.conditions ?? []) if (!mine.has(c.type)) conditions.push(c);
  const podIP = pod.spec?.hostNetwork ? inp.hostIP : sandbox?.ip ?? old.podIP;
  return {
    phase,
    conditions,
    hostIP: inp.hostIP,
    hostIPs: [{ ip: inp.hostIP }],
    ...(podIP ? { podIP, podIPs: [{ ip: podIP }] } : {}),
    startTime: old.startTime ?? now,
    ...(init.length ? { initContainerStatuses: init } : {}),
    containerStatuses: containers,
    qosClass: inp.qosClass,
    ...(inp.failed ? { reason: inp.failed.reason, message: inp.failed.message } : {}),
  };
}
