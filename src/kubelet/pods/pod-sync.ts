// Converging one pod (upstream's SyncPod / KillPod): a ready sandbox, init containers one at a
// time, then the containers, restarted as restartPolicy says with CrashLoopBackOff; and for a pod
// being deleted, preStop hooks and stops within its grace period. Each call does what it can now
// and returns when the pod should be looked at again.

import { mkdirSync } from 'node:fs';
import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import type { KubeletPaths } from '../paths.js';
import {
  ANNOTATION_CONTAINER_HASH,
  type ContainerRuntime,
  type KeyValue,
  type LinuxContainerResources,
  type Mount,
  type PodSandboxConfig,
} from '../runtime/runtime.js';
import { goDuration, RestartBackoff } from './backoff.js';
import type { Waiting } from './pod-status.js';
import { containerConfig, containerHash, sandboxConfig, type DNSSettings } from './runtime-config.js';
import { latestByName, type RuntimeContainer, type RuntimePod, type RuntimeState } from './runtime-state.js';
import type { Logger } from '../../machinery/logger.js';

/** An error whose reason becomes the container's waiting reason (ErrImagePull, CreateContainerConfigError, ...). */
export interface ReasonedError {
  reason: string;
  message: string;
}

function reasoned(err: unknown, fallbackReason: string): ReasonedError {
  const e = err as { reason?: string; message?: string };
  if (e && typeof e.reason === 'string' && e.reason) return { reason: e.reason, message: String(e.message ?? '') };
  return { reason: fallbackReason, message: String(e?.message ?? err) };
}

export interface PodSyncDeps {
  runtime: ContainerRuntime;
  state: RuntimeState;
  paths: KubeletPaths;
  dns: DNSSettings;
  recorder: EventRecorder;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Pulls as imagePullPolicy says; throws a ReasonedError (ErrImagePull, ImagePullBackOff, ...). */
  ensureImage(pod: KubeObject, container: any): Promise<string>;
  /** Prepares the pod's volumes; throws a ReasonedError (FailedMount) while they cannot be. */
  setUpVolumes(pod: KubeObject): Promise<void>;
  /** Mounts of one container (volumes, /etc/hosts, termination log). */
  containerMounts(pod: KubeObject, container: any, env: KeyValue[], restartCount: number): Promise<Mount[]>;
  tearDownVolumes(uid: string): Promise<void>;
  /** Environment; throws a ReasonedError (CreateContainerConfigError). */
  environment(pod: KubeObject, container: any, podIP: string): Promise<KeyValue[]>;
  expand(list: string[] | undefined, env: KeyValue[]): string[];
  /** The pod cgroup (cgroup_parent), created with the pod's limits. */
  ensurePodCgroup(pod: KubeObject): Promise<string | undefined>;
  removePodCgroup(uid: string): Promise<void>;
  containerResources(pod: KubeObject, container: any): LinuxContainerResources | undefined;
  /** Runs a lifecycle handler; resolves to an error message or undefined. */
  runHook(pod: KubeObject, container: any, containerId: string, handler: any, podIP: string): Promise<string | undefined>;
  /** A liveness/startup failure that asks for a restart: its message and the probe's grace period; cleared once acted on. */
  takeKillRequest(uid: string, containerId: string): { message: string; grace?: number } | undefined;
}

export interface SyncResult {
  /** Look at the pod again after this long (back-off, a waiting container). */
  requeueAfterMs?: number;
  /** All containers and sandboxes are gone (a deleted pod may now be removed from the API). */
  terminated?: boolean;
}

export class PodSyncer {
  /** Why containers are not running, by `<uid>/<name>`. */
  private readonly waitingReasons = new Map<string, Waiting>();

  constructor(
    private readonly d: PodSyncDeps,
    readonly backoff = new RestartBackoff(),
  ) {}

  waiting(uid: string, name: string): Waiting | undefined {
    return this.waitingReasons.get(`${uid}/${name}`);
  }

  private setWaiting(pod: KubeObject, name: string, w: Waiting | undefined): void {
    const key = `${pod.metadata.uid}/${name}`;
    if (w) this.waitingReasons.set(key, w);
    else this.waitingReasons.delete(key);
  }

  forget(uid: string): void {
    for (const k of this.waitingReasons.keys()) if (k.startsWith(`${uid}/`)) this.waitingReasons.delete(k);
    this.backoff.forgetPrefix(`${uid}/`);
  }

