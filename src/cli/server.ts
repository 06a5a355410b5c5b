// `k8ts server`: certificates, datastore, API server, default objects, admin kubeconfig.

import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { builtinResources } from '../api/builtin.js';
import { bootstrapObjects } from '../apiserver/bootstrap.js';
import { ApiServer } from '../apiserver/server.js';
import { createAuthenticator } from '../apiserver/pki/authenticate.js';
import { writeKubeconfig } from '../apiserver/pki/kubeconfig.js';
import { ensureJoinToken, joinRoutes } from '../apiserver/pki/node-join.js';
import { ensurePKI, issueCert, tlsServerOptions } from '../apiserver/pki/pki.js';
import { saveCredentials } from '../kubelet/node/join.js';
import { defaultNodeIP } from '../kubelet/node/node-status.js';
import { startNodeAgent, type NodeAgent } from '../kubelet/node-agent.js';
import { DEFAULT_PUBLISHED_SERVICE, IngressController } from '../network/ingress/index.js';
import { startClusterDNS } from '../network/dns/run.js';
import { ServiceLBController } from '../network/proxy/index.js';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Client } from '../client/client.js';
import { EventRecorder } from '../client/events.js';
import { HttpTransport } from '../client/transport.js';
import { enabledControllers } from '../controllers/all.js';
import { defaultControllerSettings } from '../controllers/context.js';
import { ControllerManager } from '../controllers/manager.js';
import { runScheduler } from '../scheduler/run.js';
import { startCompactor } from '../storage/compactor.js';
import { openStore } from '../storage/open.js';
import { firstServiceIP, parseServerFlags, SERVER_HELP } from './flags.js';

