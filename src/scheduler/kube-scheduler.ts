// The scheduler process (upstream's kube-scheduler): informers feed the scheduling queue and the
// cache; one cycle at a time pops the highest-priority pod, runs the algorithm on the cache's
// snapshot, assumes the pod onto the chosen node and binds it through `pods/binding` in the
// background. Pods that fit nowhere get a FailedScheduling event and PodScheduled=False, and may
// preempt lower-priority pods (victims deleted, nominatedNodeName set).

import type { KubeObject } from '../api/meta/v1.js';
import type { Client } from '../client/client.js';
import type { EventRecorder } from '../client/events.js';
import { byNamespace, keyOf, type InformerFactory } from '../client/informer.js';
import { R } from '../client/resources.js';
import { ApiError, isNotFound } from '../client/transport.js';
import { labelSelectorAsSelector, selectorFromSet, Selector } from '../machinery/labels.js';
import { SchedulerCache } from './cache.js';
import { FitError, Scheduler, type PodInfo, type ProfileOptions } from './index.js';
import { SchedulingQueue, type QueuedPod } from './queue.js';
import type { Logger } from '../machinery/logger.js';

export interface KubeSchedulerOptions {
  client: Client;
  informers: InformerFactory;
  recorder: EventRecorder;
  schedulerName?: string;
  profile?: ProfileOptions;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Bindings in flight at once. */
  maxInFlightBindings?: number;
}

export interface SchedulerStats {
  scheduled: number;
  failed: number;
  /** Per-pod times from first attempt to bind (ms), for benchmarks. */
  latencies: number[];
}

const rfc = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

export class KubeScheduler {
  readonly queue = new SchedulingQueue();
  readonly cache: SchedulerCache;
  readonly stats: SchedulerStats = { scheduled: 0, failed: 0, latencies: [] };
  private readonly algorithm: Scheduler;
  private readonly name: string;
  private inFlight = 0;
  private bindSlots: (() => void)[] = [];

  constructor(private readonly o: KubeSchedulerOptions) {
    this.name = o.schedulerName ?? 'default-scheduler';
    const inf = o.informers;
    const namespaces = inf.for(R.namespaces);
    this.cache = new SchedulerCache((p) => this.withPriority(p), (ns) => namespaces.indexer.getByName(undefined, ns)?.metadata.labels);
    const pvcs = inf.for(R.persistentvolumeclaims);
    const services = inf.for(R.services).addIndex('namespace', byNamespace);
    const replicasets = inf.for(R.replicasets);
    const statefulsets = inf.for(R.statefulsets);
    const rcs = inf.for(R.replicationcontrollers);
    this.algorithm = new Scheduler({
      ...o.profile,
      pvcLookup: (ns, name) => pvcs.indexer.getByName(ns, name),
      podTopologySpread: {
        ...(o.profile?.podTopologySpread ?? {}),
        defaultSelector: (pi: PodInfo) => this.defaultSpreadSelector(pi, services.indexer.byIndex('namespace', pi.namespace), { replicasets, statefulsets, rcs }),
      },
    } as ProfileOptions);
  }

  private withPriority(pod: KubeObject): KubeObject {
    if (typeof pod.spec?.priority === 'number') return pod;
    const classes = this.o.informers.for(R.priorityclasses).indexer;
    const name = pod.spec?.priorityClassName;
    const pc = name ? classes.getByName(undefined, name) : classes.list().find((c) => c.globalDefault);
    const priority = typeof pc?.value === 'number' ? pc.value : 0;
    return { ...pod, spec: { ...pod.spec, priority, ...(pc?.preemptionPolicy && !pod.spec?.preemptionPolicy ? { preemptionPolicy: pc.preemptionPolicy } : {}) } };
  }

