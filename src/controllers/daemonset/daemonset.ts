// The DaemonSet controller (upstream pkg/controller/daemon): one pod per eligible node, pinned to
// it by node affinity for the scheduler to bind; pods leave nodes that stop being eligible;
// templates are recorded as ControllerRevisions and rolled out with maxUnavailable/maxSurge, or
// on deletion (OnDelete).

import type { KubeObject } from '../../api/meta/v1.js';
import type { ResourceClient } from '../../client/client.js';
import type { EventRecorder } from '../../client/events.js';
import { byNamespace, keyOf, type SharedInformer } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { WorkQueue, runWorkers } from '../../client/workqueue.js';
import { getScaledValueFromIntOrPercent } from '../../machinery/intstr.js';
import { selectorFromObject } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../context.js';
import { availableAt, claimObjects, controllerOf, isPodAvailable, isPodReady, newControllerRef, podFromTemplate, type OwnerKind } from '../history/controller-utils.js';
import { computeTemplateHash, stableStringify } from '../history/hash.js';
import { History, sortControllerRevisions } from '../history/history.js';
import { Expectations } from './expectations.js';
import { nodeShouldRunDaemonPod, replaceNodeNameAffinity, targetNodeName, withDaemonTolerations } from './scheduling.js';

export const DAEMONSET_KIND: OwnerKind = { apiVersion: 'apps/v1', kind: 'DaemonSet' };
/** Pod and revision label with the template hash (DefaultDaemonSetUniqueLabelKey). */
export const DAEMONSET_HASH_LABEL = 'controller-revision-hash';
/** Pod label with the template generation (deprecated, still set). */
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';
/** DaemonSet annotation with the template generation, kept by the API server. */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

type PodsByNode = Map<string, KubeObject[]>;

const creation = (o: KubeObject) => (o.metadata.creationTimestamp ? Date.parse(o.metadata.creationTimestamp) : 0);

/** Bound pods first, then oldest, then by name (podByCreationTimestampAndPhase). */
function byCreationAndPhase(a: KubeObject, b: KubeObject): number {
  const sa = !!a.spec?.nodeName;
  const sb = !!b.spec?.nodeName;
  if (sa !== sb) return sa ? -1 : 1;
  return creation(a) - creation(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);
}

/** The revision data: a strategic patch that replaces the pod template. */
export function daemonSetPatch(ds: KubeObject): unknown {
  return { spec: { template: { ...structuredClone(ds.spec?.template ?? {}), $patch: 'replace' } } };
}

function templateGeneration(ds: KubeObject): string | undefined {
  const g = ds.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
  return g !== undefined && /^-?\d+$/.test(g) ? String(Number(g)) : undefined;
}

