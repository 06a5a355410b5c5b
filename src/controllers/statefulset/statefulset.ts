// The StatefulSet controller (upstream pkg/controller/statefulset): pods with stable names and
// storage, created in ordinal order (OrderedReady) or all at once (Parallel), scaled down from the
// highest ordinal, and rolled to new templates highest ordinal first above a partition; the
// templates are recorded as ControllerRevisions.

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceClient } from '../../client/client.js';
import type { EventRecorder } from '../../client/events.js';
import { keyOf, byNamespace, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { WorkQueue, runWorkers } from '../../client/workqueue.js';
import { selectorFromObject } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../context.js';
import { availableAt, claimObjects, controllerOf, isPodAvailable, isPodReady } from '../history/controller-utils.js';
import { History, equalRevision, findEqualRevisions, newControllerRevision, nextRevision, sortControllerRevisions } from '../history/history.js';
import {
  STATEFULSET_KIND,
  applyRevision,
  claimsFor,
  desiredClaimOwners,
  getOrdinal,
  getPodRevision,
  identityMatches,
  isMemberOf,
  newVersionedPod,
  podInOrdinalRange,
  replicasOf,
  revisionData,
  sameOwners,
  startOrdinal,
  storageMatches,
  updateIdentity,
  updateStorage,
} from './utils.js';

interface Status {
  observedGeneration: number;
  replicas: number;
  readyReplicas: number;
  currentReplicas: number;
  updatedReplicas: number;
  availableReplicas: number;
  currentRevision: string;
  updateRevision: string;
  collisionCount: number;
}

const isCreated = (pod: KubeObject) => !!pod.status?.phase;
const isTerminating = (pod: KubeObject) => !!pod.metadata.deletionTimestamp;
const isRunningAndReady = (pod: KubeObject) => pod.status?.phase === 'Running' && isPodReady(pod);

export class StatefulSetController implements Controller {
  readonly name = 'statefulset';
  private ctx!: ControllerContext;
  private sets!: SharedInformer;
  private pods!: SharedInformer;
  private claims!: SharedInformer;
  private history!: History;
  private recorder!: EventRecorder;
  private podClient!: ResourceClient;
  private claimClient!: ResourceClient;
  private readonly queue = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.recorder = ctx.recorder('statefulset-controller');
    this.podClient = ctx.client.resource(R.pods);
    this.claimClient = ctx.client.resource(R.persistentvolumeclaims);
    this.sets = ctx.informers.for(R.statefulsets).addIndex('namespace', byNamespace);
    this.pods = ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    this.claims = ctx.informers.for(R.persistentvolumeclaims);
    const revisions = ctx.informers.for(R.controllerrevisions);
    this.history = new History(ctx.client, revisions);

    const enqueue = (o: KubeObject) => this.queue.add(keyOf(o));
    this.sets.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
    this.pods.addEventHandler({
      add: (p) => this.enqueueForPod(p),
      update: (o, n) => {
        this.enqueueForPod(n);
        const oldRef = controllerOf(o);
        if (oldRef && oldRef.uid !== controllerOf(n)?.uid) this.enqueueForPod(o);
        else if (!oldRef && JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(n.metadata.labels ?? {})) this.enqueueForPod(o);
      },
      delete: (p) => this.enqueueForPod(p),
    });

    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void Promise.all([this.sets.waitForSync(), this.pods.waitForSync(), this.claims.waitForSync(), revisions.waitForSync()]).then(() =>
      runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (k, e) => ctx.log.warn({ key: k, err: String(e) }, 'statefulset sync failed')),
    );
  }

  private enqueueForPod(pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const ref = controllerOf(pod);
    if (ref) {
      if (ref.kind !== 'StatefulSet') return;
      const set = this.sets.indexer.getByName(ns, ref.name);
      if (set && set.metadata.uid === ref.uid) this.queue.add(keyOf(set));
      return;
    }
    for (const set of this.sets.indexer.byIndex('namespace', ns)) {
      if (isMemberOf(set, pod) && selectorFromObject(set.spec?.selector).matches(pod.metadata.labels)) this.queue.add(keyOf(set));
    }
  }

  async sync(key: string): Promise<void> {
    const set = this.sets.indexer.get(key);
    if (!set) return;
    const selector = selectorFromObject(set.spec?.selector);
    if (selector.empty()) return; // upstream refuses to act on a selector that selects everything
    const ns = set.metadata.namespace!;

    const candidates = this.pods.indexer.byIndex('namespace', ns);
    const pods = await claimObjects(this.podClient, set, STATEFULSET_KIND, selector, candidates, (p) => isMemberOf(set, p));

    const revisions = this.history.list(set, selector);
    for (let i = 0; i < revisions.length; i++) if (!controllerOf(revisions[i]!)) revisions[i] = await this.history.adopt(set, STATEFULSET_KIND, revisions[i]!);
    sortControllerRevisions(revisions);

    const { current, update, collisionCount } = await this.revisionsFor(set, revisions);
    let err: unknown;
    let status: Status | undefined;
    try {
      status = await this.updateStatefulSet(set, current, update, collisionCount, pods);
    } catch (e) {
      err = e;
    }
    if (status) await this.writeStatus(set, status);
    if (err) throw err;
    await this.truncateHistory(set, pods, revisions, current, update);

    const mrs = set.spec?.minReadySeconds ?? 0;
    if (mrs > 0 && status && status.readyReplicas !== status.availableReplicas) {
      const now = this.ctx.settings.now().getTime();
      const next = Math.min(...pods.map((p) => availableAt(p, mrs) ?? Infinity));
      this.queue.addAfter(key, Number.isFinite(next) && next > now ? next - now + 10 : mrs * 1000);
    }
  }

  /** The current and update revisions; creates or renumbers the update revision as needed. */
  private async revisionsFor(set: KubeObject, revisions: KubeObject[]): Promise<{ current: KubeObject; update: KubeObject; collisionCount: number }> {
    const collision = { count: set.status?.collisionCount ?? 0 };
    const candidate = newControllerRevision(set, STATEFULSET_KIND, set.spec?.template?.metadata?.labels, revisionData(set), nextRevision(revisions), collision.count);
    if (set.metadata.annotations) candidate.metadata.annotations = { ...set.metadata.annotations };
    const equal = findEqualRevisions(revisions, candidate);
    let update: KubeObject;
    if (equal.length && equalRevision(revisions[revisions.length - 1], equal[equal.length - 1])) update = revisions[revisions.length - 1]!;
    else if (equal.length) update = await this.history.updateRevision(equal[equal.length - 1]!, candidate.revision);
    else update = await this.history.create(set, candidate, collision);
    const current = revisions.find((r) => r.metadata.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount: collision.count };
  }

  private computeStatus(set: KubeObject, status: Status, current: KubeObject, update: KubeObject, ...lists: KubeObject[][]): void {
    const mrs = set.spec?.minReadySeconds ?? 0;
    const now = this.ctx.settings.now();
    status.replicas = status.readyReplicas = status.availableReplicas = status.currentReplicas = status.updatedReplicas = 0;
    for (const list of lists) {
      for (const pod of list) {
        if (isCreated(pod)) status.replicas++;
        if (isRunningAndReady(pod)) {
          status.readyReplicas++;
          if (isPodAvailable(pod, mrs, now)) status.availableReplicas++;
        }
        if (isCreated(pod) && !isTerminating(pod)) {
          const rev = getPodRevision(pod);
          if (rev === current.metadata.name) status.currentReplicas++;
          if (rev === update.metadata.name) status.updatedReplicas++;
        }
      }
    }
  }

  private isUnavailable(set: KubeObject, pod: KubeObject): boolean {
    return !isRunningAndReady(pod) || isTerminating(pod) || !isPodAvailable(pod, set.spec?.minReadySeconds ?? 0, this.ctx.settings.now());
  }

  private async updateStatefulSet(set: KubeObject, current: KubeObject, update: KubeObject, collisionCount: number, pods: KubeObject[]): Promise<Status> {
    const currentSet = applyRevision(set, current);
    const updateSet = applyRevision(set, update);
    const status: Status = {
      observedGeneration: set.metadata.generation ?? 0,
      currentRevision: current.metadata.name!,
      updateRevision: update.metadata.name!,
      collisionCount,
      replicas: 0,
      readyReplicas: 0,
      currentReplicas: 0,
      updatedReplicas: 0,
      availableReplicas: 0,
    };
    this.computeStatus(set, status, current, update, pods);

    const count = replicasOf(set);
    const start = startOrdinal(set);
    const replicas: (KubeObject | undefined)[] = new Array(count);
    const condemned: KubeObject[] = [];
    for (const pod of pods) {
      const ord = getOrdinal(pod);
      if (podInOrdinalRange(pod, set)) replicas[ord - start] = pod;
      else if (ord >= 0) condemned.push(pod);
    }
    for (let i = 0; i < count; i++) replicas[i] ??= newVersionedPod(currentSet, updateSet, current.metadata.name!, update.metadata.name!, start + i);
    const reps = replicas as KubeObject[];
    condemned.sort((a, b) => getOrdinal(b) - getOrdinal(a));

    let firstUnavailable: KubeObject | undefined;
    for (const p of reps) if (!firstUnavailable && this.isUnavailable(set, p)) firstUnavailable = p;
    for (let i = condemned.length - 1; i >= 0; i--) if (!firstUnavailable && this.isUnavailable(set, condemned[i]!)) firstUnavailable = condemned[i];

    if (set.metadata.deletionTimestamp) return status;
    const monotonic = set.spec?.podManagementPolicy !== 'Parallel';
    const finish = () => (this.computeStatus(set, status, current, update, reps, condemned), status);

    if (await runForAll(reps.length, (i) => this.processReplica(set, updateSet, monotonic, reps, i), monotonic)) return finish();
    if (await runForAll(condemned.length, (i) => this.fixClaims(updateSet, condemned[i]!).then(() => false), monotonic)) return finish();
    if (await runForAll(condemned.length, (i) => this.processCondemned(set, firstUnavailable, monotonic, condemned, i), monotonic)) return finish();
    finish();

    if (set.spec?.updateStrategy?.type === 'OnDelete') return status;
    const updateMin = set.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    for (let target = reps.length - 1; target >= updateMin; target--) {
      const pod = reps[target]!;
      if (getPodRevision(pod) !== update.metadata.name && !isTerminating(pod)) {
        await this.deletePod(set, pod);
        status.currentReplicas--;
        return status;
      }
      if (this.isUnavailable(set, pod)) return status;
    }
    return status;
  }

  /** Returns true when the pass must stop here (waiting, or after an OrderedReady creation). */
  private async processReplica(set: KubeObject, updateSet: KubeObject, monotonic: boolean, replicas: KubeObject[], i: number): Promise<boolean> {
    const pod = replicas[i]!;
    const phase = pod.status?.phase;
    if (phase === 'Failed' || phase === 'Succeeded') {
      if (!isTerminating(pod)) await this.deletePod(set, pod);
      return true;
    }
    if (!isCreated(pod)) {
      await this.createPod(set, pod);
      if (monotonic) return true;
      return false;
    }
    if (phase === 'Pending') await this.createClaims(set, pod);
    if (isTerminating(pod) && monotonic) return true;
    if (!isRunningAndReady(pod) && monotonic) return true;
    if (!isPodAvailable(pod, set.spec?.minReadySeconds ?? 0, this.ctx.settings.now()) && monotonic) return true;

    const claimsOk = this.claimsMatchRetention(updateSet, pod);
    if (identityMatches(set, pod) && storageMatches(set, pod) && claimsOk) return false;
    await this.updatePod(updateSet, structuredClone(pod));
    return false;
  }

  private async processCondemned(set: KubeObject, firstUnavailable: KubeObject | undefined, monotonic: boolean, condemned: KubeObject[], i: number): Promise<boolean> {
    const pod = condemned[i]!;
    if (isTerminating(pod)) return monotonic;
    if (monotonic && pod !== firstUnavailable && this.isUnavailable(set, pod)) return true;
    await this.deletePod(set, pod);
    return true;
  }

  private async createClaims(set: KubeObject, pod: KubeObject): Promise<void> {
    for (const claim of claimsFor(set, pod).values()) {
      if (this.claims.indexer.getByName(claim.metadata.namespace, claim.metadata.name!)) continue;
      const owners = desiredClaimOwners(claim, set, pod);
      if (owners?.length) claim.metadata.ownerReferences = owners;
      try {
        await this.claimClient.create(claim.metadata.namespace, claim);
        this.claimEvent('create', set, pod, claim);
      } catch (e) {
        if (isAlreadyExists(e)) continue;
        this.claimEvent('create', set, pod, claim, e);
        throw new Error(`failed to create PVC ${claim.metadata.name}: ${errText(e)}`);
      }
    }
  }

  private async createPod(set: KubeObject, pod: KubeObject): Promise<void> {
    try {
      await this.createClaims(set, pod);
    } catch (e) {
      this.podEvent('create', set, pod, e);
      throw e;
    }
    try {
      await this.podClient.create(pod.metadata.namespace, pod);
    } catch (e) {
      if (isAlreadyExists(e)) throw e; // the cache is behind; retry after it catches up
      this.podEvent('create', set, pod, e);
      throw e;
    }
    this.podEvent('create', set, pod);
  }

  private async updatePod(set: KubeObject, pod: KubeObject): Promise<void> {
    if (!identityMatches(set, pod)) updateIdentity(set, pod);
    if (!storageMatches(set, pod)) {
      updateStorage(set, pod);
      await this.createClaims(set, pod);
    }
    await this.fixClaims(set, pod);
    try {
      await this.podClient.update(pod);
    } catch (e) {
      this.podEvent('update', set, pod, e);
      throw e;
    }
    this.podEvent('update', set, pod);
  }

  private async deletePod(set: KubeObject, pod: KubeObject): Promise<void> {
    try {
      await this.podClient.delete(pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (isNotFound(e)) return;
      this.podEvent('delete', set, pod, e);
      throw e;
    }
    this.podEvent('delete', set, pod);
  }

  private claimsMatchRetention(set: KubeObject, pod: KubeObject): boolean {
    for (const c of claimsFor(set, pod).values()) {
      const claim = this.claims.indexer.getByName(c.metadata.namespace, c.metadata.name!);
      if (!claim) continue;
      const want = desiredClaimOwners(claim, set, pod);
      if (want && !sameOwners(want, claim.metadata.ownerReferences as never)) return false;
    }
    return true;
  }

  /** Sets the claims' owner references as the retention policy asks. */
  private async fixClaims(set: KubeObject, pod: KubeObject): Promise<void> {
    for (const c of claimsFor(set, pod).values()) {
      const claim = this.claims.indexer.getByName(c.metadata.namespace, c.metadata.name!);
      if (!claim) continue;
      const want = desiredClaimOwners(claim, set, pod);
      if (!want || sameOwners(want, claim.metadata.ownerReferences as never)) continue;
      try {
        await this.claimClient.patch(claim.metadata.namespace, claim.metadata.name!, 'merge', { metadata: { uid: claim.metadata.uid, ownerReferences: want } });
        this.claimEvent('update', set, pod, claim);
      } catch (e) {
        if (isNotFound(e)) continue;
        this.claimEvent('update', set, pod, claim, e);
        throw e;
      }
    }
  }

  private podEvent(verb: string, set: KubeObject, pod: KubeObject, err?: unknown): void {
    const title = verb[0]!.toUpperCase() + verb.slice(1);
    if (err === undefined) this.recorder.event(set, 'Normal', `Successful${title}`, `${verb} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} successful`);
    else this.recorder.event(set, 'Warning', `Failed${title}`, `${verb} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${errText(err)}`);
  }

  private claimEvent(verb: string, set: KubeObject, pod: KubeObject, claim: KubeObject, err?: unknown): void {
    const title = verb[0]!.toUpperCase() + verb.slice(1);
    if (err === undefined) this.recorder.event(set, 'Normal', `Successful${title}`, `${verb} Claim ${claim.metadata.name} Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} success`);
    else this.recorder.event(set, 'Warning', `Failed${title}`, `${verb} Claim ${claim.metadata.name} for Pod ${pod.metadata.name} in StatefulSet ${set.metadata.name} failed error: ${errText(err)}`);
  }

  private async writeStatus(set: KubeObject, status: Status): Promise<void> {
    const st = set.spec?.updateStrategy;
    const want = replicasOf(set);
    if (st?.type === 'RollingUpdate' && status.updatedReplicas === want && status.readyReplicas === want && status.replicas === want) {
      status.currentReplicas = status.updatedReplicas;
      status.currentRevision = status.updateRevision;
    }
    const s = set.status ?? {};
    const same =
      status.observedGeneration <= (s.observedGeneration ?? 0) &&
      (['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas'] as const).every((k) => status[k] === (s[k] ?? 0)) &&
      status.currentRevision === (s.currentRevision ?? '') &&
      status.updateRevision === (s.updateRevision ?? '') &&
      status.collisionCount === (s.collisionCount ?? 0);
    if (same) return;
    try {
      await this.ctx.client.resource(R.statefulsets).patch(set.metadata.namespace, set.metadata.name!, 'merge', { metadata: { uid: set.metadata.uid }, status }, { subresource: 'status' });
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Deletes the oldest revisions that no pod, and neither the current nor the update revision, uses, beyond revisionHistoryLimit. */
  private async truncateHistory(set: KubeObject, pods: KubeObject[], revisions: KubeObject[], current: KubeObject, update: KubeObject): Promise<void> {
    const live = new Set([current.metadata.name, update.metadata.name, ...pods.map(getPodRevision)]);
    const old = revisions.filter((r) => !live.has(r.metadata.name));
    const limit = set.spec?.revisionHistoryLimit ?? 10;
    if (limit < 0 || old.length <= limit) return;
    for (const r of old.slice(0, old.length - limit)) await this.history.delete(r);
  }
}

/**
 * Runs fn over 0..n-1: in order, stopping at the first that asks to stop (monotonic), or in
 * slow-start batches (1, 2, 4, ...) stopping at a batch with errors (parallel). Returns whether to stop.
 */
async function runForAll(n: number, fn: (i: number) => Promise<boolean>, monotonic: boolean): Promise<boolean> {
  if (monotonic) {
    for (let i = 0; i < n; i++) if (await fn(i)) return true;
    return false;
  }
  let next = 0;
  for (let batch = Math.min(1, n); batch > 0; batch = Math.min(2 * batch, n - next)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, (_, k) => fn(next + k)));
    next += batch;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
  return false;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

