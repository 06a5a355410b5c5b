// k8ts's built-in Ingress controller: informers over Ingresses, IngressClasses, Services,
// EndpointSlices and Secrets feed a routing table and a certificate store; an HTTP and an HTTPS
// listener proxy to the endpoints; served Ingresses get the node's addresses in their status.
// Published as a LoadBalancer Service (published-service.ts), it answers on every node's 80/443.

import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { DEFAULT_INGRESS_CLASS_ANNOTATION, LEGACY_INGRESS_CLASS_ANNOTATION } from '../../api/builtin/networking-rbac.js';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { InformerFactory, type SharedInformer } from '../../client/informer.js';
import type { GVR } from '../../client/resources.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists } from '../../client/transport.js';
import { BackendPool, BY_SERVICE, sliceServiceKey } from './backends.js';
import { startMetricsServer, type MetricsServer } from '../metrics-endpoint.js';
import { IngressMetrics } from './metrics.js';
import { IngressProxy, rawErrorResponse } from './proxy.js';
import { ensurePublishedService, publishedObjects, type PublishedService } from './published-service.js';
import { buildRouteTable, matchRoute, type RouteTable } from './routing.js';
import { CertificateStore, selfSignedCertificate } from './tls.js';
import { type Logger } from '../../machinery/logger.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const INGRESSES: GVR = { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true };
export const INGRESS_CLASSES: GVR = { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', kind: 'IngressClass', namespaced: false };
export const CONTROLLER_NAME = 'k8ts.io/ingress';
export const DEFAULT_CLASS_ANNOTATION = DEFAULT_INGRESS_CLASS_ANNOTATION;
const LEGACY_CLASS_ANNOTATION = LEGACY_INGRESS_CLASS_ANNOTATION;

export type IngressLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface IngressControllerOptions {
  client: Client;
  /** 0 picks a free port (see `ports` after start). */
  httpPort?: number;
  httpsPort?: number;
  /** Serve /metrics and /healthz on this port (ingress-nginx: 10254); unset: none. */
  metricsPort?: number;
  bindAddress?: string;
  className?: string;
  log?: IngressLogger;
  /** The node's addresses, written to status.loadBalancer.ingress (IPs as ip, names as hostname). */
  addresses?: string[];
  /**
   * Publish the controller as this LoadBalancer Service (endpoints: the first address), so that
   * every node forwards its ports 80/443 here; Ingresses then report the Service's addresses.
   */
  publish?: PublishedService;
  /** Request header limit in bytes; larger requests get 431. */
  maxHeaderSize?: number;
  /** Endpoints tried per request when connections fail. */
  maxAttempts?: number;
  connectTimeoutMs?: number;
  readTimeoutMs?: number;
  /** Idle upstream connections kept per endpoint, and the cap on all upstream sockets. */
  maxFreeSockets?: number;
  maxTotalSockets?: number;
}

const consoleLogger: IngressLogger = {
  info: (o, m) => console.log(m ?? '', o),
  warn: (o, m) => console.warn(m ?? '', o),
  error: (o, m) => console.error(m ?? '', o),
};

export class IngressController {
  readonly className: string;
  private readonly client: Client;
  private readonly log: IngressLogger;
  private readonly opts: Required<Omit<IngressControllerOptions, 'client' | 'log' | 'bindAddress' | 'className' | 'publish' | 'metricsPort'>> & { bindAddress?: string; publish?: PublishedService; metricsPort?: number };
  private readonly informers: InformerFactory;
  private readonly ingresses: SharedInformer;
  private readonly classes: SharedInformer;
  private readonly services: SharedInformer;
  private readonly slices: SharedInformer;
  private readonly secrets: SharedInformer;
  private readonly backends: BackendPool;
  private readonly certs: CertificateStore;
  private readonly stats = new IngressMetrics();
  private readonly agent: http.Agent;
  private readonly proxy: IngressProxy;
  private readonly warned = new Set<string>();
  /** The configuration problems seen by the sync in progress. */
  private currentProblems?: Set<string>;
  private readonly abort = new AbortController();
  private table: RouteTable = buildRouteTable([]);
  private dirty = true;
  private syncScheduled = false;
  private statusRetry?: NodeJS.Timeout;
  /** The published Service's endpoints as last written (undefined: not yet, or not publishing). */
  private publishedSlice?: string;
  private publishing = false;
  private metricsServer?: MetricsServer;
  private httpServer?: http.Server;
  private httpsServer?: https.Server;
  private defaultContext?: SecureContext;

  constructor(o: IngressControllerOptions) {
    this.client = o.client;
    this.className = o.className ?? 'k8ts';
    this.log = o.log ?? consoleLogger;
    this.opts = {
      httpPort: o.httpPort ?? 80,
      httpsPort: o.httpsPort ?? 443,
      bindAddress: o.bindAddress,
      addresses: o.addresses ?? [],
      publish: o.publish,
      metricsPort: o.metricsPort,
      maxHeaderSize: o.maxHeaderSize ?? 16 * 1024,
      maxAttempts: o.maxAttempts ?? 3,
      connectTimeoutMs: o.connectTimeoutMs ?? 5_000,
      readTimeoutMs: o.readTimeoutMs ?? 60_000,
      maxFreeSockets: o.maxFreeSockets ?? 32,
      maxTotalSockets: o.maxTotalSockets ?? 1024,
    };
    this.informers = new InformerFactory(this.client, (gvr, e) => this.log.warn({ resource: gvr.plural, err: String(e) }, 'ingress controller: watch failed'));
    this.ingresses = this.informers.for(INGRESSES);
    this.classes = this.informers.for(INGRESS_CLASSES);
    this.services = this.informers.for(R.services);
    this.slices = this.informers.for(R.endpointslices).addIndex(BY_SERVICE, sliceServiceKey);
    this.secrets = this.informers.for(R.secrets);
    this.backends = new BackendPool(this.services.indexer, this.slices.indexer);
    this.certs = new CertificateStore(this.secrets.indexer, (k, m) => this.warnOnce(k, m));
    // Idle upstream connections close after 4s, before Node servers' 5s keep-alive timeout does.
    this.agent = new http.Agent({ keepAlive: true, maxFreeSockets: this.opts.maxFreeSockets, maxTotalSockets: this.opts.maxTotalSockets, scheduling: 'lifo', timeout: 4_000 });
    this.proxy = new IngressProxy({
      route: (host, path) => matchRoute(this.currentTable(), host, path),
      resolve: (b) => this.backends.resolve(b),
      order: (b, eps) => this.backends.order(b, eps),
      metrics: this.stats,
      agent: this.agent,
      warn: (k, m) => this.warnOnce(k, m),
      maxAttempts: this.opts.maxAttempts,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      readTimeoutMs: this.opts.readTimeoutMs,
      httpsPort: () => this.ports.https,
    });

    const onConfig = { add: () => this.changed(), update: () => this.changed(), delete: () => this.changed() };
    this.ingresses.addEventHandler(onConfig);
    this.classes.addEventHandler(onConfig);
    this.classes.addEventHandler({ delete: (c) => c.metadata.name === this.className && this.httpServer && void this.ensureIngressClass() });
    this.secrets.addEventHandler(onConfig);
    const onEndpoints = { add: () => this.endpointsChanged(), update: () => this.endpointsChanged(), delete: () => this.endpointsChanged() };
    this.services.addEventHandler(onEndpoints);
    this.slices.addEventHandler(onEndpoints);
  }

  /** The bound ports (useful with port 0); metrics is 0 without a metrics endpoint. */
  get ports(): { http: number; https: number; metrics: number } {
    return { http: (this.httpServer?.address() as AddressInfo | null)?.port ?? 0, https: (this.httpsServer?.address() as AddressInfo | null)?.port ?? 0, metrics: this.metricsServer?.address.port ?? 0 };
  }

  /** Starts the informers, ensures the IngressClass, and listens; resolves when serving. */
  async start(): Promise<void> {
    const { signal } = this.abort;
    this.informers.start(signal);
    const fake = await selfSignedCertificate();
    this.defaultContext = createSecureContext(fake);
    await this.informers.waitForSync();
    if (signal.aborted) return;
    await this.ensureIngressClass();

    const serverOpts = { maxHeaderSize: this.opts.maxHeaderSize, requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 75_000 };
    this.httpServer = http.createServer(serverOpts, (req, res) => this.proxy.handleRequest(req, res, 'http'));
    this.httpsServer = https.createServer(
      {
        ...serverOpts,
        cert: fake.cert,
        key: fake.key,
        SNICallback: (name, cb) => cb(null, this.contextFor(name)),
      },
      (req, res) => this.proxy.handleRequest(req, res, 'https'),
    );
    for (const [server, proto] of [
      [this.httpServer, 'http'],
      [this.httpsServer, 'https'],
    ] as const) {
      server.on('upgrade', (req, socket, head) => this.proxy.handleUpgrade(req, socket, head, proto));
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.clientError(err, socket));
    }
    try {
      await listen(this.httpServer, this.opts.httpPort, this.opts.bindAddress);
      await listen(this.httpsServer, this.opts.httpsPort, this.opts.bindAddress);
    } catch (e) {
      // e.g. EADDRINUSE, or EACCES on ports below 1024 without CAP_NET_BIND_SERVICE.
      await this.stop();
      throw e;
    }
    if (this.opts.metricsPort !== undefined) {
      const where = { host: this.opts.bindAddress ?? '0.0.0.0', port: this.opts.metricsPort };
      // Without its metrics endpoint (the port is taken, say) the controller still serves.
      this.metricsServer = await startMetricsServer({ render: () => this.metrics(), ...where, healthPath: '/healthz' }).catch((e: Error) => {
        this.log.warn({ err: e.message }, `ingress controller: no metrics endpoint on ${where.host}:${where.port}`);
        return undefined;
      });
    }
    await this.ensurePublished();
    this.sync();
    this.log.info({ ports: this.ports, className: this.className }, 'ingress controller serving');
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.statusRetry);
    const close = (s?: http.Server) =>
      new Promise<void>((r) => {
        if (!s?.listening) return r();
        s.close(() => r());
        s.closeAllConnections();
      });
    const closed = Promise.all([close(this.httpServer), close(this.httpsServer), this.metricsServer?.close()]);
    this.proxy.closeTunnels();
    await closed;
    this.agent.destroy();
  }

  /** Request counters in the Prometheus text format. */
  metrics(): string {
    return this.stats.render();
  }

  // ---- configuration -------------------------------------------------------------------------

  /** Whether this controller serves an Ingress (by spec.ingressClassName, the legacy annotation, or the default class). */
  serves(ing: KubeObject): boolean {
    const cls = (ing as Obj).spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
    if (cls) return cls === this.className;
    return this.classes.indexer.get(this.className)?.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true';
  }

  private servedIngresses(): KubeObject[] {
    return this.ingresses.indexer.list().filter((i) => this.serves(i));
  }

  private changed(): void {
    this.dirty = true;
    this.scheduleSync();
  }

  private endpointsChanged(): void {
    this.backends.invalidate();
    this.scheduleSync();
  }

  private currentTable(): RouteTable {
    if (this.dirty) {
      this.dirty = false;
      const served = this.servedIngresses();
      this.table = buildRouteTable(served);
      this.certs.setIngresses(served);
      this.certs.prune();
    }
    return this.table;
  }

  private contextFor(name: string): SecureContext | undefined {
    this.currentTable();
    try {
      return this.certs.contextFor(name) ?? this.defaultContext;
    } catch {
      return this.defaultContext;
    }
  }

  /** Coalesces bursts of events into one pass: report problems and write statuses. */
  private scheduleSync(): void {
    if (this.syncScheduled || this.abort.signal.aborted || !this.httpServer) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      this.sync();
    });
  }

  private sync(): void {
    if (this.abort.signal.aborted) return;
    this.currentProblems = new Set();
    this.currentTable();
    this.certs.validate();
    const served = this.servedIngresses();
    for (const ing of served) {
      const spec = (ing as Obj).spec ?? {};
      const backends = [spec.defaultBackend, ...((spec.rules ?? []) as Obj[]).flatMap((r) => ((r.http?.paths ?? []) as Obj[]).map((p) => p.backend))];
      for (const b of backends) {
        if (!b?.service?.name) continue;
        const ref = { namespace: ing.metadata.namespace!, ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, service: b.service.name, port: b.service.port ?? {} };
        const r = this.backends.resolve(ref);
        if (r.ok) continue;
        const key = `backend:${ref.ingress}:${r.message}`;
        // Missing endpoints are routine (pods starting): logged when a request meets them.
        if (r.reason === 'NoEndpoints') this.currentProblems?.add(key);
        else this.warnOnce(key, `ingress "${ref.ingress}": ${r.message}`);
      }
    }
    this.forgetSolvedProblems();
    // Someone changed or deleted the published endpoints: put them back.
    if (this.publishedSlice !== undefined && this.publishedSliceInCache() !== this.publishedSlice) void this.ensurePublished();
    void this.updateStatuses(served);
  }

  private publishTarget() {
    const address = this.opts.addresses.find((a) => isIP(a) === 4);
    return this.opts.publish && address ? { svc: this.opts.publish, target: { address, httpPort: this.ports.http, httpsPort: this.ports.https } } : undefined;
  }

  private publishedSliceInCache(): string {
    const p = this.opts.publish!;
    const s = this.slices.indexer.get(`${p.namespace}/${p.name}`) as Obj | undefined;
    return JSON.stringify([s?.endpoints, s?.ports]);
  }

  /** Writes the published Service and its endpoints (single-flight; retried while failing). */
  private async ensurePublished(): Promise<void> {
    const p = this.publishTarget();
    if (!p || this.publishing || this.abort.signal.aborted) return;
    this.publishing = true;
    try {
      await ensurePublishedService(this.client, p.svc, p.target, { createService: this.publishedSlice === undefined });
      const { slice } = publishedObjects(p.svc, p.target);
      this.publishedSlice = JSON.stringify([(slice as Obj).endpoints, (slice as Obj).ports]);
    } catch (e) {
      if (this.abort.signal.aborted) return;
      this.log.warn({ err: String(e), service: `${p.svc.namespace}/${p.svc.name}` }, 'ingress controller: cannot publish its Service, retrying');
      setTimeout(() => void this.ensurePublished(), 5_000).unref();
    } finally {
      this.publishing = false;
    }
  }

  /** Problems fixed since they were logged may be logged again if they come back. */
  private forgetSolvedProblems(): void {
    const current = this.currentProblems!;
    this.currentProblems = undefined;
    for (const k of this.warned) if ((k.startsWith('backend:') || k.startsWith('secret:')) && !current.has(k)) this.warned.delete(k);
  }

  private warnOnce(key: string, message: string): void {
    this.currentProblems?.add(key);
    if (this.warned.has(key)) return;
    if (this.warned.size > 10_000) this.warned.clear();
    this.warned.add(key);
    this.log.warn({ controller: 'ingress' }, message);
  }

  private async ensureIngressClass(): Promise<void> {
    if (this.classes.indexer.get(this.className)) return;
    const otherDefault = this.classes.indexer.list().some((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
    try {
      await this.client.resource(INGRESS_CLASSES).create(undefined, {
        metadata: { name: this.className, annotations: otherDefault ? {} : { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
        spec: { controller: CONTROLLER_NAME },
      } as KubeObject);
      this.log.info({ name: this.className, default: !otherDefault }, 'created IngressClass');
    } catch (e) {
      if (!isAlreadyExists(e)) this.log.error({ err: String(e) }, `ingress controller: cannot create IngressClass ${this.className}`);
    }
  }

  /** The published Service's load balancer addresses once it has some, else this controller's own. */
  private desiredLoadBalancer(): Obj[] {
    const p = this.opts.publish;
    const published = p ? ((this.services.indexer.get(`${p.namespace}/${p.name}`) as Obj | undefined)?.status?.loadBalancer?.ingress as Obj[] | undefined) : undefined;
    if (published?.length) return published.map((i) => (i.ip ? { ip: i.ip } : { hostname: i.hostname }));
    return this.opts.addresses.map((a) => (isIP(a) ? { ip: a } : { hostname: a }));
  }

  private async updateStatuses(served: KubeObject[]): Promise<void> {
    const desired = this.desiredLoadBalancer();
    if (!desired.length) return;
    const want = JSON.stringify(desired);
    let failed = false;
    for (const ing of served) {
      if (JSON.stringify((ing as Obj).status?.loadBalancer?.ingress ?? []) === want) continue;
      try {
        await this.client.resource(INGRESSES).patch(ing.metadata.namespace, ing.metadata.name!, 'merge', { status: { loadBalancer: { ingress: desired } } }, { subresource: 'status' });
      } catch (e) {
        if (this.abort.signal.aborted) return;
        failed = true;
        this.log.warn({ ingress: `${ing.metadata.namespace}/${ing.metadata.name}`, err: String(e) }, 'ingress controller: status update failed');
      }
    }
    if (failed && !this.statusRetry) {
      this.statusRetry = setTimeout(() => {
        this.statusRetry = undefined;
        this.scheduleSync();
      }, 5_000);
      this.statusRetry.unref();
    }
  }

  private clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    this.stats.countRequest({ namespace: '', ingress: '', service: '', status });
    socket.end(rawErrorResponse(status));
  }
}

function listen(server: http.Server, port: number, host?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
