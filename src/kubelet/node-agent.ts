// Assembles a real node agent: credentials, the container runtime (its own containerd unless an
// endpoint is given), built-in and air-gapped images, the Node and its Lease, the pod network
// config for the node's podCIDR, and the pod loop with its helpers (images, volumes, env, probes,
// hooks, cgroups). `k8ts agent` and `k8ts server` (embedded agent) both call startNodeAgent.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../api/meta/v1.js';
import { Client } from '../client/client.js';
import { EventRecorder } from '../client/events.js';
import { R } from '../client/resources.js';
import { HttpTransport } from '../client/transport.js';
import type { AgentSettings } from '../cli/agent-flags.js';
import { agentRecordPath, type AgentRecord } from '../cli/down.js';
import { writePodNetworkConfig } from '../network/cni/pod-network-config.js';
import { CgroupManager } from './cm/cgroup-manager.js';
import { getPodQOS } from './cm/qos.js';
import type { Containerd } from './cri/containerd.js';
import { startRuntime } from './cri/start.js';
import { apiGetters, expandCommand, makeEnvironment } from './env/container-env.js';
import { PAUSE_IMAGE } from './images/builtin-images.js';
import { ImageManager } from './images/image-manager.js';
import { Kubelet } from './kubelet.js';
import { runHandler } from './lifecycle/hooks.js';
import { defaultNodeIP, machineCapacity, NodeStatusManager } from './node/node-status.js';
import { KubeletPaths } from './paths.js';
import { readTerminationMessage, terminationMessageHostFile } from './pod-files/termination-message.js';
import type { RuntimeContainer } from './pods/runtime-state.js';
import { latestByName, previousByName, RuntimeState } from './pods/runtime-state.js';
import { KubeletServer } from './server/kubelet-server.js';
import { HostGwRoutes } from '../network/routes/host-gw.js';
import { VxlanRoutes } from '../network/routes/vxlan.js';
import { NetworkPolicyController } from '../network/policy/controller.js';
import { ServiceProxy } from '../network/proxy/index.js';
import { StatsProvider } from './stats/summary.js';
import { ContainerLogRotator } from './logs/log-rotator.js';
import { resourceMetrics } from './stats/resource-metrics.js';
import { ProberManager } from './prober/manager.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import { VolumeManager } from './volumes/volume-manager.js';
import type { Logger as BaseLogger } from '../machinery/logger.js';

/** The agent's logger: the shared shape, plus pino's child loggers when there. */
export interface Logger extends BaseLogger {
  child?(b: Record<string, unknown>): Logger;
}

export interface NodeAgentOptions {
  /** <data-dir>/agent */
  agentDir: string;
  settings: AgentSettings;
  /** How to reach the API server as this node. */
  credentials: { server: string; ca: string; cert: string; key: string };
  /** The serving certificate of the kubelet's HTTPS port. */
  serving: { cert: string; key: string };
  log: Logger;
  signal: AbortSignal;
}

export interface NodeAgent {
  nodeName: string;
  runtime: ContainerRuntime;
  containerd?: Containerd;
  kubelet: Kubelet;
  stop(): Promise<void>;
}