export async function runServer(argv: string[]): Promise<void> {
  const flags = parseServerFlags(argv);
  if (flags === 'help') {
    process.stdout.write(SERVER_HELP);
    return;
  }
  const log = pino({ level: flags.logLevel, base: { component: 'k8ts-server' } }, pino.destination(2));
  const started = Date.now();
  mkdirSync(flags.dataDir, { recursive: true, mode: 0o700 });
  const serviceIP = firstServiceIP(flags.serviceClusterIPRange);
  // As upstream's --advertise-address: the bind address unless it is 0.0.0.0, then the machine's
  // (the embedded node's) address, so that pods reach the API through the kubernetes Service.
  const advertiseAddress = flags.advertiseAddress ?? (flags.bindAddress !== '0.0.0.0' ? flags.bindAddress : (flags.agent?.nodeIP ?? defaultNodeIP()));
  const pki = await ensurePKI({ dataDir: flags.dataDir, extraSANs: [serviceIP, advertiseAddress, ...flags.tlsSAN] });
  const store = await openStore({ dataDir: flags.dataDir, datastoreEndpoint: flags.datastoreEndpoint });
  // Unix socket paths are limited to 107 bytes.
  const socketPath = resolve(flags.dataDir, 'k8ts.sock');
  const localSocketPath = Buffer.byteLength(socketPath) < 100 ? socketPath : undefined;
  const authenticator = createAuthenticator({ tokenAuthFile: flags.tokenAuthFile });
  const joinToken = ensureJoinToken(flags.dataDir, pki.caCert);
  const server = new ApiServer({
    store,
    resources: builtinResources(),
    tls: tlsServerOptions(pki),
    kubeletClient: { cert: pki.kubeletClientCert, key: pki.kubeletClientKey, ca: pki.caCert },
    authenticate: (req) => authenticator.authenticate(req),
    port: flags.securePort,
    bindAddress: flags.bindAddress,
    localSocketPath,
    serviceClusterIPRange: flags.serviceClusterIPRange,
    serviceNodePortRange: flags.serviceNodePortRange,
    logger: log,
    extraRoutes: joinRoutes(pki, joinToken),
  });
  await server.start();
  await bootstrapObjects(server, { kubernetesServiceIP: serviceIP, endpointIP: advertiseAddress, securePort: server.port });
  const lifecycle = new AbortController();
  // Every informer, controller and the node agent listen for the end of the process on this one signal.
  setMaxListeners(200, lifecycle.signal);
  startCompactor(store, {
    intervalMs: flags.compactionIntervalMs,
    signal: lifecycle.signal,
    onError: (err) => log.warn({ err }, 'compaction failed'),
  });
  const kubeconfig = await writeKubeconfig({ dataDir: flags.dataDir, pki, server: `https://127.0.0.1:${server.port}` });
  server.markReady();
  // The scheduler and controller manager run in this process but talk to the API like any client.
  // In-process components use the local socket; TLS with the admin certificate if there is none.
  const clientConfig = localSocketPath
    ? { server: `https://127.0.0.1:${server.port}`, ca: pki.caCert, socketPath: localSocketPath }
    : { server: `https://127.0.0.1:${server.port}`, ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey };
  const controllers = enabledControllers(flags.disable, flags.controllers, { rootCACert: pki.caCert });
  if (controllers.length) {
    const client = new Client(new HttpTransport({ ...clientConfig, userAgent: 'kube-controller-manager' }), 'kube-controller-manager');
    const manager = new ControllerManager({
      client,
      controllers,
      log: log.child({ component: 'controller-manager' }),
      settings: {
        ...defaultControllerSettings(),
        clusterCIDR: flags.clusterCIDR,
        nodeCIDRMaskSize: flags.nodeCIDRMaskSize,
        nodeMonitorGracePeriodMs: flags.nodeMonitorGracePeriodMs,
        localStoragePath: flags.defaultLocalStoragePath,
      },
    });
    void manager.run(lifecycle.signal);
  }
  if (!flags.disable.includes('scheduler')) {
    const client = new Client(new HttpTransport({ ...clientConfig, userAgent: 'default-scheduler' }), 'default-scheduler');
    void runScheduler({ client, log: log.child({ component: 'scheduler' }) }, lifecycle.signal);
  }
  log.info({ port: server.port, dataDir: flags.dataDir, kubeconfig, datastore: flags.datastoreEndpoint ?? 'sqlite', ms: Date.now() - started }, 'k8ts server ready');

  // This machine's address for pods: the embedded node's, else the advertised one.
  const localNodeIP = flags.agent ? (flags.agent.nodeIP ?? defaultNodeIP()) : advertiseAddress;

  // Cluster DNS (CoreDNS's kubernetes plugin, in-process), published as kube-system/kube-dns.
  let clusterDNS: Awaited<ReturnType<typeof startClusterDNS>> | undefined;
  if (!flags.disable.includes('dns')) {
    try {
      clusterDNS = await startClusterDNS({
        client: new Client(new HttpTransport({ ...clientConfig, userAgent: 'k8ts-dns' }), 'k8ts-dns'),
        nodeIP: localNodeIP,
        port: flags.clusterDNSPort,
        metricsPort: flags.clusterDNSMetricsPort,
        serviceCIDR: flags.serviceClusterIPRange,
        log: log.child({ component: 'dns' }),
      });
      // Pods ask kube-dns's ClusterIP (the service proxy forwards it here), or this address when
      // the embedded node does not proxy Services.
      if (flags.agent && !flags.agent.clusterDNS.length) flags.agent.clusterDNS = [flags.agent.serviceProxy ? clusterDNS.clusterIP : localNodeIP];
    } catch (err) {
      log.error({ err: String(err) }, 'cluster DNS could not start (see --disable dns, --cluster-dns-port)');
    }
  }

  // The built-in LoadBalancer (like k3s's ServiceLB): LoadBalancer Services get the nodes' addresses.
  if (controllers.length) {
    const lbClient = new Client(new HttpTransport({ ...clientConfig, userAgent: 'k8ts-servicelb' }), 'k8ts-servicelb');
    const lb = new ServiceLBController({ client: lbClient, log: log.child({ component: 'servicelb' }), events: new EventRecorder(lbClient, 'service-lb-controller') });
    void lb.run(lifecycle.signal).catch((err) => log.warn({ err: String(err) }, 'service load balancer stopped'));
  }

  // The built-in Ingress controller, on this machine's ports 80/443 and, through its
  // LoadBalancer Service kube-system/k8ts-ingress, on every node's.
  let ingress: IngressController | undefined;
  if (!flags.disable.includes('ingress')) {
    ingress = new IngressController({
      client: new Client(new HttpTransport({ ...clientConfig, userAgent: 'k8ts-ingress' }), 'k8ts-ingress'),
      httpPort: flags.ingressHttpPort,
      httpsPort: flags.ingressHttpsPort,
      metricsPort: flags.ingressMetricsPort,
      bindAddress: flags.bindAddress,
      addresses: [localNodeIP],
      publish: DEFAULT_PUBLISHED_SERVICE,
      log: log.child({ component: 'ingress' }),
    });
    ingress.start().catch((err) => log.error({ err: String(err) }, 'the ingress controller could not start (see --disable ingress, --ingress-http-port)'));
  }

  // The embedded node agent: a node of its own, with credentials issued here (no join round trip).
  let agent: NodeAgent | undefined;
  if (flags.agent) {
    const settings = flags.agent;
    const nodeName = (settings.nodeName ?? hostname()).toLowerCase();
    const nodeIP = settings.nodeIP ?? defaultNodeIP();
    const agentLog = log.child({ component: 'agent' });
    void (async () => {
      const client = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: `system:node:${nodeName}`, groups: ['system:nodes'], usage: 'client' });
      const serving = await issueCert({ caCert: pki.caCert, caKey: pki.caKey, cn: nodeName, sans: [nodeName, 'localhost', '127.0.0.1', nodeIP], usage: 'server' });
      const server_ = `https://127.0.0.1:${server.port}`;
      saveCredentials(join(flags.dataDir, 'agent', 'tls'), { server: server_, ca: pki.caCert, clientCert: client.cert, clientKey: client.key, servingCert: serving.cert, servingKey: serving.key });
      agent = await startNodeAgent({
        agentDir: join(flags.dataDir, 'agent'),
        settings: { ...settings, nodeName, nodeIP },
        credentials: { server: server_, ca: pki.caCert, cert: client.cert, key: client.key },
        serving,
        log: agentLog,
        signal: lifecycle.signal,
      });
    })().catch((err) => agentLog.error({ err: String((err as Error)?.stack ?? err) }, 'the node agent could not start; the control plane keeps running (see --disable-agent)'));
  }

  let stopping = false;
  const shutdown = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    // Exit even if a step hangs (e.g. the log cannot be flushed because nobody reads stderr).
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10_000).unref();
    log.info({ signal: sig }, 'shutting down');
    lifecycle.abort();
    await agent?.stop().catch(() => undefined);
    await ingress?.stop().catch(() => undefined);
    await clusterDNS?.stop().catch(() => undefined);
    await server.stop();
    await store.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