/** Current when the hash label or the template generation label matches. */
export function isPodUpdated(pod: KubeObject, hash: string, generation: string | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  return (generation !== undefined && labels[TEMPLATE_GENERATION_LABEL] === generation) || (hash !== '' && labels[DAEMONSET_HASH_LABEL] === hash);
}

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  private ctx!: ControllerContext;
  private dss!: SharedInformer;
  private pods!: SharedInformer;
  private nodes!: SharedInformer;
  private history!: History;
  private recorder!: EventRecorder;
  private podClient!: ResourceClient;
  private readonly queue = new WorkQueue<string>();
  private readonly expectations = new Expectations();

  start(ctx: ControllerContext): void {
    this.ctx = ctx;
    this.recorder = ctx.recorder('daemonset-controller');
    this.podClient = ctx.client.resource(R.pods);
    this.dss = ctx.informers.for(R.daemonsets).addIndex('namespace', byNamespace);
    this.pods = ctx.informers.for(R.pods).addIndex('namespace', byNamespace);
    this.nodes = ctx.informers.for(R.nodes);
    const revisions = ctx.informers.for(R.controllerrevisions);
    this.history = new History(ctx.client, revisions);

    const enqueue = (o: KubeObject) => this.queue.add(keyOf(o));
    this.dss.addEventHandler({
      add: enqueue,
      update: (_o, n) => enqueue(n),
      delete: (o) => {
        this.expectations.forget(keyOf(o));
        enqueue(o);
      },
    });
    this.pods.addEventHandler({
      add: (p) => (p.metadata.deletionTimestamp ? this.podDeleted(p) : this.podAdded(p)),
      update: (o, n) => this.podUpdated(o, n),
      delete: (p) => this.podDeleted(p),
    });
    const enqueueAll = () => {
      for (const ds of this.dss.indexer.list()) enqueue(ds);
    };
    this.nodes.addEventHandler({
      add: enqueueAll,
      update: (o, n) => {
        const sig = (x: KubeObject) => stableStringify([x.metadata.labels ?? {}, x.spec?.taints ?? [], !!x.spec?.unschedulable]);
        if (sig(o) !== sig(n)) enqueueAll();
      },
      delete: enqueueAll,
    });

    ctx.signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    void Promise.all([this.dss.waitForSync(), this.pods.waitForSync(), this.nodes.waitForSync(), revisions.waitForSync()]).then(() =>
      runWorkers(this.queue, ctx.settings.workers, (k) => this.sync(k), (k, e) => ctx.log.warn({ key: k, err: String(e) }, 'daemonset sync failed')),
    );
  }

  private ownerOf(pod: KubeObject): KubeObject | undefined {
    const ref = controllerOf(pod);
    if (!ref || ref.kind !== 'DaemonSet') return undefined;
    const ds = this.dss.indexer.getByName(pod.metadata.namespace, ref.name);
    return ds && ds.metadata.uid === ref.uid ? ds : undefined;
  }

  private enqueueMatching(pod: KubeObject): void {
    for (const ds of this.dss.indexer.byIndex('namespace', pod.metadata.namespace!)) {
      if (selectorFromObject(ds.spec?.selector).matches(pod.metadata.labels)) this.queue.add(keyOf(ds));
    }
  }

  private podAdded(pod: KubeObject): void {
    if (controllerOf(pod)) {
      const ds = this.ownerOf(pod);
      if (!ds) return;
      this.expectations.creationObserved(keyOf(ds));
      this.queue.add(keyOf(ds));
    } else this.enqueueMatching(pod);
  }

  private podUpdated(old: KubeObject, cur: KubeObject): void {
    if (cur.metadata.deletionTimestamp) return this.podDeleted(cur);
    const oldRef = controllerOf(old);
    const curRef = controllerOf(cur);
    if (oldRef && oldRef.uid !== curRef?.uid) {
      const prev = this.ownerOf(old);
      if (prev) this.queue.add(keyOf(prev));
    }
    if (curRef) {
      const ds = this.ownerOf(cur);
      if (ds) this.queue.add(keyOf(ds));
    } else if (stableStringify(old.metadata.labels ?? {}) !== stableStringify(cur.metadata.labels ?? {}) || oldRef) this.enqueueMatching(cur);
  }

  private podDeleted(pod: KubeObject): void {
    const ds = this.ownerOf(pod);
    if (!ds) return;
    this.expectations.deletionObserved(keyOf(ds), keyOf(pod));
    this.queue.add(keyOf(ds));
  }

  async sync(key: string): Promise<void> {
    const ds = this.dss.indexer.get(key);
    if (!ds) {
      this.expectations.forget(key);
      return;
    }
    const selector = selectorFromObject(ds.spec?.selector);
    if (selector.empty()) {
      this.recorder.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    if (ds.metadata.deletionTimestamp) return;
    const nodes = this.nodes.indexer.list();

    const { old, hash } = await this.constructHistory(ds);
    const candidates = this.pods.indexer.byIndex('namespace', ds.metadata.namespace!);
    const pods = await claimObjects(this.podClient, ds, DAEMONSET_KIND, selector, candidates);

    if (!this.expectations.satisfied(key)) return this.updateStatus(ds, nodes, hash, pods);

    let err: unknown;
    try {
      await this.manage(ds, nodes, hash, pods);
      if (this.expectations.satisfied(key) && ds.spec?.updateStrategy?.type !== 'OnDelete') await this.rollingUpdate(ds, nodes, hash, pods);
      await this.cleanupHistory(ds, old, pods);
    } catch (e) {
      err = e;
    }
    await this.updateStatus(ds, nodes, hash, pods);
    if (err) throw err;
  }

  // ---- history ------------------------------------------------------------------------------

  private async constructHistory(ds: KubeObject): Promise<{ cur: KubeObject; old: KubeObject[]; hash: string }> {
    const selector = selectorFromObject(ds.spec?.selector);
    const data = stableStringify(daemonSetPatch(ds));
    const current: KubeObject[] = [];
    const old: KubeObject[] = [];
    for (let h of this.history.list(ds, selector)) {
      if (!controllerOf(h)) h = await this.history.adopt(ds, DAEMONSET_KIND, h);
      if (h.metadata.labels?.[DAEMONSET_HASH_LABEL] === undefined) {
        h = await this.ctx.client.resource(R.controllerrevisions).patch(h.metadata.namespace, h.metadata.name!, 'merge', { metadata: { labels: { [DAEMONSET_HASH_LABEL]: h.metadata.name } } });
      }
      (stableStringify(h.data ?? null) === data ? current : old).push(h);
    }
    const next = Math.max(0, ...old.map((h) => h.revision ?? 0)) + 1;
    let cur: KubeObject;
    if (!current.length) cur = await this.snapshot(ds, next);
    else {
      cur = await this.dedupCurrent(ds, current);
      if ((cur.revision ?? 0) < next) cur = await this.history.updateRevision(cur, next);
    }
    return { cur, old, hash: cur.metadata.labels?.[DAEMONSET_HASH_LABEL] ?? '' };
  }

  private async snapshot(ds: KubeObject, revision: number): Promise<KubeObject> {
    const hash = computeTemplateHash(ds.spec?.template, ds.status?.collisionCount);
    const name = `${ds.metadata.name}-${hash}`;
    const body: KubeObject = {
      metadata: {
        name,
        namespace: ds.metadata.namespace,
        labels: { ...(ds.spec?.template?.metadata?.labels ?? {}), [DAEMONSET_HASH_LABEL]: hash },
        ownerReferences: [newControllerRef(ds, DAEMONSET_KIND)],
      },
      data: daemonSetPatch(ds),
      revision,
    };
    if (ds.metadata.annotations) body.metadata.annotations = { ...ds.metadata.annotations };
    const revisions = this.ctx.client.resource(R.controllerrevisions);
    try {
      return await revisions.create(ds.metadata.namespace, body);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      const existing = await revisions.get(ds.metadata.namespace, name);
      if (stableStringify(existing.data ?? null) === stableStringify(body.data)) return existing;
      const fresh = await this.ctx.client.resource(R.daemonsets).get(ds.metadata.namespace, ds.metadata.name!);
      if ((fresh.status?.collisionCount ?? 0) !== (ds.status?.collisionCount ?? 0)) {
        throw new Error(`found a stale collision count (${ds.status?.collisionCount ?? 0}, expected ${fresh.status?.collisionCount ?? 0}) of DaemonSet ${JSON.stringify(ds.metadata.name)} while processing; will retry until it is updated`);
      }
      fresh.status = { ...(fresh.status ?? {}), collisionCount: (fresh.status?.collisionCount ?? 0) + 1 };
      await this.ctx.client.resource(R.daemonsets).updateStatus(fresh);
      throw e;
    }
  }

  /** Keeps the highest-numbered of several equal revisions, moving pods' hash labels onto it. */
  private async dedupCurrent(ds: KubeObject, current: KubeObject[]): Promise<KubeObject> {
    if (current.length === 1) return current[0]!;
    sortControllerRevisions(current);
    const keep = current[current.length - 1]!;
    const keepHash = keep.metadata.labels?.[DAEMONSET_HASH_LABEL];
    const pods = this.pods.indexer.byIndex('namespace', ds.metadata.namespace!).filter((p) => this.ownerOf(p) === ds);
    for (const dup of current.slice(0, -1)) {
      const dupHash = dup.metadata.labels?.[DAEMONSET_HASH_LABEL];
      for (const p of pods) {
        if (p.metadata.labels?.[DAEMONSET_HASH_LABEL] !== dupHash) continue;
        try {
          await this.podClient.patch(p.metadata.namespace, p.metadata.name!, 'merge', { metadata: { labels: { [DAEMONSET_HASH_LABEL]: keepHash } } });
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      await this.history.delete(dup);
    }
    return keep;
  }

  /** Deletes the oldest old revisions no pod uses, beyond revisionHistoryLimit. */
  private async cleanupHistory(ds: KubeObject, old: KubeObject[], pods: KubeObject[]): Promise<void> {
    const limit = ds.spec?.revisionHistoryLimit ?? 10;
    let toKill = old.length - limit;
    if (toKill <= 0) return;
    const live = new Set(pods.map((p) => p.metadata.labels?.[DAEMONSET_HASH_LABEL]).filter((h) => h !== undefined));
    for (const h of sortControllerRevisions([...old])) {
      if (toKill <= 0) break;
      if (live.has(h.metadata.labels?.[DAEMONSET_HASH_LABEL] ?? '')) continue;
      await this.history.delete(h);
      toKill--;
    }
  }

  // ---- pods per node ------------------------------------------------------------------------

  private podsByNode(pods: KubeObject[], includeDeletedTerminal: boolean): PodsByNode {
    const m: PodsByNode = new Map();
    for (const p of pods) {
      const terminal = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
      if (!includeDeletedTerminal && terminal && p.metadata.deletionTimestamp) continue;
      const node = targetNodeName(p);
      if (node === undefined) continue;
      let list = m.get(node);
      if (!list) m.set(node, (list = []));
      list.push(p);
    }
    return m;
  }

  private async manage(ds: KubeObject, nodes: KubeObject[], hash: string, pods: KubeObject[]): Promise<void> {
    const byNode = this.podsByNode(pods, false);
    const needing: string[] = [];
    const toDelete: KubeObject[] = [];
    const surge = this.maxSurgeConfigured(ds);
    const now = this.ctx.settings.now();
    const mrs = ds.spec?.minReadySeconds ?? 0;
    for (const node of nodes) {
      const nodeName = node.metadata.name!;
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
      const daemonPods = byNode.get(nodeName);
      if (shouldRun && !daemonPods) {
        needing.push(nodeName);
        continue;
      }
      if (shouldContinueRunning && daemonPods) {
        const running: KubeObject[] = [];
        for (const p of daemonPods) {
          if (p.metadata.deletionTimestamp) continue;
          if (p.status?.phase === 'Failed') {
            this.recorder.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${nodeName}, will try to kill it`);
            toDelete.push(p);
          } else if (p.status?.phase === 'Succeeded') toDelete.push(p);
          else running.push(p);
        }
        running.sort(byCreationAndPhase);
        if (!surge) {
          toDelete.push(...running.slice(1));
          continue;
        }
        if (running.length <= 1) {
          if (!running.length && shouldRun) needing.push(nodeName);
          continue;
        }
        // With surge, an old and a new pod may share a node while the new one becomes available.
        let oldestNew: KubeObject | undefined;
        let oldestOld: KubeObject | undefined;
        for (const p of running) {
          if (p.metadata.labels?.[DAEMONSET_HASH_LABEL] === hash) {
            if (!oldestNew) {
              oldestNew = p;
              continue;
            }
          } else if (!oldestOld) {
            oldestOld = p;
            continue;
          }
          toDelete.push(p);
        }
        if (oldestNew && oldestOld && (!isPodReady(oldestOld) || isPodAvailable(oldestNew, mrs, now))) toDelete.push(oldestOld);
        continue;
      }
      if (!shouldContinueRunning && daemonPods) for (const p of daemonPods) if (!p.metadata.deletionTimestamp) toDelete.push(p);
    }
    // Unbound pods aimed at nodes that no longer exist.
    const nodeNames = new Set(nodes.map((n) => n.metadata.name));
    for (const [nodeName, ps] of byNode) {
      if (nodeNames.has(nodeName)) continue;
      for (const p of ps) if (!p.spec?.nodeName && !p.metadata.deletionTimestamp) toDelete.push(p);
    }
    await this.syncNodes(ds, toDelete, needing, hash);
  }

  private maxSurgeConfigured(ds: KubeObject): boolean {
    if (ds.spec?.updateStrategy?.type === 'OnDelete') return false;
    const s = ds.spec?.updateStrategy?.rollingUpdate?.maxSurge;
    if (s === undefined || s === null) return false;
    try {
      return getScaledValueFromIntOrPercent(s, 1, true) > 0;
    } catch {
      return false;
    }
  }

  /** Deletes podsToDelete and creates a pod for each node in nodesNeeding, with expectations. */
  private async syncNodes(ds: KubeObject, podsToDelete: KubeObject[], nodesNeeding: string[], hash: string): Promise<void> {
    if (!podsToDelete.length && !nodesNeeding.length) return;
    const key = keyOf(ds);
    this.expectations.expect(key, nodesNeeding.length, podsToDelete.map(keyOf));
    const errors: unknown[] = [];

    const generation = templateGeneration(ds);
    const template = structuredClone(ds.spec?.template ?? { metadata: {} });
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [DAEMONSET_HASH_LABEL]: hash };
    if (generation !== undefined) template.metadata.labels[TEMPLATE_GENERATION_LABEL] = generation;
    template.spec ??= {};
    template.spec.tolerations = withDaemonTolerations(template.spec);

    const create = async (nodeName: string) => {
      const pod = podFromTemplate(template, ds.metadata.namespace!, newControllerRef(ds, DAEMONSET_KIND));
      pod.metadata.generateName = `${ds.metadata.name}-`;
      pod.spec.affinity = replaceNodeNameAffinity(pod.spec.affinity, nodeName);
      try {
        const made = await this.podClient.create(pod.metadata.namespace, pod);
        this.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${made.metadata.name}`);
      } catch (e) {
        this.expectations.lowerAdds(key, 1);
        this.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${errText(e)}`);
        throw e;
      }
    };
    // Slow start: batches of 1, 2, 4, ... stop at the first batch with a failure.
    let next = 0;
    for (let batch = Math.min(1, nodesNeeding.length); batch > 0; batch = Math.min(2 * batch, nodesNeeding.length - next)) {
      const results = await Promise.allSettled(nodesNeeding.slice(next, next + batch).map(create));
      next += batch;
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length) {
        errors.push(...failed.map((f) => f.reason));
        this.expectations.lowerAdds(key, nodesNeeding.length - next);
        break;
      }
    }

    await Promise.all(
      podsToDelete.map(async (p) => {
        try {
          await this.podClient.delete(p.metadata.namespace, p.metadata.name!, { preconditions: { uid: p.metadata.uid } });
          this.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${p.metadata.name}`);
        } catch (e) {
          this.expectations.deletionObserved(key, keyOf(p));
          if (isNotFound(e)) return;
          this.recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${errText(e)}`);
          errors.push(e);
        }
      }),
    );
    if (errors.length) throw errors[0];
  }

  // ---- rolling update -----------------------------------------------------------------------

  private async rollingUpdate(ds: KubeObject, nodes: KubeObject[], hash: string, pods: KubeObject[]): Promise<void> {
    const byNode = this.podsByNode(pods, false);
    const generation = templateGeneration(ds);
    const now = this.ctx.settings.now();
    const mrs = ds.spec?.minReadySeconds ?? 0;
    const available = (p: KubeObject) => isPodAvailable(p, mrs, now);

    let desired = 0;
    const nodesByName = new Map(nodes.map((n) => [n.metadata.name!, n]));
    for (const node of nodes) {
      if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
      desired++;
      if (!byNode.has(node.metadata.name!)) byNode.set(node.metadata.name!, []);
    }
    const ru = ds.spec?.updateStrategy?.rollingUpdate ?? {};
    let maxUnavailable = getScaledValueFromIntOrPercent(ru.maxUnavailable ?? 1, desired, true);
    const maxSurge = getScaledValueFromIntOrPercent(ru.maxSurge ?? 0, desired, true);
    if (maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;

    const findOnNode = (list: KubeObject[]): { newPod?: KubeObject; oldPod?: KubeObject; ok: boolean } => {
      let newPod: KubeObject | undefined;
      let oldPod: KubeObject | undefined;
      for (const p of list) {
        if (p.metadata.deletionTimestamp) continue;
        if (isPodUpdated(p, hash, generation)) {
          if (newPod) return { ok: false };
          newPod = p;
        } else {
          if (oldPod) return { ok: false };
          oldPod = p;
        }
      }
      return { newPod, oldPod, ok: true };
    };

    if (maxSurge === 0) {
      let numUnavailable = 0;
      const replace: KubeObject[] = [];
      const candidates: KubeObject[] = [];
      for (const [, list] of byNode) {
        const { newPod, oldPod, ok } = findOnNode(list);
        if (!ok || (!oldPod && !newPod) || (oldPod && newPod)) {
          numUnavailable++;
          continue;
        }
        if (newPod) {
          if (!available(newPod)) numUnavailable++;
          continue;
        }
        if (!available(oldPod!)) replace.push(oldPod!);
        else if (numUnavailable < maxUnavailable) candidates.push(oldPod!);
      }
      const remaining = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
      return this.syncNodes(ds, [...replace, ...candidates.slice(0, remaining)], [], hash);
    }

    // Surge: bring a new pod up beside the old one (at most maxSurge at a time), then remove the old.
    const oldToDelete: KubeObject[] = [];
    const shouldNotRun: KubeObject[] = [];
    const allowedNew: string[] = [];
    const candidateNew: string[] = [];
    let numSurge = 0;
    let numAvailable = 0;
    for (const [nodeName, list] of byNode) {
      const { newPod, oldPod, ok } = findOnNode(list);
      if (!ok) {
        numSurge++;
        continue;
      }
      if (oldPod ? available(oldPod) : newPod ? available(newPod) : false) numAvailable++;
      if (!oldPod) continue;
      if (!newPod) {
        const node = nodesByName.get(nodeName);
        const shouldRun = node ? nodeShouldRunDaemonPod(node, ds).shouldRun : false;
        if (!available(oldPod)) {
          if (!shouldRun) oldToDelete.push(oldPod);
          else allowedNew.push(nodeName);
        } else if (!shouldRun) shouldNotRun.push(oldPod);
        else if (numSurge < maxSurge) candidateNew.push(nodeName);
        continue;
      }
      if (!available(newPod)) numSurge++;
      else oldToDelete.push(oldPod);
    }
    const deletable = Math.min(Math.max(0, numAvailable - desired), shouldNotRun.length);
    oldToDelete.push(...shouldNotRun.slice(0, deletable));
    const remainingSurge = Math.min(Math.max(0, maxSurge - numSurge), candidateNew.length);
    return this.syncNodes(ds, oldToDelete, [...allowedNew, ...candidateNew.slice(0, remainingSurge)], hash);
  }

  // ---- status -------------------------------------------------------------------------------

  private async updateStatus(ds: KubeObject, nodes: KubeObject[], hash: string, pods: KubeObject[]): Promise<void> {
    const byNode = this.podsByNode(pods, false);
    const generation = templateGeneration(ds);
    const now = this.ctx.settings.now();
    const mrs = ds.spec?.minReadySeconds ?? 0;
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let available = 0;
    let updated = 0;
    let nextAvailable = Infinity;
    for (const node of nodes) {
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
      const list = byNode.get(node.metadata.name!) ?? [];
      if (!shouldRun) {
        if (list.length) misscheduled++;
        continue;
      }
      desired++;
      if (!list.length) continue;
      current++;
      const pod = [...list].sort(byCreationAndPhase)[0]!;
      if (isPodReady(pod)) {
        ready++;
        if (isPodAvailable(pod, mrs, now)) available++;
        else nextAvailable = Math.min(nextAvailable, availableAt(pod, mrs) ?? Infinity);
      }
      if (isPodUpdated(pod, hash, generation)) updated++;
    }
    const status = {
      observedGeneration: ds.metadata.generation ?? 0,
      desiredNumberScheduled: desired,
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      numberReady: ready,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
    };
    const s = ds.status ?? {};
    const same = status.observedGeneration <= (s.observedGeneration ?? 0) && (Object.keys(status) as (keyof typeof status)[]).every((k) => k === 'observedGeneration' || status[k] === (s[k] ?? 0));
    if (!same) {
      try {
        await this.ctx.client.resource(R.daemonsets).patch(ds.metadata.namespace, ds.metadata.name!, 'merge', { metadata: { uid: ds.metadata.uid }, status }, { subresource: 'status' });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (mrs > 0 && ready !== available) {
      const wait = Number.isFinite(nextAvailable) ? Math.max(0, nextAvailable - now.getTime()) + 10 : mrs * 1000;
      this.queue.addAfter(keyOf(ds), wait);
    }
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