async function waitForPodCIDR(client: Client, nodeName: string, fallback: string | undefined, signal: AbortSignal, log: Logger): Promise<string> {
  if (fallback) return fallback;
  for (let i = 0; !signal.aborted; i++) {
    const node = await client.resource(R.nodes).get(undefined, nodeName).catch(() => undefined);
    const cidr = node?.spec?.podCIDR;
    if (cidr) return cidr;
    if (i === 10) log.warn({ node: nodeName }, 'waiting for a podCIDR (is the node-ipam controller running? else pass --pod-cidr)');
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('stopped');
}

export async function startNodeAgent(o: NodeAgentOptions): Promise<NodeAgent> {
  const s = o.settings;
  const log = o.log;
  const paths = new KubeletPaths(o.agentDir);
  for (const d of [paths.agentDir, paths.kubeletDir, paths.podsDir, paths.logsDir, paths.imagesDir]) mkdirSync(d, { recursive: true });
  const nodeName = (s.nodeName ?? hostname()).toLowerCase();
  const nodeIP = s.nodeIP ?? defaultNodeIP();
  const record: AgentRecord = { bridge: s.cniBridge, cgroupRoot: s.cgroupRoot, cniNetwork: 'k8ts-pod-network', networkPolicy: s.networkPolicy, serviceProxy: s.serviceProxy, backend: s.backend };
  writeFileSync(agentRecordPath(paths.agentDir), JSON.stringify(record) + '\n');
  const transport = (ua: string) => new HttpTransport({ server: o.credentials.server, ca: o.credentials.ca, cert: o.credentials.cert, key: o.credentials.key, userAgent: ua });
  const client = new Client(transport(`kubelet/${nodeName}`), 'kubelet');
  const heartbeatClient = new Client(transport(`kubelet/${nodeName}`), 'kubelet');
  const recorder = new EventRecorder(client, 'kubelet', nodeName, (err) => log.debug({ err: String(err) }, 'event not recorded'));

  // The runtime: our own containerd, or one already running.
  const cniConfDir = join(paths.agentDir, 'cni', 'net.d');
  const dataDirRegistries = join(o.agentDir, '..', 'registries.yaml');
  const started = await startRuntime({
    paths,
    endpoint: s.runtimeEndpoint,
    registriesFile: s.registriesFile ?? (existsSync(dataDirRegistries) ? dataDirRegistries : undefined),
    cniConfDir,
    log: log.child?.({ component: 'containerd' }) ?? log,
  });
  const runtime = started.runtime;
  const containerd = started.containerd;
  const v = await runtime.version();
  log.info({ runtime: `${v.runtime_name}://${v.runtime_version}`, endpoint: runtime.endpoint }, 'container runtime ready');
  const cgroups = new CgroupManager({ root: s.cgroupRoot, nodeAllocatable: machineCapacity(paths.agentDir, s.maxPods), log });
  await cgroups.ensureRoot();

  // The Node, its heartbeat, and the pod network once the node has a podCIDR.
  let networkMessage: string | undefined = 'network plugin is not ready: waiting for the pod network configuration';
  const nodeStatus = new NodeStatusManager({
    client,
    runtime,
    nodeName,
    nodeIP,
    kubeletPort: s.kubeletPort,
    labels: s.labels,
    taints: s.taints,
    rootDir: paths.agentDir,
    maxPods: s.maxPods,
    notReadyReason: () => networkMessage,
    log,
  });
  await nodeStatus.register();
  void nodeStatus.run(o.signal);
  const podCIDR = await waitForPodCIDR(client, nodeName, s.podCIDR, o.signal, log);
  writePodNetworkConfig({ confDir: cniConfDir, ipamDataDir: join(paths.agentDir, 'cni', 'networks'), podCIDR, bridge: s.cniBridge, masquerade: s.podMasquerade });
  networkMessage = undefined;
  nodeStatus.poke();
  log.info({ podCIDR, bridge: s.cniBridge }, 'pod network configured');

  const getters = apiGetters(client);
  const images = new ImageManager({ runtime, recorder, log, sandboxImage: PAUSE_IMAGE });
  const allocatable = () => (nodeStatus.current?.status?.allocatable ?? {}) as Record<string, string>;
  const volumes = new VolumeManager({ paths, client, nodeName, log, recorder, allocatable });
  const podVolumes = new Map<string, Awaited<ReturnType<VolumeManager['setUpPod']>>>();
  let kubelet: Kubelet | undefined;
  const prober = new ProberManager({
    runtime,
    recorder,
    log,
    onResult: (uid) => kubelet?.poke(uid),
    onKill: (uid, _name, containerId, message, grace) => {
      killRequests.set(`${uid}/${containerId}`, { message, grace });
      kubelet?.poke(uid);
    },
  });
  const killRequests = new Map<string, { message: string; grace?: number }>();
  const termMessages = new Map<string, string>();
  const kubernetesService = async () => {
    const svc = await client.resource(R.services).get('default', 'kubernetes').catch(() => undefined);
    return { ip: svc?.spec?.clusterIP as string | undefined, port: svc?.spec?.ports?.[0]?.port as number | undefined };
  };
  const state = new RuntimeState(runtime);

  kubelet = new Kubelet({
    client,
    nodeName,
    nodeIP: () => nodeIP,
    recorder,
    state,
    log,
    probes: prober,
    refreshVolumes: async (pod) => {
      await volumes.refreshPod(pod, { nodeName, hostIP: nodeIP, podIP: pod.status?.podIP });
    },
    terminationMessage: (_pod, c) => termMessages.get(c.id),
    qosClass: (pod) => getPodQOS(pod),
    onRuntimeHealth: () => nodeStatus.poke(),
    staticPodPath: s.podManifestPath,
    nodeUID: () => nodeStatus.current?.metadata.uid,
    sync: {
      runtime,
      state,
      paths,
      dns: { clusterDNS: s.clusterDNS, clusterDomain: s.clusterDomain, resolvConf: s.resolvConf },
      recorder,
      log,
      ensureImage: async (pod, c) => {
        const secrets: KubeObject[] = [];
        for (const ref of pod.spec?.imagePullSecrets ?? []) {
          const sec = await getters.getSecret(pod.metadata.namespace!, ref.name).catch(() => undefined);
          if (sec) secrets.push(sec);
        }
        return (await images.ensureImage(pod, c, secrets)).imageRef;
      },
      setUpVolumes: async (pod) => {
        podVolumes.set(pod.metadata.uid!, await volumes.setUpPod(pod));
      },
      containerMounts: async (pod, c, env) => {
        let vols = podVolumes.get(pod.metadata.uid!);
        if (!vols) {
          vols = await volumes.setUpPod(pod);
          podVolumes.set(pod.metadata.uid!, vols);
        }
        const ip = state.get(pod.metadata.uid!)?.sandboxes[0]?.ip;
        const podIPs = pod.spec?.hostNetwork ? [nodeIP] : ip ? [ip] : [];
        return volumes.containerMounts(pod, c, vols, { env, hosts: { podIPs, clusterDomain: s.clusterDomain } });
      },
      tearDownVolumes: async (uid) => {
        podVolumes.delete(uid);
        await volumes.tearDownPod(uid);
      },
      environment: async (pod, c, podIP) => {
        const svc = await kubernetesService();
        const services = pod.spec?.enableServiceLinks === false ? [] : (await client.resource(R.services).list(pod.metadata.namespace).catch(() => ({ items: [] }))).items;
        return makeEnvironment(pod, c, {
          getters,
          services,
          masterServiceIP: svc.ip,
          masterServicePort: svc.port,
          allocatable: allocatable(),
          recorder,
          nodeName,
          podIP,
          podIPs: podIP ? [podIP] : [],
          hostIP: nodeIP,
          hostIPs: [nodeIP],
        });
      },
      expand: (list, env) => expandCommand(list, env) ?? [],
      ensurePodCgroup: (pod) => cgroups.ensurePod(pod),
      removePodCgroup: (uid) => cgroups.removePod(uid, { stray: 'kill' }),
      containerResources: (pod, c) => cgroups.containerResources(pod, c),
      runHook: (pod, c, id, handler, podIP) => runHandler(pod, c, id, handler, podIP || undefined, runtime, { recorder }),
      takeKillRequest: (uid, containerId) => {
        const key = `${uid}/${containerId}`;
        const m = killRequests.get(key);
        killRequests.delete(key);
        return m;
      },
    },
  });

  // Termination messages are read once per exited container, before its status is posted.
  const readMessages = async () => {
    for (const rp of state.all()) {
      const pod = kubelet!.listPods().find((p) => p.metadata.uid === rp.uid);
      if (!pod) continue;
      for (const c of rp.containers) await termMessage(pod, c);
    }
  };
  const termMessage = async (pod: KubeObject, c: RuntimeContainer) => {
    if (c.status.state !== 'CONTAINER_EXITED' || termMessages.has(c.id)) return;
    const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((x: any) => x.name === c.name);
    if (!spec) return;
    const msg = await readTerminationMessage(pod, spec, {
      hostFile: terminationMessageHostFile(spec, c.status.mounts ?? []),
      logPath: c.status.log_path,
      exitCode: c.status.exit_code,
    }).catch(() => '');
    termMessages.set(c.id, msg);
  };
  const msgTimer = setInterval(() => void readMessages().catch(() => undefined), 1_000);
  msgTimer.unref();

  const stats = new StatsProvider({
    nodeName,
    runtime,
    cgroups,
    paths,
    rootfsPath: paths.agentDir,
    pods: () => kubelet!.listPods(),
    sandboxes: () => new Map(state.all().filter((p) => p.sandboxes[0]?.ready).map((p) => [p.uid, { id: p.sandboxes[0].id }])),
    systemProcesses: { runtime: containerd?.pid },
    log,
  });
  stats.start(o.signal);
  const logRotator = new ContainerLogRotator({
    runtime,
    log,
    running: () => state.all().flatMap((p) => p.containers.filter((c) => c.status.state === 'CONTAINER_RUNNING' && c.status.log_path).map((c) => ({ id: c.id, logPath: c.status.log_path }))),
  });
  logRotator.start();
  images.startGarbageCollection(o.signal, { onError: (message) => log.warn({ err: message }, 'image garbage collection failed') });
  const kubeletServer = new KubeletServer({
    port: s.kubeletPort,
    tls: { cert: o.serving.cert, key: o.serving.key, ca: o.credentials.ca },
    log,
    deps: {
      runtime,
      listPods: () => kubelet!.listPods(),
      findPod: (ns, name) => {
        const pod = kubelet!.podByName(ns, name);
        if (!pod) return undefined;
        const sb = state.get(pod.metadata.uid!)?.sandboxes[0];
        return { pod, sandboxId: sb?.ready ? sb.id : undefined };
      },
      findContainer: async (ns, podName, container, previous) => {
        const pod = kubelet!.podByName(ns, podName);
        if (!pod) return `pod "${podName}" not found on node ${nodeName}`;
        const names = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...(pod.spec?.ephemeralContainers ?? [])].map((c: any) => c.name);
        const name = container ?? (pod.spec?.containers?.length === 1 ? pod.spec.containers[0].name : undefined);
        if (!name || !names.includes(name)) return `container ${name ?? ''} is not valid for pod ${podName}`;
        const uid = pod.metadata.uid!;
        await state.refreshPod(uid).catch(() => undefined);
        const rp = state.get(uid);
        // --previous is the status's lastState: the newest instance while the container waits to
        // restart (CrashLoopBackOff), else the one before the newest.
        const newest = latestByName(rp).get(name);
        const waitingAfterExit = newest?.status.state === 'CONTAINER_EXITED' && !!kubelet!.syncer.waiting(uid, name);
        const found = previous ? (waitingAfterExit ? newest : previousByName(rp, name)) : newest;
        if (!found) {
          if (previous) return `previous terminated container "${name}" in pod "${podName}" not found`;
          const w = kubelet!.syncer.waiting(uid, name);
          return `container "${name}" in pod "${podName}" is waiting to start: ${w?.reason ?? 'ContainerCreating'}`;
        }
        return { containerId: found.id, logPath: found.status.log_path };
      },
      statsSummary: () => stats.summary(),
      metrics: async () => resourceMetrics(await stats.summary().catch(() => undefined)),
    },
  });
  await kubeletServer.start();
  // NetworkPolicies, enforced in this node's FORWARD chain.
  if (s.networkPolicy) {
    const policies = new NetworkPolicyController({ client, nodeName, log: log.child?.({ component: 'network-policy' }) ?? log });
    void policies.run(o.signal).catch((err) => log.warn({ err: String(err) }, 'network policies not enforced'));
  }
  // Services: kube-proxy's iptables rules in this node's network namespace.
  if (s.serviceProxy) {
    const proxy = new ServiceProxy({ client, nodeName, nodeIPs: [nodeIP], log: log.child?.({ component: 'service-proxy' }) ?? log });
    void proxy.run(o.signal).catch((err) => log.warn({ err: String(err) }, 'service proxy stopped'));
  }
  // Routes to the other nodes' pods: host-gw, or a VXLAN overlay.
  const routes = s.backend === 'vxlan' ? new VxlanRoutes({ client, nodeName, nodeIP, podCIDR, log }) : new HostGwRoutes({ client, nodeName, log });
  void routes.run(o.signal).catch((err) => log.warn({ err: String(err) }, 'pod routes not synced'));
  void kubelet.run(o.signal);
  log.info({ node: nodeName, nodeIP, kubeletPort: s.kubeletPort }, 'node agent running');
  return {
    nodeName,
    runtime,
    containerd,
    kubelet,
    stop: async () => {
      clearInterval(msgTimer);
      logRotator.stop();
      prober.stop();
      runtime.close();
      client.close();
      heartbeatClient.close();
      await kubeletServer.stop().catch(() => undefined);
      // Pods keep running (as with k3s); `k8ts down` removes them.
      await started.stop();
    },
  };
}

