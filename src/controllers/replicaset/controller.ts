// The ReplicaSet controller (upstream pkg/controller/replicaset), which also runs
// ReplicationControllers: the same logic, parameterised by kind (an RC's selector is a plain
// label map). It keeps the number of active pods owned by each replica set at spec.replicas:
// claims pods (adopt matching orphans, release owned pods that stopped matching), creates
// missing pods in slow-start batches (1, 2, 4, ...), deletes surplus pods in upstream's
// preference order, and reports replicas / fullyLabeledReplicas / readyReplicas /
// availableReplicas / observedGeneration and a ReplicaFailure condition when it cannot act.

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { byControllerUID, byNamespace, keyOf, splitKey, type SharedInformer } from '../../client/informer.js';
import { R, apiVersion, type GVR } from '../../client/resources.js';
import { ApiError, isNotFound } from '../../client/transport.js';
import { WorkQueue, runWorkers } from '../../client/workqueue.js';
import { labelSelectorAsSelector, selectorFromSet, type Selector } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../context.js';
import { ControllerExpectations } from './expectations.js';
import { controllerOf, isPodActive, isPodAvailable, isPodReady, newControllerRef, podFromTemplate, podsToDelete } from './pods.js';
import { claimObjects, recheckDeletionTimestamp } from './ref-manager.js';

/** BurstReplicas: the most pods created or deleted in one sync. */
export const BURST_REPLICAS = 500;
const STATUS_UPDATE_RETRIES = 1;
const SLOW_START_INITIAL_BATCH_SIZE = 1;

export const IDX_NAMESPACE = 'namespace';
export const IDX_CONTROLLER = 'controllerUID';

export type ReplicaKind = 'ReplicaSet' | 'ReplicationController';

interface KindInfo {
  gvr: GVR;
  name: string;
  component: string;
  selector(obj: KubeObject): Selector;
}

const KINDS: Record<ReplicaKind, KindInfo> = {
  ReplicaSet: {
    gvr: R.replicasets,
    name: 'replicaset',
    component: 'replicaset-controller',
    selector: (o) => labelSelectorAsSelector(o.spec?.selector),
  },
  ReplicationController: {
    gvr: R.replicationcontrollers,
    name: 'replicationcontroller',
    component: 'replication-controller',
    selector: (o) => selectorFromSet(o.spec?.selector),
  },
};

export const isoNow = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** slowStartBatch: calls fn count times in batches of 1, 2, 4, ...; stops after a batch with an error. */
export async function slowStartBatch(count: number, initial: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initial); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += batch - failed.length;
    if (failed.length) return { successes, error: failed[0]!.reason };
    remaining -= batch;
  }
  return { successes };
}

const podKey = (p: KubeObject) => `${p.metadata.namespace}/${p.metadata.name}`;

const isNamespaceTerminating = (e: unknown) =>
  e instanceof ApiError && (e.status.details?.causes ?? []).some((c) => c.type === 'NamespaceTerminating');

const IDX_ORPHANS = 'orphans-by-namespace';
const orphansByNamespace = (o: KubeObject) => (o.metadata.ownerReferences?.some((r) => r.controller) ? [] : [o.metadata.namespace ?? '']);

export class ReplicaSetController implements Controller {
  readonly name: string;
  readonly kind: ReplicaKind;
  private readonly info: KindInfo;
  private readonly burstReplicas: number;
  readonly expectations: ControllerExpectations;
  private ctx!: ControllerContext;
  private queue!: WorkQueue<string>;
  private rsInformer!: SharedInformer;
  private podInformer!: SharedInformer;
  private recorder!: EventRecorder;

