// What the runtime holds for each pod, rebuilt by relisting (upstream's PLEG): every sandbox and
// container k8ts created, found by their io.kubernetes.pod.uid labels, so a restarted agent sees
// its pods again. A relist that finds a container or sandbox in a new state reports the pod UID,
// and the agent syncs that pod.

import {
  LABEL_CONTAINER_NAME,
  LABEL_POD_UID,
  type ContainerRuntime,
  type ContainerStatus,
  type PodSandbox,
} from '../runtime/runtime.js';

export interface RuntimeContainer {
  id: string;
  name: string;
  sandboxId: string;
  /** CRI metadata.attempt: the restart count this instance was started with. */
  attempt: number;
  status: ContainerStatus;
}

export interface RuntimeSandbox {
  id: string;
  attempt: number;
  ready: boolean;
  createdAt: bigint;
  ip?: string;
  sandbox: PodSandbox;
}

export interface RuntimePod {
  uid: string;
  name: string;
  namespace: string;
  /** Newest first. */
  sandboxes: RuntimeSandbox[];
  /** Newest attempt first within each name. */
  containers: RuntimeContainer[];
}

export class RuntimeState {
  private pods = new Map<string, RuntimePod>();
  /** A container's status only changes with its state: read it again only when the list shows a new state. */
  private readonly statuses = new Map<string, ContainerStatus>();
  private readonly sandboxIPs = new Map<string, string>();
  private fingerprints = new Map<string, string>();
  healthy = false;
  lastError?: string;

  constructor(private readonly runtime: ContainerRuntime) {}

  get(uid: string): RuntimePod | undefined {
    return this.pods.get(uid);
  }

  all(): RuntimePod[] {
    return [...this.pods.values()];
  }

  /** Relists; returns the UIDs of pods whose runtime state changed since the last relist. */
  async relist(): Promise<string[]> {
    let sandboxes: PodSandbox[];
    let containers: Awaited<ReturnType<ContainerRuntime['listContainers']>>;
    try {
      [sandboxes, containers] = await Promise.all([this.runtime.listPodSandbox(), this.runtime.listContainers()]);
      this.healthy = true;
      this.lastError = undefined;
    } catch (err) {
      this.healthy = false;
      this.lastError = String((err as Error).message ?? err);
      return [];
    }
    const pods = new Map<string, RuntimePod>();
    const podOf = (labels: Record<string, string>, meta?: { name: string; namespace: string; uid: string }) => {
      const uid = labels[LABEL_POD_UID] ?? meta?.uid;
      if (!uid) return undefined;
      let p = pods.get(uid);
      if (!p) {
        p = { uid, name: meta?.name ?? labels['io.kubernetes.pod.name'] ?? '', namespace: meta?.namespace ?? labels['io.kubernetes.pod.namespace'] ?? '', sandboxes: [], containers: [] };
        pods.set(uid, p);
      }
      return p;
    };
    const liveSandboxes = new Set<string>();
    for (const s of sandboxes) {
      const p = podOf(s.labels ?? {}, s.metadata);
      if (!p) continue;
      liveSandboxes.add(s.id);
      const ready = s.state === 'SANDBOX_READY';
      let ip = this.sandboxIPs.get(s.id);
      if (ready && ip === undefined) {
        try {
          const st = await this.runtime.podSandboxStatus(s.id);
          ip = st.status.network?.ip ?? '';
          this.sandboxIPs.set(s.id, ip);
        } catch {
          // read again next relist
        }
      }
      p.sandboxes.push({ id: s.id, attempt: s.metadata?.attempt ?? 0, ready, createdAt: BigInt(s.created_at || '0'), ip: ip || undefined, sandbox: s });
    }
    for (const id of this.sandboxIPs.keys()) if (!liveSandboxes.has(id)) this.sandboxIPs.delete(id);
    const live = new Set<string>();
    for (const c of containers) {
      const p = podOf(c.labels ?? {});
      if (!p) continue;
      live.add(c.id);
      let status = this.statuses.get(c.id);
      if (!status || status.state !== c.state) {
        try {
          status = (await this.runtime.containerStatus(c.id)).status;
        } catch {
          continue; // removed meanwhile
        }
        this.statuses.set(c.id, status);
      }
      p.containers.push({
        id: c.id,
        name: c.labels?.[LABEL_CONTAINER_NAME] ?? c.metadata?.name ?? '',
        sandboxId: c.pod_sandbox_id,
        attempt: c.metadata?.attempt ?? 0,
        status,
      });
    }
    for (const id of this.statuses.keys()) if (!live.has(id)) this.statuses.delete(id);
    for (const p of pods.values()) {
      p.sandboxes.sort((a, b) => b.attempt - a.attempt || (b.createdAt > a.createdAt ? 1 : -1));
      p.containers.sort((a, b) => (a.name === b.name ? b.attempt - a.attempt : a.name < b.name ? -1 : 1));
    }
    const fingerprints = new Map<string, string>();
    const changed: string[] = [];
    for (const [uid, p] of pods) {
      const fp = JSON.stringify([p.sandboxes.map((s) => [s.id, s.ready, s.ip]), p.containers.map((c) => [c.id, c.status.state])]);
      fingerprints.set(uid, fp);
      if (this.fingerprints.get(uid) !== fp) changed.push(uid);
    }
    for (const uid of this.fingerprints.keys()) if (!pods.has(uid)) changed.push(uid);
    this.fingerprints = fingerprints;
    this.pods = pods;
    return changed;
  }

