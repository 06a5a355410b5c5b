// The Node object of a real node: registration, status (capacity from the machine, addresses,
// nodeInfo, conditions, images) posted when it changes and at least every minute, and the
// kube-node-lease Lease renewed every 10 s as the heartbeat.

import { readFileSync, statfsSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, release, totalmem } from 'node:os';
import type { KubeObject } from '../../api/meta/v1.js';
import { versionInfo } from '../../apiserver/version.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { sleep } from '../../client/sleep.js';
import { renewNodeLease } from './lease.js';
import { isAlreadyExists } from '../../client/transport.js';
import type { ContainerRuntime, Image } from '../runtime/runtime.js';
import type { Logger } from '../../machinery/logger.js';

export interface NodeStatusOptions {
  client: Client;
  runtime: ContainerRuntime;
  nodeName: string;
  nodeIP: string;
  kubeletPort: number;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  /** Directory whose filesystem is the node's ephemeral storage. */
  rootDir: string;
  maxPods?: number;
  leaseRenewMs?: number;
  statusReportMs?: number;
  /** Extra readiness checks (e.g. the pod network's config); a message means NotReady. */
  notReadyReason?: () => string | undefined;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

const nowRFC = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function readOr(path: string, fallback = ''): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readOr('/etc/os-release'));
  return m?.[1] ?? 'Linux';
}

