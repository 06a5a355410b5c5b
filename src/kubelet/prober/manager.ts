// The probe manager (upstream's prober.Manager): one worker per (pod, container, probe kind),
// probe results per container ID, and the readiness/started answers the agent puts in the pod's
// container statuses. The agent tells it what runs (`updatePod` on every pod sync) and hears back
// through `onResult` (a result changed: resync the pod's status) and `onKill` (liveness or
// startup failed `failureThreshold` times: kill the container with the given message).

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ProbeKind } from './prober.js';
import type { ContainerSpec, Probe } from './types.js';
import { ProbeWorker, type StoredResult } from './worker.js';
import { type Logger } from '../../machinery/logger.js';

export type ProberLog = Pick<Logger, 'debug' | 'warn'>;

/** What the agent knows of one container of the pod. */
export interface ContainerSnapshot {
  name: string;
  containerId: string;
  startedAt: Date;
  running: boolean;
}

export interface ProberManagerOptions {
  runtime: ContainerRuntime;
  recorder?: EventRecorder;
  log?: ProberLog;
  /** A probe result changed (readiness, liveness or startup); ok is false for unknown. */
  onResult?(podUID: string, containerName: string, kind: ProbeKind, ok: boolean): void;
  /**
   * Liveness or startup failed failureThreshold times: the container must be killed (and, unless
   * the pod's restartPolicy is Never, restarted). `message` is upstream's Killing event text,
   * e.g. "Container web failed liveness probe, will be restarted". `gracePeriodSeconds` is the
   * probe's terminationGracePeriodSeconds when set (it overrides the pod's for this kill).
   */
  onKill?(podUID: string, containerName: string, containerId: string, message: string, gracePeriodSeconds?: number): void;
}

interface PodEntry {
  pod: KubeObject;
  podIP?: string;
  containers: Map<string, ContainerSnapshot>;
}

const KINDS: ProbeKind[] = ['startup', 'readiness', 'liveness'];
const probeOf = (c: ContainerSpec, kind: ProbeKind): Probe | undefined =>
  kind === 'liveness' ? c.livenessProbe : kind === 'readiness' ? c.readinessProbe : c.startupProbe;
const key = (uid: string, name: string, kind: ProbeKind) => `${uid}\u0000${name}\u0000${kind}`;

/** Containers that can be probed: regular ones and sidecars (restartable init containers). */
function probedContainers(pod: KubeObject): ContainerSpec[] {
  const spec = pod.spec ?? {};
  return [...((spec.initContainers ?? []) as ContainerSpec[]).filter((c) => c.restartPolicy === 'Always'), ...((spec.containers ?? []) as ContainerSpec[])];
}

export class ProberManager {
  readonly runtime: ContainerRuntime;
  readonly recorder?: EventRecorder;
  readonly log?: ProberLog;
  private readonly startedAt = Date.now();
  private readonly pods = new Map<string, PodEntry>();
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly results = new Map<string, { containerId: string; result: StoredResult }>();

  constructor(private readonly opts: ProberManagerOptions) {
    this.runtime = opts.runtime;
    this.recorder = opts.recorder;
    this.log = opts.log;
  }

  /**
   * The pod as the agent last synced it and its containers as they are now (those with an ID).
   * Starts workers for probed containers that appeared, stops those of containers that are gone,
   * and stops every worker of a pod that reached Succeeded or Failed.
   */
  updatePod(pod: KubeObject, containers: ContainerSnapshot[], podIP?: string): void {
    const uid = pod.metadata.uid;
    if (!uid) throw new Error('prober: pod has no metadata.uid');
    const entry: PodEntry = this.pods.get(uid) ?? { pod, containers: new Map() };
    entry.pod = pod;
    if (podIP) entry.podIP = podIP;
    entry.containers = new Map(containers.filter((c) => c.containerId).map((c) => [c.name, c]));
    this.pods.set(uid, entry);

    const phase = pod.status?.phase;
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    const wanted = new Set<string>();
    if (!terminal) {
      for (const c of probedContainers(pod)) {
        if (!entry.containers.has(c.name)) continue;
        for (const kind of KINDS) {
          const probe = probeOf(c, kind);
          if (!probe) continue;
          if (pod.metadata.deletionTimestamp && kind !== 'readiness') continue;
          const k = key(uid, c.name, kind);
          wanted.add(k);
          const existing = this.workers.get(k);
          if (existing) {
            existing.updatePod(pod);
            continue;
          }
          const w = new ProbeWorker(this, uid, c, kind, probe, pod);
          this.workers.set(k, w);
          w.start(Date.now() - this.startedAt);
        }
      }
    }
    for (const [k, w] of this.workers) {
      if (w.podUID !== uid || wanted.has(k)) continue;
      this.stopWorker(k, w);
      // A terminating pod's liveness and startup end quietly as success (upstream).
      if (pod.metadata.deletionTimestamp && entry.containers.has(w.container.name)) {
        const cur = entry.containers.get(w.container.name)!;
        this.setResult(uid, w.container.name, w.kind, cur.containerId, 'success');
      } else this.results.delete(k);
    }
  }