  /** Brings a live pod towards its spec. */
  async sync(pod: KubeObject, terminalPhase: boolean): Promise<SyncResult> {
    const uid = pod.metadata.uid!;
    const rp = this.d.state.get(uid);
    if (terminalPhase) {
      // A finished pod keeps its exited containers (for logs) but not its sandbox (its IP).
      await this.stopSandboxes(rp);
      return {};
    }
    const spec = pod.spec ?? {};
    const policy: string = spec.restartPolicy ?? 'Always';
    let sandbox = rp?.sandboxes[0];
    const sandboxOK = sandbox?.ready && (spec.hostNetwork || sandbox.ip);
    if (!sandboxOK) {
      // A pod whose containers all finished for good needs no new sandbox.
      if (sandbox && policy !== 'Always' && this.allFinished(pod, rp)) {
        await this.stopSandboxes(rp);
        return {};
      }
      if (sandbox) {
        this.d.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` }, 'sandbox not ready; creating a new one');
        this.d.recorder.event(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
        await this.killContainers(pod, rp, 2, 'sandbox changed');
        await this.stopSandboxes(rp);
      }
      try {
        await this.d.setUpVolumes(pod);
      } catch (err) {
        const r = reasoned(err, 'FailedMount');
        this.d.recorder.event(pod, 'Warning', r.reason, r.message);
        return { requeueAfterMs: 5_000 };
      }
      const attempt = sandbox ? sandbox.attempt + 1 : 0;
      let config: PodSandboxConfig;
      try {
        const cgroupParent = await this.d.ensurePodCgroup(pod);
        config = sandboxConfig(pod, { attempt, paths: this.d.paths, dns: this.d.dns, cgroupParent });
        mkdirSync(config.log_directory!, { recursive: true, mode: 0o755 });
        const id = await this.d.runtime.runPodSandbox(config);
        this.d.log.debug({ pod: pod.metadata.name, sandbox: id }, 'sandbox started');
      } catch (err) {
        const msg = String((err as Error).message ?? err);
        this.d.recorder.event(pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${msg}`);
        return { requeueAfterMs: 5_000 };
      }
      await this.d.state.refreshPod(uid);
      sandbox = this.d.state.get(uid)?.sandboxes[0];
      if (!sandbox) return { requeueAfterMs: 1_000 };
    }
    const podIP = spec.hostNetwork ? '' : sandbox!.ip ?? '';
    const rpNow = this.d.state.get(uid);
    const sandboxConf = sandboxConfig(pod, { attempt: sandbox!.attempt, paths: this.d.paths, dns: this.d.dns, cgroupParent: undefined });
    const current = latestByName(rpNow, sandbox!.id);
    const latest = latestByName(rpNow);
    let requeue: number | undefined;
    const soon = (ms: number) => (requeue = requeue === undefined ? ms : Math.min(requeue, ms));

    // Init containers: one at a time, in order; sidecars (restartPolicy Always) are started and left running.
    for (const c of spec.initContainers ?? []) {
      const cur = current.get(c.name);
      const sidecar = c.restartPolicy === 'Always';
      if (cur?.status.state === 'CONTAINER_RUNNING') {
        if (sidecar) continue;
        return { requeueAfterMs: requeue };
      }
      if (cur?.status.state === 'CONTAINER_EXITED' && cur.status.exit_code === 0 && !sidecar) continue;
      if (cur?.status.state === 'CONTAINER_EXITED' && policy === 'Never' && !sidecar) return {}; // the pod failed
      const wait = await this.startWithBackoff(pod, c, sandbox!.id, sandboxConf, latest.get(c.name), cur, podIP);
      if (wait !== undefined) soon(wait);
      if (!sidecar) return { requeueAfterMs: requeue };
    }

