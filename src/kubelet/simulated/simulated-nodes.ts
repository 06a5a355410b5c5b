// Simulated nodes (like KWOK): Node objects with capacity and labels, a Lease renewed as the
// kubelet's heartbeat, and pods bound to them reported Running and Ready without any process.
// Many nodes share one process and one pod informer, so thousands cost little. Scale-test tool
// only: the real node agent runs containers through the CRI.
//
// Pods that should finish declare it with annotations (see README):
//   sim.k8ts.io/exit-after: "3s"   the containers exit this long after starting
//   sim.k8ts.io/exit-code: "1"     with this exit code (default 0)

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer, byNodeName } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import { durationToMillis, parseDuration } from '../../machinery/duration.js';
import { versionInfo } from '../../apiserver/version.js';
import { renewNodeLease } from '../node/lease.js';
import type { Logger } from '../../machinery/logger.js';

export const EXIT_AFTER = 'sim.k8ts.io/exit-after';
export const EXIT_CODE = 'sim.k8ts.io/exit-code';

export interface SimulatedNodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  capacity?: Record<string, string>;
}

export interface SimulatedNodesOptions {
  client: Client;
  /**
   * A separate client (own connections) for Leases and node status, so thousands of heartbeats
   * never queue pod status writes behind them, nor the other way round. Default: `client`.
   */
  heartbeatClient?: Client;
  nodes: SimulatedNodeSpec[];
  /** Lease renew interval (upstream: 10 s; lease duration 40 s). */
  leaseRenewMs?: number;
  /** Delay between binding and reporting Running (default 0). */
  startDelayMs?: number;
  workers?: number;
  log?: Pick<Logger, 'warn' | 'debug'>;
}

