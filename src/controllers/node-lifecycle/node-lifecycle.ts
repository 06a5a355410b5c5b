// The node lifecycle controller:
// - a node whose kubelet stopped heartbeating (Lease and Ready condition both older than the
//   grace period, 40 s by default, judged by this controller's own clock) gets its conditions set
//   to Unknown, and its pods marked not ready;
// - nodes carry taints that mirror their Ready condition: node.kubernetes.io/not-ready and
//   node.kubernetes.io/unreachable, both NoSchedule and NoExecute;
// - the NoExecute taint manager deletes pods on tainted nodes that do not tolerate the taint,
//   at once or after their toleration's tolerationSeconds (counted from the taint's timeAdded).

import type { KubeObject } from '../../api/meta/v1.js';
import { byNodeName } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { ApiError, isNotFound } from '../../client/transport.js';
import type { Controller, ControllerContext } from '../context.js';

const NOT_READY = 'node.kubernetes.io/not-ready';
const UNREACHABLE = 'node.kubernetes.io/unreachable';

interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

const rfc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** Milliseconds a pod may stay on a node with these NoExecute taints: 0 now, Infinity forever. */
export function evictionDelay(pod: KubeObject, taints: Taint[], now: number): number {
  let delay = Infinity;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const matching = ((pod.spec?.tolerations ?? []) as Toleration[]).filter((t) => tolerates(t, taint));
    if (!matching.length) return 0;
    // The shortest tolerationSeconds among the matching tolerations wins (upstream).
    const secs = Math.min(...matching.map((t) => (t.tolerationSeconds === undefined || t.tolerationSeconds === null ? Infinity : Math.max(0, t.tolerationSeconds))));
    if (secs === Infinity) continue;
    const added = taint.timeAdded ? Date.parse(taint.timeAdded) : now;
    delay = Math.min(delay, Math.max(0, added + secs * 1000 - now));
  }
  return delay;
}

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  /** node → when we last saw its heartbeat change, by our clock. */
  private readonly lastSeen = new Map<string, { renew?: string; heartbeat?: string; at: number }>();
  private readonly evictions = new Map<string, NodeJS.Timeout>();

  start(ctx: ControllerContext): void {
    const nodes = ctx.informers.for(R.nodes);
    const leases = ctx.informers.for(R.leases);
    const pods = ctx.informers.for(R.pods).addIndex('node', byNodeName);
    nodes.addEventHandler({
      add: (n) => void this.reconcileTaints(ctx, n).catch((err) => ctx.log.debug({ err }, 'node taints')),
      update: (_o, n) => void this.reconcileTaints(ctx, n).catch((err) => ctx.log.debug({ err }, 'node taints')),
      delete: (n) => this.lastSeen.delete(n.metadata.name!),
    });
    pods.addEventHandler({ add: (p) => this.checkPod(ctx, p), update: (_o, p) => this.checkPod(ctx, p), delete: (p) => this.cancelEviction(p) });
    void leases; // observed through the node monitor
    ctx.signal.addEventListener('abort', () => {
      for (const t of this.evictions.values()) clearTimeout(t);
      this.evictions.clear();
    }, { once: true });
    void (async () => {
      await ctx.informers.waitForSync();
      while (!ctx.signal.aborted) {
        try {
          await this.monitor(ctx);
        } catch (err) {
          ctx.log.debug({ err }, 'node monitor');
        }
        await new Promise((r) => setTimeout(r, ctx.settings.nodeMonitorPeriodMs));
      }
    })();
  }

  private readyCondition(n: KubeObject): { status: string; lastHeartbeatTime?: string } | undefined {
    return (n.status?.conditions ?? []).find((c: { type: string }) => c.type === 'Ready');
  }

  /** Marks nodes whose kubelet went quiet as Unknown. */
  private async monitor(ctx: ControllerContext): Promise<void> {
    const now = ctx.settings.now().getTime();
    const leases = ctx.informers.for(R.leases).indexer;
    for (const node of ctx.informers.for(R.nodes).indexer.list()) {
      const name = node.metadata.name!;
      const renew = leases.getByName('kube-node-lease', name)?.spec?.renewTime as string | undefined;
      const ready = this.readyCondition(node);
      const heartbeat = ready?.lastHeartbeatTime;
      const seen = this.lastSeen.get(name);
      if (!seen || seen.renew !== renew || seen.heartbeat !== heartbeat) {
        this.lastSeen.set(name, { renew, heartbeat, at: now });
        continue;
      }
      if (now - seen.at <= ctx.settings.nodeMonitorGracePeriodMs) continue;
      if (!ready || ready.status === 'Unknown') continue;
      await this.markUnknown(ctx, node);
    }
  }

  private async markUnknown(ctx: ControllerContext, node: KubeObject): Promise<void> {
    const t = rfc(ctx.settings.now());
    const conditions = ((node.status?.conditions ?? []) as { type: string; status: string }[]).map((c) =>
      c.status === 'Unknown'
        ? c
        : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: t },
    );
    if (!conditions.some((c) => c.type === 'Ready')) conditions.push({ type: 'Ready', status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastTransitionTime: t } as never);
    await ctx.client.resource(R.nodes).patch(undefined, node.metadata.name!, 'strategic', { status: { conditions } }, { subresource: 'status' });
    ctx.recorder('node-controller').event(node, 'Normal', 'NodeNotReady', `Node ${node.metadata.name} status is now: NodeNotReady`);
    // Pods on the node are no longer ready (upstream MarkPodsNotReady).
    for (const pod of ctx.informers.for(R.pods).indexer.byIndex('node', node.metadata.name!)) {
      const conds = (pod.status?.conditions ?? []) as { type: string; status: string }[];
      if (!conds.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const next = conds.map((c) => (c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', lastTransitionTime: t } : c));
      try {
        await ctx.client.resource(R.pods).patch(pod.metadata.namespace, pod.metadata.name!, 'merge', { status: { conditions: next } }, { subresource: 'status' });
      } catch (e) {
        if (!isNotFound(e)) ctx.log.debug({ err: e }, 'mark pod not ready');
      }
    }
  }

  /** The not-ready/unreachable taints follow the Ready condition. */
  private async reconcileTaints(ctx: ControllerContext, node: KubeObject): Promise<void> {
    const ready = this.readyCondition(node);
    const want: string | undefined = !ready ? undefined : ready.status === 'False' ? NOT_READY : ready.status === 'Unknown' ? UNREACHABLE : undefined;
    const taints = (node.spec?.taints ?? []) as Taint[];
    const managed = (t: Taint) => t.key === NOT_READY || t.key === UNREACHABLE;
    const keep = taints.filter((t) => !managed(t) || (t.key === want));
    const has = (effect: string) => keep.some((t) => t.key === want && t.effect === effect);
    const t = rfc(ctx.settings.now());
    const next = [...keep];
    if (want && !has('NoSchedule')) next.push({ key: want, effect: 'NoSchedule' });
    if (want && !has('NoExecute')) next.push({ key: want, effect: 'NoExecute', timeAdded: t });
    if (JSON.stringify(next) === JSON.stringify(taints)) {
      if (want) for (const p of ctx.informers.for(R.pods).indexer.byIndex('node', node.metadata.name!)) this.checkPod(ctx, p);
      return;
    }
    try {
      await ctx.client.resource(R.nodes).patch(undefined, node.metadata.name!, 'json', [
        { op: 'test', path: '/metadata/resourceVersion', value: node.metadata.resourceVersion },
        { op: 'add', path: '/spec/taints', value: next },
      ]);
    } catch (e) {
      if (!(isNotFound(e) || (e instanceof ApiError && (e.code === 409 || e.code === 422)))) throw e;
    }
  }

  private cancelEviction(pod: KubeObject): void {
    const k = pod.metadata.uid!;
    const t = this.evictions.get(k);
    if (t) clearTimeout(t);
    this.evictions.delete(k);
  }

  /** Schedules (or cancels) the taint-based eviction of a pod. */
  private checkPod(ctx: ControllerContext, pod: KubeObject): void {
    const nodeName = pod.spec?.nodeName;
    if (!nodeName || pod.metadata.deletionTimestamp) return this.cancelEviction(pod);
    const node = ctx.informers.for(R.nodes).indexer.getByName(undefined, nodeName);
    const taints = ((node?.spec?.taints ?? []) as Taint[]).filter((t) => t.effect === 'NoExecute');
    if (!taints.length) return this.cancelEviction(pod);
    const delay = evictionDelay(pod, taints, ctx.settings.now().getTime());
    if (delay === Infinity) return this.cancelEviction(pod);
    if (this.evictions.has(pod.metadata.uid!)) return;
    const timer = setTimeout(() => {
      this.evictions.delete(pod.metadata.uid!);
      void this.evict(ctx, pod).catch((err) => ctx.log.debug({ err }, 'taint eviction'));
    }, delay);
    timer.unref?.();
    this.evictions.set(pod.metadata.uid!, timer);
  }

  private async evict(ctx: ControllerContext, pod: KubeObject): Promise<void> {
    const cur = ctx.informers.for(R.pods).indexer.getByName(pod.metadata.namespace, pod.metadata.name!);
    if (!cur || cur.metadata.uid !== pod.metadata.uid || cur.metadata.deletionTimestamp) return;
    // Still untolerated? (the taint may be gone by now)
    const node = ctx.informers.for(R.nodes).indexer.getByName(undefined, cur.spec.nodeName);
    const taints = ((node?.spec?.taints ?? []) as Taint[]).filter((t) => t.effect === 'NoExecute');
    if (!taints.length || evictionDelay(cur, taints, ctx.settings.now().getTime()) > 0) return this.checkPod(ctx, cur);
    ctx.recorder('taint-eviction-controller').event(cur, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${cur.metadata.namespace}/${cur.metadata.name}`);
    try {
      const t = rfc(ctx.settings.now());
      await ctx.client.resource(R.pods).patch(cur.metadata.namespace, cur.metadata.name!, 'strategic', {
        status: { conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: t }] },
      }, { subresource: 'status' });
    } catch {
      // best effort
    }
    try {
      await ctx.client.resource(R.pods).delete(cur.metadata.namespace, cur.metadata.name!, { preconditions: { uid: cur.metadata.uid } });
    } catch (e) {
      if (!(isNotFound(e) || (e instanceof ApiError && e.code === 409))) throw e;
    }
  }
}