  constructor(kind: ReplicaKind = 'ReplicaSet', opts: { burstReplicas?: number } = {}) {
    this.kind = kind;
    this.info = KINDS[kind];
    this.name = this.info.name;
    this.burstReplicas = opts.burstReplicas ?? BURST_REPLICAS;
    this.expectations = new ControllerExpectations();
  }

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.queue = new WorkQueue();
    this.recorder = ctx.recorder(this.info.component);
    this.rsInformer = ctx.informers.for(this.info.gvr).addIndex(IDX_NAMESPACE, byNamespace).addIndex(IDX_CONTROLLER, byControllerUID);
    this.podInformer = ctx.informers.for(R.pods).addIndex(IDX_NAMESPACE, byNamespace).addIndex(IDX_CONTROLLER, byControllerUID).addIndex(IDX_ORPHANS, orphansByNamespace);
    this.rsInformer.addEventHandler({
      add: (rs) => this.enqueue(rs),
      update: (old, cur) => {
        if (old.metadata.uid !== cur.metadata.uid) this.onRSDelete(old);
        this.enqueue(cur);
      },
      delete: (rs) => this.onRSDelete(rs),
    });
    this.podInformer.addEventHandler({
      add: (p) => this.onPodAdd(p),
      update: (o, n) => this.onPodUpdate(o, n),
      delete: (p) => this.onPodDelete(p),
    });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void Promise.all([this.rsInformer.waitForSync(), this.podInformer.waitForSync()]).then(() => {
      if (ctx.signal.aborted) return;
      void runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (k, e) => ctx.log.warn({ err: String(e), key: k, kind: this.kind }, 'sync failed'));
    });
  }

  private enqueue(rs: KubeObject): void {
    this.queue.add(keyOf(rs));
  }

  private onRSDelete(rs: KubeObject): void {
    const key = keyOf(rs);
    this.expectations.delete(key);
    this.queue.add(key);
  }

  /** resolveControllerRef: the owning replica set, if the reference names one of ours with the same uid. */
  private resolve(namespace: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): KubeObject | undefined {
    if (!ref || ref.kind !== this.kind) return undefined;
    const rs = this.rsInformer.indexer.getByName(namespace, ref.name);
    return rs && rs.metadata.uid === ref.uid ? rs : undefined;
  }

  /** getPodReplicaSets: the replica sets in the pod's namespace whose selector matches it (an empty selector matches nothing here). */
  private matchingOwners(pod: KubeObject): KubeObject[] {
    const out: KubeObject[] = [];
    for (const rs of this.rsInformer.indexer.byIndex(IDX_NAMESPACE, pod.metadata.namespace ?? '')) {
      let sel: Selector;
      try {
        sel = this.info.selector(rs);
      } catch {
        continue;
      }
      if (sel.empty() || !sel.matches(pod.metadata.labels)) continue;
      out.push(rs);
    }
    return out;
  }

  private onPodAdd(pod: KubeObject): void {
    if (pod.metadata.deletionTimestamp) return this.onPodDelete(pod);
    const ref = controllerOf(pod);
    if (ref) {
      const rs = this.resolve(pod.metadata.namespace, ref);
      if (!rs) return;
      const key = keyOf(rs);
      this.expectations.creationObserved(key);
      this.queue.add(key);
      return;
    }
    for (const rs of this.matchingOwners(pod)) this.enqueue(rs);
  }

  private onPodUpdate(old: KubeObject, cur: KubeObject): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const labelChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (cur.metadata.deletionTimestamp) {
      this.onPodDelete(cur);
      if (labelChanged) this.onPodDelete(old);
      return;
    }
    const curRef = controllerOf(cur);
    const oldRef = controllerOf(old);
    const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
    if (refChanged && oldRef) {
      const rs = this.resolve(old.metadata.namespace, oldRef);
      if (rs) this.enqueue(rs);
    }
    if (curRef) {
      const rs = this.resolve(cur.metadata.namespace, curRef);
      if (!rs) return;
      this.enqueue(rs);
      const mrs = rs.spec?.minReadySeconds ?? 0;
      if (!isPodReady(old) && isPodReady(cur) && mrs > 0) this.queue.addAfter(keyOf(rs), mrs * 1000 + 1000);
      return;
    }
    if (labelChanged || refChanged) for (const rs of this.matchingOwners(cur)) this.enqueue(rs);
  }

  private onPodDelete(pod: KubeObject): void {
    const rs = this.resolve(pod.metadata.namespace, controllerOf(pod));
    if (!rs) return;
    const key = keyOf(rs);
    this.expectations.deletionObserved(key, podKey(pod));
    this.queue.add(key);
  }

  /** syncReplicaSet. */
  async sync(key: string): Promise<void> {
    const cached = this.rsInformer.indexer.get(key);
    if (!cached) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    let selector: Selector;
    try {
      selector = this.info.selector(cached);
    } catch (e) {
      this.ctx.log.warn({ key, err: String(e) }, `invalid selector on ${this.kind}`);
      return;
    }
    const { namespace } = splitKey(key);
    // Only pods this set controls and orphans can be claimed; pods of other controllers are
    // skipped by claimObjects anyway, and reading them would make each sync O(pods in namespace).
    const candidates = [...this.podInformer.indexer.byIndex(IDX_CONTROLLER, cached.metadata.uid!), ...this.podInformer.indexer.byIndex(IDX_ORPHANS, namespace ?? '')];
    const active = candidates.filter((p) => p.metadata.namespace === namespace && isPodActive(p));
    const rsClient = this.ctx.client.resource(this.info.gvr);
    const pods = await claimObjects(active, {
      owner: cached,
      ownerApiVersion: apiVersion(this.info.gvr),
      ownerKind: this.kind,
      selector,
      client: this.ctx.client.resource(R.pods),
      canAdopt: recheckDeletionTimestamp(() => rsClient.get(namespace, cached.metadata.name!), cached),
      kind: 'Pod',
    });
    let manageErr: unknown;
    if (needsSync && !cached.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(pods, cached);
      } catch (e) {
        manageErr = e ?? new Error('unknown error');
      }
    }
    const rs = structuredClone(cached);
    const status = this.calculateStatus(rs, pods, manageErr);
    const updated = await this.updateStatus(rs, status);
    const mrs = updated.spec?.minReadySeconds ?? 0;
    const want = updated.spec?.replicas ?? 1;
    if (manageErr === undefined && mrs > 0 && updated.status?.readyReplicas === want && updated.status?.availableReplicas !== want) {
      this.queue.addAfter(key, mrs * 1000);
    }
    if (manageErr !== undefined) throw manageErr;
  }

  private async manageReplicas(pods: KubeObject[], rs: KubeObject): Promise<void> {
    const want = rs.spec?.replicas ?? 1;
    let diff = pods.length - want;
    const key = keyOf(rs);
    const podClient = this.ctx.client.resource(R.pods);
    if (diff < 0) {
      diff = Math.min(-diff, this.burstReplicas);
      this.expectations.expectCreations(key, diff);
      const ref = newControllerRef(rs, apiVersion(this.info.gvr), this.kind);
      const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH_SIZE, async () => {
        try {
          await this.createPod(rs, ref);
        } catch (e) {
          if (isNamespaceTerminating(e)) return;
          throw e;
        }
      });
      for (let i = successes; i < diff; i++) this.expectations.creationObserved(key);
      if (error !== undefined) throw error;
      return;
    }
    if (diff > 0) {
      diff = Math.min(diff, this.burstReplicas);
      const victims = podsToDelete(pods, this.relatedPods(rs), diff, this.ctx.settings.now().getTime());
      this.expectations.expectDeletions(key, victims.map(podKey));
      const errors: unknown[] = [];
      await Promise.all(
        victims.map(async (p) => {
          try {
            await podClient.delete(p.metadata.namespace, p.metadata.name!);
            this.recorder.event(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
          } catch (e) {
            this.expectations.deletionObserved(key, podKey(p));
            if (isNotFound(e)) return;
            this.recorder.event(rs, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
            errors.push(new Error(`unable to delete pods: ${(e as Error).message}`));
          }
        }),
      );
      if (errors.length) throw errors[0];
    }
  }

  private async createPod(rs: KubeObject, ref: ReturnType<typeof newControllerRef>): Promise<void> {
    const pod = podFromTemplate(rs.spec?.template, rs, ref);
    if (!pod.metadata.labels || Object.keys(pod.metadata.labels).length === 0) throw new Error('unable to create pods, no labels');
    let made: KubeObject;
    try {
      made = await this.ctx.client.resource(R.pods).create(rs.metadata.namespace, pod);
    } catch (e) {
      if (!isNamespaceTerminating(e)) this.recorder.event(rs, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
      throw e;
    }
    this.recorder.event(rs, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
  }

  /** getIndirectlyRelatedPods: pods of every replica set with the same controller as this one (or of this one alone). */
  private relatedPods(rs: KubeObject): KubeObject[] {
    const owner = controllerOf(rs);
    const siblings = owner ? this.rsInformer.indexer.byIndex(IDX_CONTROLLER, owner.uid).filter((x) => x.metadata.namespace === rs.metadata.namespace) : [rs];
    const out: KubeObject[] = [];
    const seen = new Set<string>();
    for (const s of siblings) {
      for (const p of this.podInformer.indexer.byIndex(IDX_CONTROLLER, s.metadata.uid!)) {
        if (seen.has(p.metadata.uid!)) continue;
        seen.add(p.metadata.uid!);
        out.push(p);
      }
    }
    return out;
  }

  private calculateStatus(rs: KubeObject, pods: KubeObject[], manageErr: unknown): Record<string, unknown> {
    const status: Record<string, any> = structuredClone(rs.status ?? {}); // eslint-disable-line @typescript-eslint/no-explicit-any
    const template = selectorFromSet(rs.spec?.template?.metadata?.labels);
    const now = this.ctx.settings.now();
    const mrs = rs.spec?.minReadySeconds ?? 0;
    let fully = 0;
    let ready = 0;
    let available = 0;
    for (const p of pods) {
      if (template.matches(p.metadata.labels)) fully++;
      if (isPodReady(p)) {
        ready++;
        if (isPodAvailable(p, mrs, now)) available++;
      }
    }
    const conds: Condition[] = status.conditions ?? [];
    const failure = conds.find((c) => c.type === 'ReplicaFailure');
    if (manageErr !== undefined && !failure) {
      const diff = pods.length - (rs.spec?.replicas ?? 1);
      const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
      const msg = manageErr instanceof Error ? manageErr.message : String(manageErr);
      status.conditions = [...conds, { type: 'ReplicaFailure', status: 'True', lastTransitionTime: isoNow(now), reason, message: msg }];
    } else if (manageErr === undefined && failure) {
      status.conditions = conds.filter((c) => c.type !== 'ReplicaFailure');
      if (!status.conditions.length) delete status.conditions;
    }
    status.replicas = pods.length;
    status.fullyLabeledReplicas = fully;
    status.readyReplicas = ready;
    status.availableReplicas = available;
    return status;
  }

  /** updateReplicaSetStatus: writes only on change, with observedGeneration; one retry on a fresh read. */
  private async updateStatus(rs: KubeObject, status: Record<string, any>): Promise<KubeObject> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const cur = rs.status ?? {};
    const same =
      (cur.replicas ?? 0) === status.replicas &&
      (cur.fullyLabeledReplicas ?? 0) === status.fullyLabeledReplicas &&
      (cur.readyReplicas ?? 0) === status.readyReplicas &&
      (cur.availableReplicas ?? 0) === status.availableReplicas &&
      (rs.metadata.generation ?? 0) === (cur.observedGeneration ?? 0) &&
      JSON.stringify(cur.conditions ?? []) === JSON.stringify(status.conditions ?? []);
    if (same) return rs;
    status.observedGeneration = rs.metadata.generation;
    const client = this.ctx.client.resource(this.info.gvr);
    let obj = rs;
    for (let i = 0; ; i++) {
      obj.status = status;
      try {
        return await client.updateStatus(obj);
      } catch (e) {
        if (i >= STATUS_UPDATE_RETRIES) throw e;
        obj = await client.get(rs.metadata.namespace, rs.metadata.name!);
      }
    }
  }
}

/** The ReplicationController manager: the ReplicaSet controller for core/v1 ReplicationControllers. */
export class ReplicationManager extends ReplicaSetController {
  constructor(opts: { burstReplicas?: number } = {}) {
    super('ReplicationController', opts);
  }
}