  /** Selector of the Services and controllers a pod belongs to (upstream's default spreading). */
  private defaultSpreadSelector(pi: PodInfo, services: KubeObject[], inf: Record<string, { indexer: { getByName(ns: string, n: string): KubeObject | undefined } }>): Selector | null {
    const reqs = [];
    const labels = pi.labels;
    for (const s of services) {
      const sel = s.spec?.selector;
      if (sel && Object.keys(sel).length && selectorFromSet(sel).matches(labels)) reqs.push(...selectorFromSet(sel).requirements);
    }
    const ref = pi.pod.metadata.ownerReferences?.find((r) => r.controller);
    if (ref) {
      const lookup = ref.kind === 'ReplicaSet' ? inf.replicasets : ref.kind === 'StatefulSet' ? inf.statefulsets : ref.kind === 'ReplicationController' ? inf.rcs : undefined;
      const owner = lookup?.indexer.getByName(pi.namespace, ref.name);
      if (owner) {
        const sel = ref.kind === 'ReplicationController' ? selectorFromSet(owner.spec?.selector ?? {}) : labelSelectorAsSelector(owner.spec?.selector);
        reqs.push(...sel.requirements);
      }
    }
    return reqs.length ? new Selector(reqs) : null;
  }

  private responsible(pod: KubeObject): boolean {
    return (pod.spec?.schedulerName ?? 'default-scheduler') === this.name;
  }

  private unscheduled(pod: KubeObject): boolean {
    return !pod.spec?.nodeName && !pod.metadata.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed' && this.responsible(pod);
  }

  start(signal: AbortSignal): void {
    const inf = this.o.informers;
    const pods = inf.for(R.pods);
    pods.addEventHandler({
      add: (p) => this.onPod(p),
      update: (_o, p) => this.onPod(p),
      delete: (p) => {
        const key = keyOf(p);
        this.queue.delete(key);
        this.cache.observePod(key, undefined);
        // Freed resources may let parked pods fit.
        if (p.spec?.nodeName) this.queue.moveAllToActiveOrBackoff();
      },
    });
    inf.for(R.nodes).addEventHandler({
      add: (n) => {
        this.cache.setNode(n);
        this.queue.moveAllToActiveOrBackoff();
      },
      update: (o, n) => {
        this.cache.setNode(n);
        if (nodeSchedulingPropertiesChanged(o, n)) this.queue.moveAllToActiveOrBackoff();
      },
      delete: (n) => this.cache.removeNode(n.metadata.name!),
    });
    for (const r of [R.persistentvolumeclaims, R.services]) inf.for(r).addEventHandler({ add: () => this.queue.moveAllToActiveOrBackoff(), update: () => this.queue.moveAllToActiveOrBackoff() });
    inf.for(R.priorityclasses);
    inf.for(R.poddisruptionbudgets);
    signal.addEventListener('abort', () => this.queue.close(), { once: true });
    void (async () => {
      await inf.waitForSync();
      this.o.log.info({ nodes: this.cache.nodeCount }, 'scheduler: caches synced');
      while (!signal.aborted) {
        const qp = await this.queue.pop();
        if (!qp) break;
        try {
          await this.scheduleOne(qp);
        } catch (err) {
          this.o.log.warn({ err, pod: qp.key }, 'scheduler: cycle failed');
          this.queue.requeue(qp, false);
        }
      }
    })();
  }

