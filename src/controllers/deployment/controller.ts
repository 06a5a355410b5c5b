// The Deployment controller (upstream pkg/controller/deployment): each Deployment owns
// ReplicaSets, one per pod template (named <deployment>-<pod-template-hash>). A sync claims the
// replica sets, then either only scales (paused, or a replica count change), or rolls out:
// RollingUpdate grows the new replica set within maxSurge and shrinks old ones within
// maxUnavailable; Recreate scales old ones to zero and waits for their pods to go before
// scaling the new one up. Status carries the counts, the revision and the Available /
// Progressing conditions kubectl rollout status reads; old replica sets beyond
// revisionHistoryLimit are deleted.

import type { KubeObject } from '../../api/meta/v1.js';
import type { EventRecorder } from '../../client/events.js';
import { byControllerUID, byNamespace, keyOf, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { WorkQueue, runWorkers } from '../../client/workqueue.js';
import { labelSelectorAsSelector, type Selector } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../context.js';
import { IDX_CONTROLLER, IDX_NAMESPACE } from '../replicaset/controller.js';
import { controllerOf, newControllerRef } from '../replicaset/pods.js';
import { claimObjects, recheckDeletionTimestamp } from '../replicaset/ref-manager.js';
import {
  POD_TEMPLATE_HASH,
  REVISION,
  Reasons,
  actualReplicaCount,
  availableReplicaCount,
  byCreation,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  computeHash,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  filterActive,
  findActiveOrLatest,
  findNewReplicaSet,
  findOldReplicaSets,
  getCondition,
  getProportion,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  readyReplicaCount,
  removeCondition,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  setCondition,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  specReplicaCount,
  type DeploymentCondition,
  type DeploymentStatus,
} from './util.js';

const MAX_RETRIES = 15;
const KIND = 'Deployment';
const API_VERSION = 'apps/v1';

type RS = KubeObject;

export class DeploymentController implements Controller {
  readonly name = 'deployment';
  private ctx!: ControllerContext;
  private queue!: WorkQueue<string>;
  private dInformer!: SharedInformer;
  private rsInformer!: SharedInformer;
  private podInformer!: SharedInformer;
  private recorder!: EventRecorder;

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.queue = new WorkQueue();
    this.recorder = ctx.recorder('deployment-controller');
    this.dInformer = ctx.informers.for(R.deployments).addIndex(IDX_NAMESPACE, byNamespace);
    this.rsInformer = ctx.informers.for(R.replicasets).addIndex(IDX_NAMESPACE, byNamespace).addIndex(IDX_CONTROLLER, byControllerUID);
    this.podInformer = ctx.informers.for(R.pods).addIndex(IDX_NAMESPACE, byNamespace).addIndex(IDX_CONTROLLER, byControllerUID);
    this.dInformer.addEventHandler({
      add: (d) => this.enqueue(d),
      update: (_o, d) => this.enqueue(d),
      delete: (d) => this.enqueue(d),
    });
    this.rsInformer.addEventHandler({
      add: (rs) => this.onRSAdd(rs),
      update: (o, n) => this.onRSUpdate(o, n),
      delete: (rs) => this.onRSDelete(rs),
    });
    this.podInformer.addEventHandler({ delete: (p) => this.onPodDelete(p) });
    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void Promise.all([this.dInformer.waitForSync(), this.rsInformer.waitForSync(), this.podInformer.waitForSync()]).then(() => {
      if (ctx.signal.aborted) return;
      void runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (k, e) => ctx.log.warn({ key: k, err: String(e) }, 'deployment sync failed'), MAX_RETRIES);
    });
  }

  private enqueue(d: KubeObject): void {
    this.queue.add(keyOf(d));
  }

  private resolve(namespace: string | undefined, ref: { kind: string; name: string; uid: string } | undefined): KubeObject | undefined {
    if (!ref || ref.kind !== KIND) return undefined;
    const d = this.dInformer.indexer.getByName(namespace, ref.name);
    return d && d.metadata.uid === ref.uid ? d : undefined;
  }

  /** getDeploymentsForReplicaSet: deployments in the namespace selecting the replica set's labels. */
  private selecting(rs: RS): KubeObject[] {
    const out: KubeObject[] = [];
    for (const d of this.dInformer.indexer.byIndex(IDX_NAMESPACE, rs.metadata.namespace ?? '')) {
      let sel: Selector;
      try {
        sel = labelSelectorAsSelector(d.spec?.selector);
      } catch {
        continue;
      }
      if (sel.empty() || !sel.matches(rs.metadata.labels)) continue;
      out.push(d);
    }
    return out;
  }

  private onRSAdd(rs: RS): void {
    if (rs.metadata.deletionTimestamp) return this.onRSDelete(rs);
    const ref = controllerOf(rs);
    if (ref) {
      const d = this.resolve(rs.metadata.namespace, ref);
      if (d) this.enqueue(d);
      return;
    }
    for (const d of this.selecting(rs)) this.enqueue(d);
  }

  private onRSUpdate(old: RS, cur: RS): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const curRef = controllerOf(cur);
    const oldRef = controllerOf(old);
    const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
    if (refChanged && oldRef) {
      const d = this.resolve(old.metadata.namespace, oldRef);
      if (d) this.enqueue(d);
    }
    if (curRef) {
      const d = this.resolve(cur.metadata.namespace, curRef);
      if (d) this.enqueue(d);
      return;
    }
    const labelChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (labelChanged || refChanged) for (const d of this.selecting(cur)) this.enqueue(d);
  }

  private onRSDelete(rs: RS): void {
    const d = this.resolve(rs.metadata.namespace, controllerOf(rs));
    if (d) this.enqueue(d);
  }

  /** A Recreate rollout waits for old pods to go: their deletion wakes it. */
  private onPodDelete(pod: KubeObject): void {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'ReplicaSet') return;
    const rs = this.rsInformer.indexer.getByName(pod.metadata.namespace, ref.name);
    if (!rs || rs.metadata.uid !== ref.uid) return;
    const d = this.resolve(rs.metadata.namespace, controllerOf(rs));
    if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(d);
  }

  private now(): Date {
    return this.ctx.settings.now();
  }

  private get rsClient() {
    return this.ctx.client.resource(R.replicasets);
  }

  /** UpdateStatus, keeping the local copy's resourceVersion current for later writes in the same sync. */
  private async updateStatus(d: KubeObject): Promise<void> {
    const out = await this.ctx.client.resource(R.deployments).updateStatus(d);
    d.metadata.resourceVersion = out.metadata.resourceVersion;
  }

  /** syncDeployment. */
  async sync(key: string): Promise<void> {
    const cached = this.dInformer.indexer.get(key);
    if (!cached) return;
    const d = structuredClone(cached);
    const sel = d.spec?.selector;
    if (sel && Object.keys(sel.matchLabels ?? {}).length === 0 && !(sel.matchExpressions ?? []).length) {
      this.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata.generation };
        await this.updateStatus(d);
      }
      return;
    }
    const rsList = await this.claimReplicaSets(d);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.scaleOnly(d, rsList);
    if (await this.isScalingEvent(d, rsList)) return this.scaleOnly(d, rsList);
    if (d.spec?.strategy?.type === 'Recreate') return this.rolloutRecreate(d, rsList);
    if (isRollingUpdate(d)) return this.rolloutRolling(d, rsList);
    throw new Error(`unexpected deployment strategy type: ${d.spec?.strategy?.type}`);
  }

  /** getReplicaSetsForDeployment: adopt and release by the deployment's selector. */
  private async claimReplicaSets(d: KubeObject): Promise<RS[]> {
    const selector = labelSelectorAsSelector(d.spec?.selector);
    const all = this.rsInformer.indexer.byIndex(IDX_NAMESPACE, d.metadata.namespace ?? '');
    const dc = this.ctx.client.resource(R.deployments);
    const claimed = await claimObjects(all, {
      owner: d,
      ownerApiVersion: API_VERSION,
      ownerKind: KIND,
      selector,
      client: this.rsClient,
      canAdopt: recheckDeletionTimestamp(() => dc.get(d.metadata.namespace, d.metadata.name!), d),
      kind: 'ReplicaSet',
    });
    return claimed.map((rs) => structuredClone(rs));
  }

  /** getPodMapForDeployment: the pods of each replica set, by controller uid. */
  private podMap(rsList: RS[]): Map<string, KubeObject[]> {
    const m = new Map<string, KubeObject[]>();
    for (const rs of rsList) m.set(rs.metadata.uid!, this.podInformer.indexer.byIndex(IDX_CONTROLLER, rs.metadata.uid!));
    return m;
  }

  private async checkPausedConditions(d: KubeObject): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const status: DeploymentStatus = (d.status ??= {});
    const cond = getCondition(status, 'Progressing');
    if (cond?.reason === Reasons.TimedOut) return;
    const pausedCondExists = cond?.reason === Reasons.Paused;
    let needsUpdate = false;
    if (d.spec?.paused && !pausedCondExists) {
      setCondition(status, newCondition('Progressing', 'Unknown', Reasons.Paused, 'Deployment is paused', this.now()));
      needsUpdate = true;
    } else if (!d.spec?.paused && pausedCondExists) {
      setCondition(status, newCondition('Progressing', 'Unknown', Reasons.Resumed, 'Deployment is resumed', this.now()));
      needsUpdate = true;
    }
    if (needsUpdate) await this.updateStatus(d);
  }

  private async getAllReplicaSetsAndSyncRevision(d: KubeObject, rsList: RS[], create: boolean): Promise<{ newRS?: RS; oldRSs: RS[] }> {
    const oldRSs = findOldReplicaSets(d, rsList);
    const newRS = await this.getNewReplicaSet(d, rsList, oldRSs, create);
    return { newRS, oldRSs };
  }

  /** getNewReplicaSet: finds (and syncs the revision of) or creates the replica set for the current template. */
  private async getNewReplicaSet(d: KubeObject, rsList: RS[], oldRSs: RS[], create: boolean): Promise<RS | undefined> {
    const existing = findNewReplicaSet(d, rsList);
    const newRevision = String(maxRevision(oldRSs) + 1);
    const status: DeploymentStatus = (d.status ??= {});
    if (existing) {
      const rsCopy = structuredClone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      const minReadyNeedsUpdate = (rsCopy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsUpdated || minReadyNeedsUpdate) {
        rsCopy.spec.minReadySeconds = d.spec?.minReadySeconds ?? 0;
        return this.rsClient.update(rsCopy);
      }
      let needsUpdate = setDeploymentRevision(d, rsCopy.metadata.annotations?.[REVISION] ?? '');
      if (hasProgressDeadline(d) && !getCondition(status, 'Progressing')) {
        setCondition(status, newCondition('Progressing', 'True', Reasons.FoundNewRS, `Found new replica set "${rsCopy.metadata.name}"`, this.now()));
        needsUpdate = true;
      }
      if (needsUpdate) await this.updateStatus(d);
      return rsCopy;
    }
    if (!create) return undefined;

    const hash = computeHash(d.spec?.template, status.collisionCount);
    const template = structuredClone(d.spec?.template ?? {});
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const selector = structuredClone(d.spec?.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const newRS: RS = {
      apiVersion: API_VERSION,
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        ownerReferences: [newControllerRef(d, API_VERSION, KIND)],
        labels: { ...template.metadata.labels },
      },
      spec: { replicas: 0, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
    };
    const replicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    newRS.spec.replicas = replicas;
    setNewReplicaSetAnnotations(d, newRS, newRevision, false);

    let created: RS;
    let alreadyExists = false;
    try {
      created = await this.rsClient.create(d.metadata.namespace, newRS);
    } catch (e) {
      if (isAlreadyExists(e)) {
        alreadyExists = true;
        const rs = this.rsInformer.indexer.getByName(d.metadata.namespace, newRS.metadata.name!) ?? (await this.rsClient.get(d.metadata.namespace, newRS.metadata.name!));
        const ref = controllerOf(rs);
        if (ref && ref.uid === d.metadata.uid && equalIgnoreHash(d.spec?.template, rs.spec?.template)) {
          created = structuredClone(rs);
        } else {
          // A hash collision: bump collisionCount so the next sync computes another name.
          const preCount = status.collisionCount ?? 0;
          status.collisionCount = preCount + 1;
          await this.updateStatus(d);
          throw new Error(`Found a hash collision for deployment "${d.metadata.name}" - bumping collisionCount (${preCount}->${preCount + 1}) to resolve it`);
        }
      } else {
        const msg = `Failed to create new replica set "${newRS.metadata.name}": ${(e as Error).message}`;
        if (hasProgressDeadline(d)) {
          setCondition(status, newCondition('Progressing', 'False', Reasons.FailedRSCreate, msg, this.now()));
          await this.updateStatus(d).catch(() => undefined);
        }
        this.recorder.event(d, 'Warning', Reasons.FailedRSCreate, msg);
        throw e;
      }
    }
    if (!alreadyExists && replicas > 0) {
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${replicas}`);
    }
    let needsUpdate = setDeploymentRevision(d, newRevision);
    if (!alreadyExists && hasProgressDeadline(d)) {
      setCondition(status, newCondition('Progressing', 'True', Reasons.NewReplicaSet, `Created new replica set "${created.metadata.name}"`, this.now()));
      needsUpdate = true;
    }
    if (needsUpdate) await this.updateStatus(d);
    return created;
  }

  private async scaleReplicaSetAndRecordEvent(rs: RS, newScale: number, d: KubeObject): Promise<[boolean, RS]> {
    if (replicasOf(rs) === newScale) return [false, rs];
    return this.scaleReplicaSet(rs, newScale, d);
  }

  private async scaleReplicaSet(rs: RS, newScale: number, d: KubeObject): Promise<[boolean, RS]> {
    const sizeNeedsUpdate = replicasOf(rs) !== newScale;
    const desired = replicasOf(d);
    const max = desired + maxSurge(d);
    if (!sizeNeedsUpdate && !replicasAnnotationsNeedUpdate(rs, desired, max)) return [false, rs];
    const oldScale = replicasOf(rs);
    const copy = structuredClone(rs);
    copy.spec.replicas = newScale;
    setReplicasAnnotations(copy, desired, max);
    const updated = await this.rsClient.update(copy);
    Object.assign(rs, updated);
    if (sizeNeedsUpdate) {
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${oldScale < newScale ? 'up' : 'down'} replica set ${updated.metadata.name} from ${oldScale} to ${newScale}`);
    }
    return [sizeNeedsUpdate, rs];
  }

  /** sync: scaling only (paused deployments and replica count changes). */
  private async scaleOnly(d: KubeObject, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private async syncStatusOnly(d: KubeObject, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /** isScalingEvent: an active replica set's desired-replicas annotation differs from spec.replicas. */
  private async isScalingEvent(d: KubeObject, rsList: RS[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of filterActive([...oldRSs, newRS])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired === undefined) continue;
      if (desired !== replicasOf(d)) return true;
    }
    return false;
  }

  /** scale: the one active replica set takes all replicas; otherwise proportional scaling across active ones. */
  private async scale(d: KubeObject, newRS: RS | undefined, oldRSs: RS[]): Promise<void> {
    const activeOrLatest = findActiveOrLatest(newRS, oldRSs);
    if (activeOrLatest) {
      if (replicasOf(activeOrLatest) === replicasOf(d)) return;
      await this.scaleReplicaSetAndRecordEvent(activeOrLatest, replicasOf(d), d);
      return;
    }
    if (isSaturated(d, newRS)) {
      for (const old of filterActive(oldRSs)) await this.scaleReplicaSetAndRecordEvent(old, 0, d);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const all = filterActive([...oldRSs, newRS]);
    const allReplicas = specReplicaCount(all);
    const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
    const toAdd = allowed - allReplicas;
    if (toAdd > 0) all.sort(bySizeNewer);
    else if (toAdd < 0) all.sort(bySizeOlder);
    let added = 0;
    const sizes = new Map<string, number>();
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = getProportion(rs, d, toAdd, added);
        sizes.set(rs.metadata.name!, replicasOf(rs) + p);
        added += p;
      } else sizes.set(rs.metadata.name!, replicasOf(rs));
    }
    for (let i = 0; i < all.length; i++) {
      const rs = all[i]!;
      if (i === 0 && toAdd !== 0) {
        const v = sizes.get(rs.metadata.name!)! + (toAdd - added);
        sizes.set(rs.metadata.name!, Math.max(0, v));
      }
      await this.scaleReplicaSet(rs, sizes.get(rs.metadata.name!)!, d);
    }
  }

  /** cleanupDeployment: deletes the oldest fully scaled-down replica sets beyond revisionHistoryLimit. */
  private async cleanupDeployment(oldRSs: RS[], d: KubeObject): Promise<void> {
    if (!hasRevisionHistoryLimit(d)) return;
    const cleanable = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - d.spec.revisionHistoryLimit;
    if (diff <= 0) return;
    cleanable.sort(byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i]!;
      if ((rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0) || rs.metadata.deletionTimestamp) continue;
      try {
        await this.rsClient.delete(rs.metadata.namespace, rs.metadata.name!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  private calculateStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: KubeObject): DeploymentStatus {
    const available = availableReplicaCount(allRSs);
    const total = specReplicaCount(allRSs);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation,
      replicas: actualReplicaCount(allRSs),
      updatedReplicas: actualReplicaCount([newRS]),
      readyReplicas: readyReplicaCount(allRSs),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
    };
    if (d.status?.collisionCount !== undefined) status.collisionCount = d.status.collisionCount;
    status.conditions = (d.status?.conditions ?? []).map((c: DeploymentCondition) => ({ ...c }));
    if (available >= replicasOf(d) - maxUnavailable(d)) {
      setCondition(status, newCondition('Available', 'True', Reasons.MinimumReplicasAvailable, 'Deployment has minimum availability.', this.now()));
    } else {
      setCondition(status, newCondition('Available', 'False', Reasons.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.', this.now()));
    }
    return status;
  }

  private async writeStatusIfChanged(d: KubeObject, status: DeploymentStatus): Promise<boolean> {
    if (statusEqual(d.status ?? {}, status)) return false;
    d.status = status;
    await this.updateStatus(d);
    return true;
  }

  private async syncDeploymentStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: KubeObject): Promise<void> {
    await this.writeStatusIfChanged(d, this.calculateStatus(allRSs, newRS, d));
  }

  /** syncRolloutStatus: syncDeploymentStatus plus the Progressing condition and its deadline. */
  private async syncRolloutStatus(allRSs: (RS | undefined)[], newRS: RS | undefined, d: KubeObject): Promise<void> {
    const s = this.calculateStatus(allRSs, newRS, d);
    if (!hasProgressDeadline(d)) removeCondition(s, 'Progressing');
    const cur = getCondition(d.status, 'Progressing');
    const isComplete = s.replicas === s.updatedReplicas && cur?.reason === Reasons.NewRSAvailable;
    const now = this.now();
    if (hasProgressDeadline(d) && !isComplete) {
      if (deploymentComplete(d, s)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
        setCondition(s, newCondition('Progressing', 'True', Reasons.NewRSAvailable, msg, now));
      } else if (deploymentProgressing(d, s)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
        const c = newCondition('Progressing', 'True', Reasons.ReplicaSetUpdated, msg, now);
        if (cur) {
          if (cur.status === 'True') c.lastTransitionTime = cur.lastTransitionTime;
          removeCondition(s, 'Progressing');
        }
        setCondition(s, c);
      } else if (deploymentTimedOut(d, s, now)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
        setCondition(s, newCondition('Progressing', 'False', Reasons.TimedOut, msg, now));
      }
    }
    const failure = replicaFailure(allRSs, newRS);
    if (failure) setCondition(s, failure);
    else removeCondition(s, 'ReplicaFailure');
    if (statusEqual(d.status ?? {}, s)) {
      this.requeueStuckDeployment(d, s);
      return;
    }
    d.status = s;
    await this.updateStatus(d);
  }

  /** requeueStuckDeployment: a sync when the progress deadline would pass. */
  private requeueStuckDeployment(d: KubeObject, s: DeploymentStatus): void {
    const cur = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !cur) return;
    if (deploymentComplete(d, s) || cur.reason === Reasons.TimedOut) return;
    const last = cur.lastUpdateTime ? Date.parse(cur.lastUpdateTime) : 0;
    const after = last + d.spec.progressDeadlineSeconds * 1000 - this.now().getTime();
    if (after < 1000) this.queue.addRateLimited(keyOf(d));
    else this.queue.addAfter(keyOf(d), after + 1000);
  }

  private async rolloutRolling(d: KubeObject, rsList: RS[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    const all = [...oldRSs, newRS];
    if (await this.reconcileNewReplicaSet(all, newRS!, d)) return this.syncRolloutStatus(all, newRS, d);
    if (await this.reconcileOldReplicaSets(all, filterActive(oldRSs), newRS!, d)) return this.syncRolloutStatus(all, newRS, d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(all, newRS, d);
  }

  private async reconcileNewReplicaSet(all: (RS | undefined)[], newRS: RS, d: KubeObject): Promise<boolean> {
    if (replicasOf(newRS) === replicasOf(d)) return false;
    if (replicasOf(newRS) > replicasOf(d)) return (await this.scaleReplicaSetAndRecordEvent(newRS, replicasOf(d), d))[0];
    return (await this.scaleReplicaSetAndRecordEvent(newRS, newRSNewReplicas(d, all, newRS), d))[0];
  }

  private async reconcileOldReplicaSets(all: (RS | undefined)[], oldRSs: RS[], newRS: RS, d: KubeObject): Promise<boolean> {
    if (specReplicaCount(oldRSs) === 0) return false;
    const allPods = specReplicaCount(all);
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const newUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    let cleaned: number;
    try {
      cleaned = await this.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
    } catch (e) {
      this.ctx.log.debug({ err: String(e) }, 'cleanup of unhealthy replicas failed');
      return false;
    }
    let scaledDown: number;
    try {
      scaledDown = await this.scaleDownOldReplicaSetsForRollingUpdate([...oldRSs, newRS], oldRSs, d);
    } catch (e) {
      this.ctx.log.debug({ err: String(e) }, 'scale down of old replica sets failed');
      return false;
    }
    return cleaned + scaledDown > 0;
  }

  /** cleanupUnhealthyReplicas: scale old replica sets down by their unavailable replicas first. */
  private async cleanupUnhealthyReplicas(oldRSs: RS[], d: KubeObject, maxCleanup: number): Promise<number> {
    oldRSs.sort(byCreation);
    let total = 0;
    for (const rs of oldRSs) {
      if (total >= maxCleanup) break;
      if (replicasOf(rs) === 0) continue;
      const avail = rs.status?.availableReplicas ?? 0;
      if (replicasOf(rs) === avail) continue;
      const n = Math.min(maxCleanup - total, replicasOf(rs) - avail);
      const target = replicasOf(rs) - n;
      if (target > replicasOf(rs)) throw new Error(`when cleaning up unhealthy replicas, got invalid request to scale down ${rs.metadata.namespace}/${rs.metadata.name} ${replicasOf(rs)} -> ${target}`);
      await this.scaleReplicaSetAndRecordEvent(rs, target, d);
      total += n;
    }
    return total;
  }

  private async scaleDownOldReplicaSetsForRollingUpdate(all: RS[], oldRSs: RS[], d: KubeObject): Promise<number> {
    const minAvailable = replicasOf(d) - maxUnavailable(d);
    const available = availableReplicaCount(all);
    if (available <= minAvailable) return 0;
    oldRSs.sort(byCreation);
    let total = 0;
    const want = available - minAvailable;
    for (const rs of oldRSs) {
      if (total >= want) break;
      if (replicasOf(rs) === 0) continue;
      const n = Math.min(replicasOf(rs), want - total);
      await this.scaleReplicaSetAndRecordEvent(rs, replicasOf(rs) - n, d);
      total += n;
    }
    return total;
  }

  private async rolloutRecreate(d: KubeObject, rsList: RS[]): Promise<void> {
    let { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    let all = [...oldRSs, newRS];
    let scaledDown = false;
    for (const rs of filterActive(oldRSs)) {
      const [scaled] = await this.scaleReplicaSetAndRecordEvent(rs, 0, d);
      if (scaled) scaledDown = true;
    }
    if (scaledDown) return this.syncRolloutStatus(all, newRS, d);
    if (this.oldPodsRunning(newRS, oldRSs, this.podMap(rsList))) return this.syncRolloutStatus(all, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true));
      all = [...oldRSs, newRS];
    }
    await this.scaleReplicaSetAndRecordEvent(newRS!, replicasOf(d), d);
    if (deploymentComplete(d, d.status ?? {})) await this.cleanupDeployment(oldRSs, d);
    return this.syncRolloutStatus(all, newRS, d);
  }

  private oldPodsRunning(newRS: RS | undefined, oldRSs: RS[], podMap: Map<string, KubeObject[]>): boolean {
    if (actualReplicaCount(oldRSs) > 0) return true;
    for (const [uid, pods] of podMap) {
      if (newRS && newRS.metadata.uid === uid) continue;
      for (const p of pods) {
        const phase = p.status?.phase;
        if (phase === 'Failed' || phase === 'Succeeded') continue;
        return true;
      }
    }
    return false;
  }
}

/** getReplicaFailures: the new replica set's ReplicaFailure condition, else any old one's, as a deployment condition. */
function replicaFailure(allRSs: (RS | undefined)[], newRS: RS | undefined): DeploymentCondition | undefined {
  const conv = (c: { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string }): DeploymentCondition => ({
    type: c.type,
    status: c.status,
    lastUpdateTime: c.lastTransitionTime,
    lastTransitionTime: c.lastTransitionTime,
    reason: c.reason,
    message: c.message,
  });
  for (const rs of [newRS, ...allRSs]) {
    const c = rs?.status?.conditions?.find((x: { type: string }) => x.type === 'ReplicaFailure');
    if (c) return conv(c);
  }
  return undefined;
}

function canon(s: DeploymentStatus): string {
  const norm = {
    observedGeneration: s.observedGeneration ?? 0,
    replicas: s.replicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    readyReplicas: s.readyReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
    unavailableReplicas: s.unavailableReplicas ?? 0,
    collisionCount: s.collisionCount ?? null,
    conditions: (s.conditions ?? []).map((c) => [c.type, c.status, c.lastUpdateTime ?? '', c.lastTransitionTime ?? '', c.reason ?? '', c.message ?? '']),
  };
  return JSON.stringify(norm);
}

const statusEqual = (a: DeploymentStatus, b: DeploymentStatus) => canon(a) === canon(b);