    for (const c of spec.containers ?? []) {
      const cur = current.get(c.name);
      if (cur?.status.state === 'CONTAINER_RUNNING') {
        const kill = this.d.takeKillRequest(uid, cur.id);
        const changed = cur.status.annotations?.[ANNOTATION_CONTAINER_HASH] && cur.status.annotations[ANNOTATION_CONTAINER_HASH] !== containerHash(c);
        if (kill || changed) {
          const message = kill?.message ?? `Container ${c.name} definition changed, will be restarted`;
          await this.killContainer(pod, c, cur, kill?.grace ?? pod.spec?.terminationGracePeriodSeconds ?? 30, message);
          soon(0);
        }
        continue;
      }
      if (cur?.status.state === 'CONTAINER_CREATED') {
        // Created but never started (the agent died in between): start it now.
        await this.d.runtime.startContainer(cur.id).catch(() => this.d.runtime.removeContainer(cur.id).catch(() => undefined));
        continue;
      }
      const last = latest.get(c.name);
      if (cur?.status.state === 'CONTAINER_EXITED') {
        const failed = cur.status.exit_code !== 0;
        if (policy === 'Never' || (policy === 'OnFailure' && !failed)) continue;
      }
      const wait = await this.startWithBackoff(pod, c, sandbox!.id, sandboxConf, last, cur, podIP);
      if (wait !== undefined) soon(wait);
    }
    return { requeueAfterMs: requeue };
  }

  private allFinished(pod: KubeObject, rp: RuntimePod | undefined): boolean {
    const latest = latestByName(rp);
    const policy = pod.spec?.restartPolicy ?? 'Always';
    return (pod.spec?.containers ?? []).every((c: any) => {
      const s = latest.get(c.name)?.status;
      if (!s || s.state !== 'CONTAINER_EXITED') return false;
      return policy === 'Never' || s.exit_code === 0;
    });
  }

  /** Starts a container unless it is in back-off; returns when to look again. */
  private async startWithBackoff(
    pod: KubeObject,
    c: any,
    sandboxId: string,
    sandboxConf: PodSandboxConfig,
    last: RuntimeContainer | undefined,
    cur: RuntimeContainer | undefined,
    podIP: string,
  ): Promise<number | undefined> {
    const uid = pod.metadata.uid!;
    const key = `${uid}/${c.name}`;
    if (cur?.status.state === 'CONTAINER_EXITED') {
      const finishedMs = Number(BigInt(cur.status.finished_at || '0') / 1_000_000n);
      const wait = this.backoff.remaining(key, finishedMs);
      if (wait > 0) {
        const msg = `back-off ${goDuration(this.backoff.delay(key))} restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${uid})`;
        if (this.waiting(uid, c.name)?.reason !== 'CrashLoopBackOff') {
          this.d.recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${uid})`);
        }
        this.setWaiting(pod, c.name, { reason: 'CrashLoopBackOff', message: msg });
        return wait;
      }
    }
    const restartCount = last ? last.attempt + 1 : 0;
    const r = await this.startContainer(pod, c, sandboxId, sandboxConf, restartCount, podIP);
    if (cur?.status.state === 'CONTAINER_EXITED' || r !== undefined) this.backoff.next(key);
    if (r !== undefined) return r;
    // Keep one exited instance per container (for --previous); remove older ones.
    await this.removeOldInstances(uid, c.name);
    return undefined;
  }

  private async removeOldInstances(uid: string, name: string): Promise<void> {
    const rp = this.d.state.get(uid);
    const all = (rp?.containers ?? []).filter((x) => x.name === name && x.status.state === 'CONTAINER_EXITED');
    for (const old of all.slice(1)) {
      await this.d.runtime.removeContainer(old.id).catch(() => undefined);
      this.d.state.forget(old.id);
    }
  }

  /** Returns a requeue delay when the container could not be started. */
  private async startContainer(pod: KubeObject, c: any, sandboxId: string, sandboxConf: PodSandboxConfig, restartCount: number, podIP: string): Promise<number | undefined> {
    let imageRef: string;
    try {
      imageRef = await this.d.ensureImage(pod, c);
    } catch (err) {
      const r = reasoned(err, 'ErrImagePull');
      this.setWaiting(pod, c.name, r);
      this.d.recorder.event(pod, 'Warning', 'Failed', `Error: ${r.reason}`);
      return r.reason === 'ImagePullBackOff' ? 5_000 : 1_000;
    }
    let envs: KeyValue[];
    let mounts: Mount[];
    try {
      envs = await this.d.environment(pod, c, podIP);
      mounts = await this.d.containerMounts(pod, c, envs, restartCount);
    } catch (err) {
      const r = reasoned(err, 'CreateContainerConfigError');
      this.setWaiting(pod, c.name, r);
      this.d.recorder.event(pod, 'Warning', 'Failed', `Error: ${r.message}`);
      return 5_000;
    }
    const config = containerConfig(pod, c, {
      restartCount,
      imageRef,
      command: this.d.expand(c.command, envs),
      args: this.d.expand(c.args, envs),
      envs,
      mounts,
      resources: this.d.containerResources(pod, c),
    });
    mkdirSync(`${sandboxConf.log_directory}/${c.name}`, { recursive: true });
    let id: string;
    try {
      id = await this.d.runtime.createContainer(sandboxId, config, sandboxConf);
    } catch (err) {
      const message = String((err as Error).message ?? err);
      this.setWaiting(pod, c.name, { reason: 'CreateContainerError', message });
      this.d.recorder.event(pod, 'Warning', 'Failed', `Error: ${message}`);
      return 5_000;
    }
    this.d.recorder.event(pod, 'Normal', 'Created', `Created container: ${c.name}`);
    try {
      await this.d.runtime.startContainer(id);
    } catch (err) {
      // The container exists and has exited (e.g. executable not found): its status says why.
      const message = String((err as Error).message ?? err);
      this.d.recorder.event(pod, 'Warning', 'Failed', `Error: ${message}`);
      this.setWaiting(pod, c.name, undefined);
      await this.d.state.refreshPod(pod.metadata.uid!);
      return undefined;
    }
    this.setWaiting(pod, c.name, undefined);
    this.d.recorder.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
    await this.d.state.refreshPod(pod.metadata.uid!);
    if (c.lifecycle?.postStart) {
      const err = await this.d.runHook(pod, c, id, c.lifecycle.postStart, podIP);
      if (err) {
        this.d.recorder.event(pod, 'Warning', 'FailedPostStartHook', err);
        await this.d.runtime.stopContainer(id, 0).catch(() => undefined);
        this.d.recorder.event(pod, 'Normal', 'Killing', `FailedPostStartHook`);
      }
    }
    return undefined;
  }

  /** preStop, then stop with what remains of the grace period. */
  async killContainer(pod: KubeObject, c: any, rc: RuntimeContainer, graceSeconds: number, message?: string): Promise<void> {
    const started = Date.now();
    this.d.recorder.event(pod, 'Normal', 'Killing', message ?? `Stopping container ${rc.name}`);
    const podIP = this.d.state.get(pod.metadata.uid!)?.sandboxes[0]?.ip ?? '';
    if (c?.lifecycle?.preStop && graceSeconds > 0) {
      const hook = this.d.runHook(pod, c, rc.id, c.lifecycle.preStop, podIP);
      const err = await Promise.race([hook, new Promise<string>((r) => setTimeout(() => r(''), graceSeconds * 1000).unref())]);
      if (err) this.d.recorder.event(pod, 'Warning', 'FailedPreStopHook', err);
    }
    const left = Math.max(graceSeconds - Math.floor((Date.now() - started) / 1000), graceSeconds > 0 ? 2 : 0);
    await this.d.runtime.stopContainer(rc.id, left).catch((err) => this.d.log.warn({ err: String(err), container: rc.id }, 'stop container failed'));
    await this.d.state.refreshPod(pod.metadata.uid!).catch(() => undefined);
  }

  private async killContainers(pod: KubeObject, rp: RuntimePod | undefined, graceSeconds: number, _why: string): Promise<void> {
    const specs = new Map<string, any>([...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c: any) => [c.name, c]));
    const running = (rp?.containers ?? []).filter((c) => c.status.state === 'CONTAINER_RUNNING' || c.status.state === 'CONTAINER_CREATED');
    await Promise.all(running.map((rc) => this.killContainer(pod, specs.get(rc.name), rc, graceSeconds)));
  }

  private async stopSandboxes(rp: RuntimePod | undefined): Promise<void> {
    for (const s of rp?.sandboxes ?? []) if (s.ready) await this.d.runtime.stopPodSandbox(s.id).catch(() => undefined);
  }

  /**
   * Stops a pod that is being deleted (or no longer belongs here): preStop hooks and SIGTERM with
   * the grace period, then removes containers, sandboxes, volumes and the pod cgroup.
   */
  async terminate(pod: KubeObject | undefined, uid: string, graceSeconds: number): Promise<void> {
    await this.d.state.refreshPod(uid);
    const rp = this.d.state.get(uid);
    if (pod) await this.killContainers(pod, rp, graceSeconds, 'deleted');
    else {
      for (const c of rp?.containers ?? []) if (c.status.state === 'CONTAINER_RUNNING') await this.d.runtime.stopContainer(c.id, Math.min(graceSeconds, 2)).catch(() => undefined);
    }
    for (const s of rp?.sandboxes ?? []) {
      await this.d.runtime.stopPodSandbox(s.id).catch(() => undefined);
      await this.d.runtime.removePodSandbox(s.id).catch(() => undefined);
    }
    for (const c of rp?.containers ?? []) this.d.state.forget(c.id);
    await this.d.tearDownVolumes(uid).catch((err) => this.d.log.warn({ err: String(err), uid }, 'volume teardown failed'));
    await this.d.removePodCgroup(uid).catch((err) => this.d.log.debug({ err: String(err), uid }, 'pod cgroup removal failed'));
    this.forget(uid);
    await this.d.state.refreshPod(uid);
  }
}
