// The node agent's main loop (upstream's kubelet): watches the pods bound to this node, relists
// the runtime every second, and hands each pod to one worker at a time that converges it
// (PodSyncer) and posts its status when it changed. Pods deleted through the API are stopped
// within their grace period and then removed for good; runtime pods with no API object left are
// cleaned up.

import type { KubeObject } from '../api/meta/v1.js';
import type { Client } from '../client/client.js';
import type { EventRecorder } from '../client/events.js';
import { SharedInformer } from '../client/informer.js';
import { R } from '../client/resources.js';
import { isConflict, isNotFound } from '../client/transport.js';
import { runWorkers, WorkQueue } from '../client/workqueue.js';
import { CONFIG_HASH, CONFIG_MIRROR, isMirrorPod, mirrorPodOf, readStaticPods } from './config/static-pods.js';
import { computePodStatus } from './pods/pod-status.js';
import type { RestartBackoff } from './pods/backoff.js';
import { PodSyncer, type PodSyncDeps } from './pods/pod-sync.js';
import type { RuntimeContainer, RuntimeState } from './pods/runtime-state.js';

export interface KubeletOptions {
  client: Client;
  nodeName: string;
  nodeIP: () => string;
  recorder: EventRecorder;
  state: RuntimeState;
  sync: PodSyncDeps;
  log: PodSyncDeps['log'];
  /** Readiness and startup as the probers see them. */
  probes: {
    updatePod(pod: KubeObject, containers: { name: string; containerId: string; startedAt: Date; running: boolean }[], podIP?: string): void;
    removePod(uid: string): void;
    isReady(uid: string, name: string): boolean;
    isStarted(uid: string, name: string): boolean;
  };
  /** Rewrites configMap/secret/downwardAPI volumes of a running pod when their sources changed. */
  refreshVolumes(pod: KubeObject): Promise<void>;
  terminationMessage(pod: KubeObject, c: RuntimeContainer): string | undefined;
  qosClass(pod: KubeObject): string;
  /** Called after each relist with the runtime's health (node Ready follows it). */
  onRuntimeHealth?(healthy: boolean): void;
  /** Extra pods that do not come from the API (static pods); their mirror pods are in the API. */
  workers?: number;
  relistMs?: number;
  resyncMs?: number;
  /** --pod-manifest-path: static pods, run from files, shown in the API as mirror pods. */
  staticPodPath?: string;
  /** The Node's UID (mirror pods are owned by the Node). */
  nodeUID?: () => string | undefined;
  /** Container restart back-off (default 10 s doubling to 5 min). */
  backoff?: RestartBackoff;
}