/** The first non-loopback IPv4 address, else 127.0.0.1 (upstream picks the default route's). */
export function defaultNodeIP(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function machineCapacity(rootDir: string, maxPods: number): Record<string, string> {
  let storage = 0n;
  try {
    const s = statfsSync(rootDir, { bigint: true });
    storage = s.blocks * s.bsize;
  } catch {
    // left at zero
  }
  return {
    cpu: String(cpus().length),
    memory: `${Math.floor(totalmem() / 1024)}Ki`,
    pods: String(maxPods),
    'ephemeral-storage': `${storage / 1024n}Ki`,
    'hugepages-2Mi': '0',
    'hugepages-1Gi': '0',
  };
}

export class NodeStatusManager {
  private lastPosted = '';
  private lastPostedAt = 0;
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private runtimeVersion = 'containerd://unknown';
  private runtimeError?: string;
  private nodeUID?: string;
  private node?: KubeObject;

  constructor(private readonly o: NodeStatusOptions) {}

  get current(): KubeObject | undefined {
    return this.node;
  }

  /** Creates the Node (or takes over an existing one of the same name). */
  async register(): Promise<KubeObject> {
    const nodes = this.o.client.resource(R.nodes);
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const labels = {
      'kubernetes.io/hostname': this.o.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': arch,
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': arch,
      ...this.o.labels,
    };
    for (;;) {
      try {
        this.node = await nodes.create(undefined, {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: this.o.nodeName, labels },
          spec: this.o.taints?.length ? { taints: this.o.taints } : {},
        });
        this.o.log.info({ node: this.o.nodeName }, 'registered node');
        break;
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        const existing = await nodes.get(undefined, this.o.nodeName);
        // Keep the labels the agent owns up to date; others' labels stay.
        this.node = await nodes.patch(undefined, this.o.nodeName, 'merge', { metadata: { labels } });
        if (existing) break;
      }
    }
    this.nodeUID = this.node!.metadata.uid;
    await this.postStatus(true);
    return this.node!;
  }

  /** Heartbeats until aborted. */
  async run(signal: AbortSignal): Promise<void> {
    const leaseEvery = this.o.leaseRenewMs ?? 10_000;
    const statusEvery = 10_000; // check for changes; post when changed or once a minute
    let nextStatus = Date.now() + statusEvery;
    while (!signal.aborted) {
      try {
        await this.renewLease();
      } catch (err) {
        this.o.log.warn({ err: String(err) }, 'lease renewal failed');
      }
      if (Date.now() >= nextStatus) {
        nextStatus = Date.now() + statusEvery;
        await this.postStatus(false).catch((err) => this.o.log.warn({ err: String(err) }, 'node status update failed'));
      }
      await sleep(Math.min(leaseEvery, statusEvery), signal);
    }
  }

  /** Called when something the status shows changed (runtime up/down, network ready). */
  poke(): void {
    void this.postStatus(false).catch((err) => this.o.log.warn({ err: String(err) }, 'node status update failed'));
  }

  private renewLease(): Promise<void> {
    return renewNodeLease(this.o.client, this.o.nodeName, this.nodeUID);
  }

  private async runtimeState(): Promise<{ ready: boolean; message: string; images: Image[] }> {
    try {
      const [v, st] = await Promise.all([this.o.runtime.version(), this.o.runtime.status()]);
      this.runtimeVersion = `${v.runtime_name}://${v.runtime_version}`;
      const bad = st.conditions.filter((c) => !c.status);
      const extra = this.o.notReadyReason?.();
      if (bad.length) {
        const net = bad.find((c) => c.type === 'NetworkReady');
        const message = net
          ? `container runtime network not ready: NetworkReady=false reason:${net.reason} message:${net.message}`
          : `container runtime status check may not have completed yet: ${bad.map((c) => `${c.type}=false reason:${c.reason} message:${c.message}`).join(', ')}`;
        return { ready: false, message, images: [] };
      }
      if (extra) return { ready: false, message: extra, images: [] };
      const images = await this.o.runtime.listImages().catch(() => []);
      this.runtimeError = undefined;
      return { ready: true, message: 'kubelet is posting ready status', images };
    } catch (err) {
      this.runtimeError = String((err as Error).message ?? err);
      return { ready: false, message: `container runtime is down, PLEG is not healthy: ${this.runtimeError}`, images: [] };
    }
  }

  private condition(type: string, status: string, reason: string, message: string, heartbeat: string) {
    const prev = this.transitions.get(type);
    if (!prev || prev.status !== status) this.transitions.set(type, { status, at: heartbeat });
    return { type, status, lastHeartbeatTime: heartbeat, lastTransitionTime: this.transitions.get(type)!.at, reason, message };
  }

  async postStatus(force: boolean): Promise<void> {
    const rt = await this.runtimeState();
    const capacity = machineCapacity(this.o.rootDir, this.o.maxPods ?? 110);
    const t = nowRFC();
    const images = rt.images
      .map((i) => ({ names: [...(i.repo_digests ?? []), ...(i.repo_tags ?? [])], sizeBytes: Number(i.size ?? 0) }))
      .filter((i) => i.names.length)
      .sort((a, b) => b.sizeBytes - a.sizeBytes)
      .slice(0, 50);
    const v = versionInfo();
    const status = {
      capacity,
      allocatable: capacity,
      conditions: [
        this.condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', t),
        this.condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', t),
        this.condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', t),
        rt.ready ? this.condition('Ready', 'True', 'KubeletReady', rt.message, t) : this.condition('Ready', 'False', 'KubeletNotReady', rt.message, t),
      ],
      addresses: [
        { type: 'InternalIP', address: this.o.nodeIP },
        { type: 'Hostname', address: this.o.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort } },
      nodeInfo: {
        machineID: readOr('/etc/machine-id'),
        systemUUID: readOr('/sys/class/dmi/id/product_uuid', readOr('/etc/machine-id')),
        bootID: readOr('/proc/sys/kernel/random/boot_id'),
        kernelVersion: release(),
        osImage: osImage(),
        containerRuntimeVersion: this.runtimeVersion,
        kubeletVersion: v.gitVersion,
        kubeProxyVersion: v.gitVersion,
        operatingSystem: 'linux',
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      },
      images,
    };
    // Compare without the heartbeat times: post on change, or once a minute.
    const fingerprint = JSON.stringify({ ...status, conditions: status.conditions.map((c) => ({ ...c, lastHeartbeatTime: '' })) });
    const due = Date.now() - this.lastPostedAt >= (this.o.statusReportMs ?? 60_000);
    if (!force && fingerprint === this.lastPosted && !due) return;
    this.node = await this.o.client.resource(R.nodes).patch(undefined, this.o.nodeName, 'merge', { status }, { subresource: 'status' });
    this.lastPosted = fingerprint;
    this.lastPostedAt = Date.now();
  }
}

export { hostname };