const nowRFC = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const DEFAULT_CAPACITY = { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' };

interface NodeState {
  spec: SimulatedNodeSpec;
  internalIP: string;
  nextPodIP: number;
  podCIDR?: string;
}

export class SimulatedNodes {
  private readonly nodes = new Map<string, NodeState>();
  private readonly pods: SharedInformer;
  private readonly queue = new WorkQueue<string>({ baseDelayMs: 100, maxDelayMs: 10_000 });
  private readonly exitTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly o: SimulatedNodesOptions) {
    o.nodes.forEach((spec, i) => this.nodes.set(spec.name, { spec, internalIP: `172.30.${(i >> 8) & 255}.${(i & 255) + 1}`, nextPodIP: 2 }));
    // One node: let the server filter. Many: one stream of all pods, filtered here.
    const fieldSelector = o.nodes.length === 1 ? `spec.nodeName=${o.nodes[0].name}` : undefined;
    this.pods = new SharedInformer(o.client, R.pods, { fieldSelector, onError: (err) => o.log?.warn({ err: String(err) }, 'pod informer: watch ended, resuming') });
    this.pods.addIndex('node', byNodeName);
    const enqueue = (p: KubeObject) => {
      if (p.spec?.nodeName && this.nodes.has(p.spec.nodeName)) this.queue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    };
    this.pods.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n) });
  }

  private get heartbeats_(): Client {
    return this.o.heartbeatClient ?? this.o.client;
  }

  get nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => {
      this.queue.shutdown();
      for (const t of this.exitTimers.values()) clearTimeout(t);
    }, { once: true });
    await this.registerAll(signal);
    void this.pods.run(signal);
    void this.heartbeats(signal);
    await this.pods.waitForSync();
    await runWorkers(this.queue, this.o.workers ?? 16, (key) => this.syncPod(key), (key, err) => this.o.log?.debug({ err, key }, 'simulated pod sync retry'));
  }

  private nodeObject(st: NodeState): KubeObject {
    const { name } = st.spec;
    const capacity = { ...DEFAULT_CAPACITY, ...(st.spec.capacity ?? {}) };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'beta.kubernetes.io/os': 'linux',
          'beta.kubernetes.io/arch': 'amd64',
          'node.k8ts.io/simulated': 'true',
          ...(st.spec.labels ?? {}),
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: st.spec.taints?.length ? { taints: st.spec.taints } : {},
    };
  }

  private nodeStatus(st: NodeState): Record<string, unknown> {
    const capacity = { ...DEFAULT_CAPACITY, ...(st.spec.capacity ?? {}) };
    const t = nowRFC();
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: t, lastTransitionTime: t, reason, message });
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status (simulated)'),
      ],
      addresses: [
        { type: 'InternalIP', address: st.internalIP },
        { type: 'Hostname', address: st.spec.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: '',
        systemUUID: '',
        bootID: '',
        kernelVersion: 'simulated',
        osImage: 'k8ts simulated node',
        containerRuntimeVersion: 'simulated://1.0.0',
        kubeletVersion: versionInfo().gitVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    };
  }

  /** Creates (or takes over) each Node and reports it Ready. */
  private async registerAll(signal: AbortSignal): Promise<void> {
    const nodes = this.o.client.resource(R.nodes);
    const all = [...this.nodes.values()];
    let i = 0;
    const worker = async () => {
      while (i < all.length && !signal.aborted) {
        const st = all[i++];
        for (let attempt = 0; ; attempt++) {
          try {
            let node: KubeObject;
            try {
              node = await nodes.create(undefined, this.nodeObject(st));
            } catch (e) {
              if (!isAlreadyExists(e)) throw e;
              node = await nodes.get(undefined, st.spec.name);
            }
            st.podCIDR = node.spec?.podCIDR;
            await nodes.patch(undefined, st.spec.name, 'merge', { status: this.nodeStatus(st) }, { subresource: 'status' });
            await this.renewLease(st);
            break;
          } catch (e) {
            if (signal.aborted || attempt > 20) throw e;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, all.length) }, worker));
  }

  private renewLease(st: NodeState): Promise<void> {
    return renewNodeLease(this.heartbeats_, st.spec.name);
  }

  /** Renews every node's Lease each interval (spread over the interval) and refreshes status. */
  private async heartbeats(signal: AbortSignal): Promise<void> {
    const every = this.o.leaseRenewMs ?? 10_000;
    let round = 0;
    while (!signal.aborted) {
      const all = [...this.nodes.values()];
      const gap = every / Math.max(1, all.length);
      const started = Date.now();
      for (let i = 0; i < all.length && !signal.aborted; i++) {
        const wait = started + i * gap - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const st = all[i];
        this.renewLease(st).catch((err) => this.o.log?.warn({ err, node: st.spec.name }, 'lease renewal failed'));
        // Node status (conditions' heartbeat) every 6th round, as the kubelet's slower report.
        if (round % 6 === 5 || !st.podCIDR) void this.refreshNode(st).catch(() => undefined);
      }
      round++;
      const rest = started + every - Date.now();
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  }

  private async refreshNode(st: NodeState): Promise<void> {
    const nodes = this.heartbeats_.resource(R.nodes);
    const node = await nodes.patch(undefined, st.spec.name, 'merge', { status: this.nodeStatus(st) }, { subresource: 'status' });
    st.podCIDR = node.spec?.podCIDR;
  }

  private podIP(st: NodeState): string {
    const n = st.nextPodIP++;
    if (st.podCIDR) {
      const [base] = st.podCIDR.split('/');
      const p = base.split('.').map(Number);
      return `${p[0]}.${p[1]}.${p[2]}.${(n % 253) + 2}`;
    }
    const i = [...this.nodes.keys()].indexOf(st.spec.name);
    return `10.244.${i & 255}.${(n % 253) + 2}`;
  }

  private async syncPod(key: string): Promise<void> {
    const pod = this.pods.indexer.get(key);
    if (!pod) return;
    const st = this.nodes.get(pod.spec?.nodeName);
    if (!st) return;
    const pods = this.o.client.resource(R.pods);
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    if (pod.metadata.deletionTimestamp) {
      // The containers "stop" at once; the kubelet then removes the pod for good.
      this.clearExit(key);
      try {
        await pods.delete(ns, name, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      } catch (e) {
        if (!(isNotFound(e) || (e instanceof ApiError && e.code === 409))) throw e;
      }
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (phase !== 'Running') {
      // Pod IPs come from the node's podCIDR, which node IPAM may have assigned after registration.
      if (!st.podCIDR) st.podCIDR = (await this.o.client.resource(R.nodes).get(undefined, st.spec.name)).spec?.podCIDR;
      if (this.o.startDelayMs) await new Promise((r) => setTimeout(r, this.o.startDelayMs));
      await this.writeStatus(pod, this.runningStatus(pod, st, 0));
      this.scheduleExit(pod);
      return;
    }
    if (!this.exitTimers.has(key)) this.scheduleExit(pod);
  }

  private async writeStatus(pod: KubeObject, status: Record<string, unknown>): Promise<void> {
    try {
      await this.o.client.resource(R.pods).patch(pod.metadata.namespace, pod.metadata.name!, 'merge', { metadata: { uid: pod.metadata.uid }, status }, { subresource: 'status' });
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return;
      throw e;
    }
  }

  private runningStatus(pod: KubeObject, st: NodeState, restarts: number): Record<string, unknown> {
    const t = nowRFC();
    const started = pod.status?.startTime ?? t;
    const cond = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: t });
    const containers = (pod.spec?.containers ?? []) as { name: string; image: string }[];
    const inits = (pod.spec?.initContainers ?? []) as { name: string; image: string }[];
    return {
      phase: 'Running',
      hostIP: st.internalIP,
      hostIPs: [{ ip: st.internalIP }],
      podIP: pod.status?.podIP ?? this.podIP(st),
      podIPs: undefined,
      startTime: started,
      qosClass: pod.status?.qosClass,
      conditions: [cond('PodReadyToStartContainers'), cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
      initContainerStatuses: inits.length
        ? inits.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: `sim://${c.image}`,
            containerID: `sim://${pod.metadata.uid}/${c.name}`,
            ready: true,
            started: false,
            restartCount: 0,
            state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: t } },
          }))
        : undefined,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `sim://${c.image}`,
        containerID: `sim://${pod.metadata.uid}/${c.name}`,
        ready: true,
        started: true,
        restartCount: restarts,
        state: { running: { startedAt: t } },
      })),
    };
  }

  private clearExit(key: string): void {
    const t = this.exitTimers.get(key);
    if (t) clearTimeout(t);
    this.exitTimers.delete(key);
  }

  /** Pods annotated to exit: finish them after the given time, as their restartPolicy says. */
  private scheduleExit(pod: KubeObject): void {
    const after = pod.metadata.annotations?.[EXIT_AFTER];
    if (after === undefined) return;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    let ms = 0;
    try {
      ms = Math.max(0, durationToMillis(parseDuration(after)));
    } catch {
      ms = 0;
    }
    const code = Number(pod.metadata.annotations?.[EXIT_CODE] ?? '0') || 0;
    this.clearExit(key);
    const t = setTimeout(() => {
      this.exitTimers.delete(key);
      void this.exit(key, code).catch((err) => this.o.log?.warn({ err, pod: key }, 'simulated exit failed'));
    }, ms);
    this.exitTimers.set(key, t);
  }

  private async exit(key: string, code: number): Promise<void> {
    const pod = this.pods.indexer.get(key);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const st = this.nodes.get(pod.spec?.nodeName);
    if (!st) return;
    const policy = pod.spec?.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    const restarts = ((pod.status?.containerStatuses?.[0]?.restartCount as number) ?? 0) + (restart ? 1 : 0);
    if (restart) {
      await this.writeStatus(pod, this.runningStatus(pod, st, restarts));
      this.scheduleExit(pod);
      return;
    }
    const t = nowRFC();
    const reason = code === 0 ? 'Completed' : 'Error';
    const notReady = (type: string) => ({ type, status: 'False', lastProbeTime: null, lastTransitionTime: t, reason: 'PodCompleted' });
    await this.writeStatus(pod, {
      phase: code === 0 ? 'Succeeded' : 'Failed',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'False', lastProbeTime: null, lastTransitionTime: t },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: t, reason: 'PodCompleted' },
        notReady('Ready'),
        notReady('ContainersReady'),
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: t },
      ],
      containerStatuses: ((pod.spec?.containers ?? []) as { name: string; image: string }[]).map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `sim://${c.image}`,
        containerID: `sim://${pod.metadata.uid}/${c.name}`,
        ready: false,
        started: false,
        restartCount: restarts,
        state: { terminated: { exitCode: code, reason, startedAt: pod.status?.startTime ?? t, finishedAt: t, containerID: `sim://${pod.metadata.uid}/${c.name}` } },
      })),
    });
  }
}