  /** Stops every worker of the pod and forgets its results. */
  removePod(uid: string): void {
    for (const [k, w] of this.workers) if (w.podUID === uid) this.stopWorker(k, w);
    for (const k of this.results.keys()) if (k.startsWith(uid + '\u0000')) this.results.delete(k);
    this.pods.delete(uid);
  }

  /** Stops everything (agent shutdown). */
  stop(): void {
    for (const [k, w] of this.workers) this.stopWorker(k, w);
  }

  /**
   * Whether the container has started: running, and its startup probe (if any) succeeded for the
   * current container ID.
   */
  isStarted(uid: string, name: string): boolean {
    const c = this.containerSnapshot(uid, name);
    if (!c?.running) return false;
    const r = this.currentResult(uid, name, 'startup', c.containerId);
    if (r !== undefined) return r === 'success';
    return !this.workers.has(key(uid, name, 'startup'));
  }

  /**
   * The container's Ready: running, started, and its readiness probe (if any) succeeded for the
   * current container ID. Asking while a readiness worker says not ready triggers a probe now
   * (at most once a second), as upstream does on every status update.
   */
  isReady(uid: string, name: string): boolean {
    const c = this.containerSnapshot(uid, name);
    if (!c?.running || !this.isStarted(uid, name)) return false;
    if (this.currentResult(uid, name, 'readiness', c.containerId) === 'success') return true;
    const w = this.workers.get(key(uid, name, 'readiness'));
    if (!w) return true;
    w.trigger();
    return false;
  }

  /** The stored result for the container's current ID, if a worker set one. */
  result(uid: string, name: string, kind: ProbeKind): StoredResult | undefined {
    const c = this.containerSnapshot(uid, name);
    return c ? this.currentResult(uid, name, kind, c.containerId) : undefined;
  }

  workerCount(uid?: string): number {
    let n = 0;
    for (const w of this.workers.values()) if (uid === undefined || w.podUID === uid) n++;
    return n;
  }

  // ---- for the workers ----

  containerSnapshot(uid: string, name: string): ContainerSnapshot | undefined {
    return this.pods.get(uid)?.containers.get(name);
  }

  /** The IP probes target when the action names no host: the sandbox's, else the pod status's. */
  podIP(uid: string): string | undefined {
    const e = this.pods.get(uid);
    if (!e) return undefined;
    return e.podIP || e.pod.status?.podIP || (e.pod.spec?.hostNetwork ? e.pod.status?.hostIP : undefined) || undefined;
  }

  setResult(uid: string, name: string, kind: ProbeKind, containerId: string, result: StoredResult): void {
    const k = key(uid, name, kind);
    const prev = this.results.get(k);
    this.results.set(k, { containerId, result });
    if (prev?.containerId === containerId && prev.result === result) return;
    try {
      this.opts.onResult?.(uid, name, kind, result === 'success');
    } catch (err) {
      this.log?.warn({ err, pod: uid, container: name }, 'prober: onResult failed');
    }
  }

  containerFailed(w: ProbeWorker, containerId: string, output: string): void {
    const pod = this.pods.get(w.podUID)?.pod;
    let message = `Container ${w.container.name} failed ${w.kind} probe`;
    const restartable = w.container.restartPolicy === 'Always' || pod?.spec?.restartPolicy !== 'Never';
    if (restartable) message += ', will be restarted';
    this.log?.debug({ pod: w.podUID, container: w.container.name, probe: w.kind, output }, message);
    try {
      this.opts.onKill?.(w.podUID, w.container.name, containerId, message, w.spec.terminationGracePeriodSeconds ?? undefined);
    } catch (err) {
      this.log?.warn({ err, pod: w.podUID, container: w.container.name }, 'prober: onKill failed');
    }
  }

  workerExited(w: ProbeWorker): void {
    const k = key(w.podUID, w.container.name, w.kind);
    if (this.workers.get(k) === w) this.workers.delete(k);
  }

  private currentResult(uid: string, name: string, kind: ProbeKind, containerId: string): StoredResult | undefined {
    const r = this.results.get(key(uid, name, kind));
    return r && r.containerId === containerId ? r.result : undefined;
  }

  private stopWorker(k: string, w: ProbeWorker): void {
    w.stop();
    this.workers.delete(k);
  }
}