const RFC = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class Kubelet {
  readonly syncer: PodSyncer;
  readonly pods: SharedInformer;
  private readonly queue = new WorkQueue<string>({ baseDelayMs: 500, maxDelayMs: 30_000 });
  private readonly byUID = new Map<string, KubeObject>();
  private readonly lastStatus = new Map<string, string>();
  private readonly terminating = new Set<string>();
  private readonly lastRefresh = new Map<string, number>();
  private runtimeHealthy = true;
  /** Static pods by UID (their manifests' hash). */
  private readonly staticPods = new Map<string, KubeObject>();

  constructor(private readonly o: KubeletOptions) {
    this.syncer = new PodSyncer(o.sync, o.backoff);
    this.pods = new SharedInformer(o.client, R.pods, {
      fieldSelector: `spec.nodeName=${o.nodeName}`,
      onError: (err) => o.log.warn({ err: String(err) }, 'pod watch ended; resuming'),
    });
    const put = (p: KubeObject) => {
      // A mirror pod only shows a static pod: look at the static pod again (it keeps its mirror).
      if (isMirrorPod(p)) return this.queue.add(p.metadata.annotations![CONFIG_MIRROR]);
      this.byUID.set(p.metadata.uid!, p);
      this.queue.add(p.metadata.uid!);
    };
    this.pods.addEventHandler({
      add: put,
      update: (_o, n) => put(n),
      delete: (p) => {
        if (isMirrorPod(p)) return this.queue.add(p.metadata.annotations![CONFIG_MIRROR]);
        this.byUID.delete(p.metadata.uid!);
        this.queue.add(p.metadata.uid!);
      },
    });
  }

  /** The pod objects this node runs (the kubelet API's /pods). */
  listPods(): KubeObject[] {
    return [...this.byUID.values()];
  }

  podByName(namespace: string, name: string): KubeObject | undefined {
    for (const p of this.byUID.values()) if (p.metadata.namespace === namespace && p.metadata.name === name) return p;
    return undefined;
  }

  async run(signal: AbortSignal): Promise<void> {
    void this.pods.run(signal);
    await this.o.state.relist();
    await this.pods.waitForSync();
    // Runtime pods with no API object are orphans (deleted while the agent was down).
    for (const rp of this.o.state.all()) if (!this.byUID.has(rp.uid)) this.queue.add(rp.uid);
    signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void runWorkers(this.queue, this.o.workers ?? 32, (uid) => this.syncPod(uid), (uid, err) => this.o.log.warn({ uid, err: String((err as Error)?.stack ?? err) }, 'pod sync failed'));
    let lastResync = Date.now();
    let lastStaticRead = 0;
    while (!signal.aborted) {
      if (this.o.staticPodPath && Date.now() - lastStaticRead >= 5_000) {
        lastStaticRead = Date.now();
        this.readStaticPods();
      }
      await new Promise((r) => setTimeout(r, this.o.relistMs ?? 1_000));
      const changed = await this.o.state.relist();
      if (this.o.state.healthy !== this.runtimeHealthy) {
        this.runtimeHealthy = this.o.state.healthy;
        this.o.log.warn({ healthy: this.runtimeHealthy, err: this.o.state.lastError }, 'container runtime health changed');
        this.o.onRuntimeHealth?.(this.runtimeHealthy);
        if (this.runtimeHealthy) for (const uid of this.byUID.keys()) this.queue.add(uid);
      }
      for (const uid of changed) this.queue.add(uid);
      if (Date.now() - lastResync >= (this.o.resyncMs ?? 10_000)) {
        lastResync = Date.now();
        for (const uid of this.byUID.keys()) this.queue.add(uid);
      }
    }
  }

  private readonly staticErrors = new Map<string, string>();

  /** Re-reads the manifest folder: new and changed files start pods, removed ones stop them. */
  private readStaticPods(): void {
    const { pods, errors } = readStaticPods(this.o.staticPodPath!, this.o.nodeName);
    for (const e of errors) {
      if (this.staticErrors.get(e.file) !== e.message) this.o.log.warn({ file: e.file, err: e.message }, 'static pod manifest not used');
      this.staticErrors.set(e.file, e.message);
    }
    const seen = new Set<string>();
    for (const p of pods) {
      const uid = p.metadata.uid!;
      seen.add(uid);
      if (this.staticPods.has(uid)) continue;
      this.o.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}` }, 'static pod added');
      this.staticPods.set(uid, p);
      this.byUID.set(uid, p);
      this.queue.add(uid);
    }
    for (const [uid, p] of this.staticPods) {
      if (seen.has(uid)) continue;
      this.o.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}` }, 'static pod removed');
      this.staticPods.delete(uid);
      this.byUID.delete(uid);
      this.queue.add(uid);
      void this.deleteMirror(p, undefined).catch(() => undefined);
    }
  }

  private mirrorOf(pod: KubeObject): KubeObject | undefined {
    return this.pods.indexer.getByName(pod.metadata.namespace, pod.metadata.name!);
  }

  private async deleteMirror(pod: KubeObject, mirror: KubeObject | undefined): Promise<void> {
    const m = mirror ?? this.mirrorOf(pod);
    if (!m || !isMirrorPod(m)) return;
    try {
      await this.o.client.resource(R.pods).delete(m.metadata.namespace, m.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: m.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  /** Keeps one current mirror pod for a static pod; returns it. */
  private async ensureMirror(pod: KubeObject): Promise<KubeObject | undefined> {
    let mirror = this.mirrorOf(pod);
    const hash = pod.metadata.annotations![CONFIG_HASH];
    if (mirror && (!isMirrorPod(mirror) || mirror.metadata.annotations![CONFIG_MIRROR] !== hash || mirror.metadata.deletionTimestamp)) {
      if (!isMirrorPod(mirror)) {
        this.o.log.warn({ pod: mirror.metadata.name }, 'a pod that is not a mirror pod has the static pod\'s name');
        return undefined;
      }
      this.o.log.info({ pod: `${mirror.metadata.namespace}/${mirror.metadata.name}`, uid: mirror.metadata.uid, deleting: !!mirror.metadata.deletionTimestamp }, 'deleting the outdated mirror pod');
      await this.deleteMirror(pod, mirror);
      mirror = undefined;
    }
    if (mirror) return mirror;
    try {
      const created = await this.o.client.resource(R.pods).create(pod.metadata.namespace, mirrorPodOf(pod, { name: this.o.nodeName, uid: this.o.nodeUID?.() }));
      this.o.log.info({ pod: `${created.metadata.namespace}/${created.metadata.name}`, uid: created.metadata.uid }, 'created the mirror pod');
      return created;
    } catch (err) {
      if (isConflict(err) || (err as { code?: number }).code === 409) {
        this.o.log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` }, 'mirror pod not created yet: the old one is still going away');
        return undefined;
      }
      throw err;
    }
  }

  /** Liveness/readiness changes: look at the pod again. */
  poke(uid: string): void {
    this.queue.add(uid);
  }

  private async syncPod(uid: string): Promise<void> {
    if (!this.runtimeHealthy) return; // picked up again when the runtime is back
    const pod = this.byUID.get(uid);
    if (!pod) {
      if (this.o.state.get(uid)) {
        this.o.log.info({ uid }, 'cleaning up a pod that is gone from the API');
        await this.syncer.terminate(undefined, uid, 2);
        this.o.probes.removePod(uid);
      }
      this.lastStatus.delete(uid);
      this.lastRefresh.delete(uid);
      return;
    }
    if (pod.metadata.deletionTimestamp) return this.finishDeletion(pod);
    const isStatic = this.staticPods.has(uid);
    const mirror = isStatic ? await this.ensureMirror(pod).catch((err) => void this.o.log.warn({ err: String(err) }, 'mirror pod not created')) : undefined;
    const phase = pod.status?.phase;
    let terminal = phase === 'Succeeded' || phase === 'Failed';
    let failed: { reason: string; message: string } | undefined;
    const deadline = pod.spec?.activeDeadlineSeconds;
    const started = pod.status?.startTime ? Date.parse(pod.status.startTime) : undefined;
    if (!terminal && deadline && started && Date.now() - started >= deadline * 1000) {
      failed = { reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
      this.o.recorder.event(pod, 'Normal', 'DeadlineExceeded', failed.message);
      await this.syncer.terminate(pod, uid, pod.spec?.terminationGracePeriodSeconds ?? 30).catch(() => undefined);
      terminal = true;
    }
    const res = failed ? {} : await this.syncer.sync(pod, terminal);
    if (!terminal && Date.now() - (this.lastRefresh.get(uid) ?? 0) >= 10_000) {
      this.lastRefresh.set(uid, Date.now());
      await this.o.refreshVolumes(pod).catch((err) => this.o.log.debug({ err: String(err), uid }, 'volume refresh failed'));
    }
    const rp = this.o.state.get(uid);
    const sandbox = rp?.sandboxes[0];
    const current = (rp?.containers ?? []).filter((c) => c.sandboxId === sandbox?.id);
    this.o.probes.updatePod(
      pod,
      current
        .filter((c, i, all) => all.findIndex((x) => x.name === c.name) === i)
        .map((c) => ({ name: c.name, containerId: c.id, startedAt: new Date(Number(BigInt(c.status.started_at || '0') / 1_000_000n)), running: c.status.state === 'CONTAINER_RUNNING' })),
      sandbox?.ip,
    );
    await this.postStatus(pod, failed, isStatic ? mirror ?? null : undefined);
    if (isStatic && !mirror) this.queue.addAfter(uid, 2_000);
    if (res.requeueAfterMs !== undefined) this.queue.addAfter(uid, res.requeueAfterMs);
  }

  /** Posts the pod's status; a static pod's goes to its mirror pod (`null`: no mirror yet). */
  private async postStatus(pod: KubeObject, failed?: { reason: string; message: string }, mirror?: KubeObject | null): Promise<void> {
    const uid = pod.metadata.uid!;
    const status = computePodStatus({
      pod,
      runtime: this.o.state.get(uid),
      waiting: (name) => this.syncer.waiting(uid, name),
      ready: (name) => this.o.probes.isReady(uid, name),
      started: (name) => this.o.probes.isStarted(uid, name),
      terminationMessage: (c) => this.o.terminationMessage(pod, c),
      hostIP: this.o.nodeIP(),
      failed,
      qosClass: this.o.qosClass(pod),
    });
    if (mirror !== undefined) {
      // The static pod keeps its own status (phase stickiness, conditions' times).
      const st = this.staticPods.get(uid);
      if (st) st.status = status;
      if (mirror === null) return;
    }
    const target = mirror ?? pod;
    const fingerprint = JSON.stringify(status) + (mirror ? mirror.metadata.uid : '');
    if (this.lastStatus.get(uid) === fingerprint) return;
    // Skip writes the API already has (e.g. after an agent restart).
    const same = JSON.stringify(target.status ?? {}) === JSON.stringify(status);
    if (!same) {
      try {
        await this.o.client.resource(R.pods).patch(target.metadata.namespace, target.metadata.name!, 'merge', { metadata: { uid: target.metadata.uid }, status }, { subresource: 'status' });
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) return;
        throw err;
      }
    }
    this.lastStatus.set(uid, fingerprint);
  }

  private async finishDeletion(pod: KubeObject): Promise<void> {
    const uid = pod.metadata.uid!;
    if (this.terminating.has(uid)) return;
    this.terminating.add(uid);
    try {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      await this.syncer.terminate(pod, uid, grace);
      this.o.probes.removePod(uid);
      // Final status (containers terminated), then remove the object for good.
      const latest = this.byUID.get(uid) ?? pod;
      await this.postStatus(latest).catch(() => undefined);
      try {
        await this.o.client.resource(R.pods).delete(pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
      this.lastStatus.delete(uid);
    } finally {
      this.terminating.delete(uid);
    }
  }
}

export { RFC };