  /**
   * Re-reads one pod from the runtime (after the agent changed it), so the next sync of that pod
   * sees its own changes without waiting for the relist.
   */
  async refreshPod(uid: string): Promise<void> {
    const selector = { [LABEL_POD_UID]: uid };
    const [sandboxes, containers] = await Promise.all([this.runtime.listPodSandbox({ label_selector: selector }), this.runtime.listContainers({ label_selector: selector })]);
    const old = this.pods.get(uid);
    const p: RuntimePod = { uid, name: old?.name ?? '', namespace: old?.namespace ?? '', sandboxes: [], containers: [] };
    for (const s of sandboxes) {
      p.name ||= s.metadata?.name ?? '';
      p.namespace ||= s.metadata?.namespace ?? '';
      const ready = s.state === 'SANDBOX_READY';
      let ip = this.sandboxIPs.get(s.id);
      if (ready && ip === undefined) {
        ip = (await this.runtime.podSandboxStatus(s.id).catch(() => undefined))?.status.network?.ip ?? '';
        this.sandboxIPs.set(s.id, ip);
      }
      p.sandboxes.push({ id: s.id, attempt: s.metadata?.attempt ?? 0, ready, createdAt: BigInt(s.created_at || '0'), ip: ip || undefined, sandbox: s });
    }
    for (const c of containers) {
      let status = this.statuses.get(c.id);
      if (!status || status.state !== c.state) {
        status = (await this.runtime.containerStatus(c.id).catch(() => undefined))?.status;
        if (!status) continue;
        this.statuses.set(c.id, status);
      }
      p.containers.push({ id: c.id, name: c.labels?.[LABEL_CONTAINER_NAME] ?? c.metadata?.name ?? '', sandboxId: c.pod_sandbox_id, attempt: c.metadata?.attempt ?? 0, status });
    }
    p.sandboxes.sort((a, b) => b.attempt - a.attempt || (b.createdAt > a.createdAt ? 1 : -1));
    p.containers.sort((a, b) => (a.name === b.name ? b.attempt - a.attempt : a.name < b.name ? -1 : 1));
    if (p.sandboxes.length || p.containers.length) this.pods.set(uid, p);
    else this.pods.delete(uid);
  }

  /** Forget a container's cached status (after it was removed). */
  forget(containerId: string): void {
    this.statuses.delete(containerId);
  }
}

/** The newest instance of each container name (optionally only within one sandbox). */
export function latestByName(pod: RuntimePod | undefined, sandboxId?: string): Map<string, RuntimeContainer> {
  const out = new Map<string, RuntimeContainer>();
  for (const c of pod?.containers ?? []) {
    if (sandboxId && c.sandboxId !== sandboxId) continue;
    if (!out.has(c.name)) out.set(c.name, c);
  }
  return out;
}

/** The instance before the newest, for lastState and `logs --previous`. */
export function previousByName(pod: RuntimePod | undefined, name: string): RuntimeContainer | undefined {
  return pod?.containers.filter((c) => c.name === name)[1];
}
