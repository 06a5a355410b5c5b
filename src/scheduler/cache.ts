// The scheduler cache: a NodeInfo per node with the pods bound to it, plus pods the scheduler
// has assumed onto a node while their binding is in flight (so the next cycle already counts
// them). Kept current from informer events; a cycle reads it through one Snapshot, rebuilt only
// when the set of nodes changes (NodeInfo objects are updated in place between cycles).

import type { KubeObject } from '../api/meta/v1.js';
import { NodeInfo, podInfoOf, Snapshot, type PodInfo } from './framework/types.js';

interface PodEntry {
  node: string;
  info: PodInfo;
  assumed: boolean;
}

const finished = (p: KubeObject) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export class SchedulerCache {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, PodEntry>();
  /** Pods bound to nodes not seen yet. */
  private readonly waiting = new Map<string, Map<string, PodInfo>>();
  private snapshotCache?: Snapshot;
  /** "key=value" → pod uid → the pod and its node (every placed pod, by each of its labels). */
  private readonly byLabel = new Map<string, Map<string, { info: PodInfo; node: string }>>();

  constructor(
    /** Fills in spec.priority from priorityClassName where the API did not. */
    private readonly withPriority: (pod: KubeObject) => KubeObject,
    private readonly namespaceLabels?: (ns: string) => Record<string, string> | undefined,
  ) {}

  get nodeCount(): number {
    return this.nodes.size;
  }

  snapshot(): Snapshot {
    return (this.snapshotCache ??= new Snapshot([...this.nodes.values()], {
      namespaceLabels: this.namespaceLabels,
      podsByLabel: (k, v) => this.byLabel.get(`${k}=${v}`)?.values() ?? [],
    }));
  }

  setNode(node: KubeObject): void {
    const name = node.metadata.name!;
    const old = this.nodes.get(name);
    const pods = old ? old.pods : [...(this.waiting.get(name)?.values() ?? [])];
    this.waiting.delete(name);
    this.nodes.set(name, new NodeInfo(node, pods));
    this.snapshotCache = undefined;
  }

  removeNode(name: string): void {
    const old = this.nodes.get(name);
    if (!old) return;
    this.nodes.delete(name);
    // Its pods stay accounted for, in case the node comes back (upstream keeps them too).
    if (old.pods.length) this.waiting.set(name, new Map(old.pods.map((p) => [p.uid, p])));
    this.snapshotCache = undefined;
  }

  private place(key: string, node: string, info: PodInfo, assumed: boolean): void {
    this.unplace(key);
    const ni = this.nodes.get(node);
    if (ni) ni.addPod(info);
    else {
      let w = this.waiting.get(node);
      if (!w) this.waiting.set(node, (w = new Map()));
      w.set(info.uid, info);
    }
    this.pods.set(key, { node, info, assumed });
    for (const [k, v] of Object.entries(info.labels)) {
      const lk = `${k}=${v}`;
      let m = this.byLabel.get(lk);
      if (!m) this.byLabel.set(lk, (m = new Map()));
      m.set(info.uid, { info, node });
    }
  }

  private unplace(key: string): void {
    const e = this.pods.get(key);
    if (!e) return;
    this.pods.delete(key);
    for (const [k, v] of Object.entries(e.info.labels)) {
      const lk = `${k}=${v}`;
      const m = this.byLabel.get(lk);
      if (m?.get(e.info.uid) === undefined) continue;
      m.delete(e.info.uid);
      if (!m.size) this.byLabel.delete(lk);
    }
    const ni = this.nodes.get(e.node);
    if (ni) ni.removePod(e.info);
    else this.waiting.get(e.node)?.delete(e.info.uid);
  }

  /** A pod event from the informer: bound pods are placed, finished or deleted ones removed. */
  observePod(key: string, pod: KubeObject | undefined): void {
    if (!pod || !pod.spec?.nodeName || finished(pod)) {
      const e = this.pods.get(key);
      // An assumed pod is not yet bound in the API; keep it until binding settles.
      if (e && (!pod || !e.assumed || finished(pod) || (pod.metadata.uid !== e.info.uid))) this.unplace(key);
      return;
    }
    const cur = this.pods.get(key);
    if (cur && !cur.assumed && cur.info.pod.metadata.resourceVersion === pod.metadata.resourceVersion) return;
    this.place(key, pod.spec.nodeName, podInfoOf(this.withPriority(pod)), false);
  }

  assume(key: string, pod: KubeObject, node: string): void {
    this.place(key, node, podInfoOf({ ...pod, spec: { ...pod.spec, nodeName: node } }), true);
  }

  forget(key: string): void {
    const e = this.pods.get(key);
    if (e?.assumed) this.unplace(key);
  }

  isAssumed(key: string): boolean {
    return this.pods.get(key)?.assumed === true;
  }
}