  private onPod(p: KubeObject): void {
    const key = keyOf(p);
    this.cache.observePod(key, p.spec?.nodeName ? p : this.cache.isAssumed(key) ? p : undefined);
    if (this.unscheduled(p) && !this.cache.isAssumed(key)) this.queue.add(key, this.withPriority(p), this.withPriority(p).spec.priority);
    else {
      this.queue.delete(key);
      // A pod finishing frees its node's resources.
      if (p.spec?.nodeName && (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed')) this.queue.moveAllToActiveOrBackoff();
    }
  }

  private async scheduleOne(qp: QueuedPod): Promise<void> {
    const current = this.o.informers.for(R.pods).indexer.get(qp.key);
    if (!current || !this.unscheduled(current) || current.metadata.uid !== qp.pod.metadata.uid || this.cache.isAssumed(qp.key)) {
      this.queue.done(qp.key);
      return;
    }
    const pod = this.withPriority(current);
    qp.initialAttempt ??= Date.now();
    const snapshot = this.cache.snapshot();
    const result = this.algorithm.schedule(pod, snapshot);
    if ('error' in result) {
      await this.handleFailure(qp, pod, result.error, snapshot);
      return;
    }
    const node = result.node;
    this.cache.assume(qp.key, pod, node);
    this.queue.done(qp.key);
    await this.acquireBindSlot();
    void this.bind(qp, pod, node).finally(() => this.releaseBindSlot());
  }

  private acquireBindSlot(): Promise<void> {
    if (this.inFlight < (this.o.maxInFlightBindings ?? 64)) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((r) => this.bindSlots.push(() => (this.inFlight++, r())));
  }

  private releaseBindSlot(): void {
    this.inFlight--;
    this.bindSlots.shift()?.();
  }

  private async bind(qp: QueuedPod, pod: KubeObject, node: string): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    try {
      await this.o.client.resource(R.pods).createSubresource(namespace, name!, 'binding', {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name, namespace, uid },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
      this.stats.scheduled++;
      this.stats.latencies.push(Date.now() - (qp.initialAttempt ?? Date.now()));
      if (this.stats.latencies.length > 200_000) this.stats.latencies.splice(0, 100_000);
      this.o.recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${node}`);
    } catch (err) {
      this.cache.forget(qp.key);
      if (isNotFound(err)) return;
      // Already bound elsewhere (409): the informer will tell; otherwise retry after backoff.
      if (err instanceof ApiError && err.code === 409) return;
      this.o.log.warn({ err, pod: qp.key, node }, 'scheduler: binding failed');
      this.queue.requeue(qp, false);
    }
  }

  private async handleFailure(qp: QueuedPod, pod: KubeObject, fitError: FitError, snapshot: ReturnType<SchedulerCache['snapshot']>): Promise<void> {
    this.stats.failed++;
    let nominated: string | undefined;
    const pdbs = this.o.informers.for(R.poddisruptionbudgets).indexer.list();
    const pre = this.algorithm.preempt(pod, snapshot, fitError, pdbs);
    if (pre.nodeName) {
      nominated = pre.nodeName;
      for (const v of pre.victims) void this.evictVictim(v, pod, pre.nodeName);
    }
    const message = fitError.message;
    this.o.recorder.event(pod, 'Warning', 'FailedScheduling', message);
    const patch: Record<string, unknown> = {
      status: {
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: rfc() }],
        ...(nominated ? { nominatedNodeName: nominated } : {}),
      },
    };
    const old = (pod.status?.conditions ?? []).find((c: { type: string }) => c.type === 'PodScheduled');
    if (!old || old.message !== message || old.status !== 'False' || (nominated && pod.status?.nominatedNodeName !== nominated)) {
      try {
        await this.o.client.resource(R.pods).patch(pod.metadata.namespace, pod.metadata.name!, 'strategic', patch, { subresource: 'status' });
      } catch (err) {
        if (!isNotFound(err)) this.o.log.debug({ err }, 'scheduler: status update failed');
      }
    }
    // With victims on their way out the pod retries after backoff; otherwise it parks.
    this.queue.requeue(qp, !nominated);
  }

  private async evictVictim(victim: KubeObject, preemptor: KubeObject, node: string): Promise<void> {
    const pods = this.o.client.resource(R.pods);
    const { namespace, name, uid } = victim.metadata;
    try {
      await pods.patch(namespace, name!, 'strategic', {
        status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler', message: `${this.name}: preempting to accommodate a higher priority pod`, lastTransitionTime: rfc() }] },
      }, { subresource: 'status' });
    } catch {
      // best effort, as upstream
    }
    try {
      await pods.delete(namespace, name!, { preconditions: { uid } });
      this.o.recorder.event(victim, 'Normal', 'Preempted', `Preempted by pod ${preemptor.metadata.uid} on node ${node}`);
    } catch (err) {
      if (!isNotFound(err)) this.o.log.debug({ err }, 'scheduler: preemption delete failed');
    }
  }
}

function nodeSchedulingPropertiesChanged(o: KubeObject, n: KubeObject): boolean {
  return (
    JSON.stringify(o.metadata.labels) !== JSON.stringify(n.metadata.labels) ||
    JSON.stringify(o.spec?.taints) !== JSON.stringify(n.spec?.taints) ||
    !!o.spec?.unschedulable !== !!n.spec?.unschedulable ||
    JSON.stringify(o.status?.allocatable) !== JSON.stringify(n.status?.allocatable) ||
    JSON.stringify((o.status?.conditions ?? []).map((c: { type: string; status: string }) => c.status)) !==
      JSON.stringify((n.status?.conditions ?? []).map((c: { type: string; status: string }) => c.status))
  );
}
