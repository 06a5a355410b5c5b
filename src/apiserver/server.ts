// The API server: HTTPS, authentication, routing to discovery, OpenAPI, health and the REST
// handlers of every registered resource. Request flow: authenticate → route → decode →
// (admission: later) → validate → storage → encode.

import { chmodSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject } from '../api/meta/v1.js';
import { ResourceRegistry } from '../api/registry.js';
import type { ResourceDef } from '../api/resource.js';
import { StatusError } from '../machinery/errors.js';
import type { Store } from '../storage/store.js';
import { CacheDispatcher } from './cache-dispatcher.js';
import type { RequestContext, UserInfo } from './context.js';
import { Discovery } from './discovery.js';
import { negotiate } from './http/negotiate.js';
import { OpenAPIService } from './openapi-service.js';
import { bindingAction } from './registry/pod-binding.js';
import { evictionAction } from './registry/pod-eviction.js';
import { ServiceAllocator } from './registry/service-allocator.js';
import { ResourceHandler, warningHeaders, type CreateAction } from './rest/handler.js';
import { resourcePrefix } from './rest/keys.js';
import { ListWatch } from './rest/list-watch.js';
import { ResourceStore, type WriteHooks } from './rest/resource-store.js';
import { versionInfo } from './version.js';
import type { KubeletClientConfig } from './streaming/kubelet-client.js';
import { matchStreamingRoute, StreamingRoutes } from './streaming/streaming-routes.js';
import { statusText, writeRawResponse } from '../machinery/httpstream/upgrade-proxy.js';
import { admitIngressClass } from './admission/default-ingress-class.js';
import { admitPodPriority } from './admission/priority.js';
import type { Logger } from '../machinery/logger.js';

export interface Authenticate {
  (req: IncomingMessage): UserInfo | undefined;
}

export interface ApiServerOptions {
  store: Store;
  resources: ResourceDef[];
  /** TLS options for https.createServer (cert, key, ca, requestCert...). */
  tls: { cert: string; key: string; ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean; minVersion?: 'TLSv1.2' | 'TLSv1.3' };
  authenticate: Authenticate;
  port: number;
  bindAddress?: string;
  /**
   * A Unix socket (mode 0600) serving plain HTTP to the components in this process (controller
   * manager, scheduler): no TLS on the hottest connections. Who can open it is root or the
   * server's own user, so requests on it act as the `system:kube-controller-manager`-like
   * internal user in group system:masters.
   */
  localSocketPath?: string;
  /** Service ClusterIP range (default 10.43.0.0/16). */
  serviceClusterIPRange?: string;
  /** Service NodePort range (default 30000-32767). */
  serviceNodePortRange?: string;
  logger?: Pick<Logger, 'info' | 'error' | 'warn'>;
  /** Credentials for kubelets (pods/log, exec, attach, portforward, nodes/proxy). */
  kubeletClient?: KubeletClientConfig;
  /** k8ts's own endpoints that authenticate by themselves (node join), served before authentication. */
  extraRoutes?: Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>;
}

/** Paths that upstream's default RBAC lets anyone read (system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/']);

interface ResourceEntry {
  def: ResourceDef;
  store: ResourceStore;
  handler: ResourceHandler;
  listWatch: ListWatch;
}

export class ApiServer {
  readonly registry: ResourceRegistry;
  readonly dispatcher: CacheDispatcher;
  private readonly entries = new Map<string, ResourceEntry>();
  private readonly discovery: Discovery;
  private readonly openapi: OpenAPIService;
  private server?: Server;
  private localServer?: import('node:http').Server;
  private openWatches = 0;
  private ready = false;
  private readonly sockets = new Set<import('node:stream').Duplex>();
  readonly serviceAllocator: ServiceAllocator;
  private readonly streaming: StreamingRoutes;

  constructor(private readonly opts: ApiServerOptions) {
    this.registry = new ResourceRegistry();
    this.dispatcher = new CacheDispatcher(opts.store);
    const services = () => this.dispatcher.cacheFor('/registry/services/');
    this.serviceAllocator = new ServiceAllocator({
      clusterIPRange: opts.serviceClusterIPRange ?? '10.43.0.0/16',
      nodePortRange: opts.serviceNodePortRange ?? '30000-32767',
      services: () => services().list('/registry/services/').map((c) => c.obj),
      revision: () => services().revision,
    });
    this.discovery = new Discovery(this.registry, () => `${this.advertiseHost()}:${this.port}`);
    this.openapi = new OpenAPIService(this.registry);
    for (const def of opts.resources) this.addResource(def);
    this.streaming = new StreamingRoutes({
      getPod: (ns, name) => this.resourceStore('', 'v1', 'pods').get(ns, name),
      getNode: (name) => this.resourceStore('', 'v1', 'nodes').get(undefined, name),
      getService: (ns, name) => this.resourceStore('', 'v1', 'services').get(ns, name),
      getEndpoints: (ns, name) => this.resourceStore('', 'v1', 'endpoints').get(ns, name).catch(() => undefined),
      kubelet: opts.kubeletClient,
    });
  }

  private advertiseHost(): string {
    return this.opts.bindAddress && this.opts.bindAddress !== '0.0.0.0' ? this.opts.bindAddress : '127.0.0.1';
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  get watchCount(): number {
    return this.openWatches;
  }

  addResource(def: ResourceDef): void {
    this.registry.add(def);
    const cache = this.dispatcher.cacheFor(resourcePrefix(def));
    const store = new ResourceStore(def, { store: this.opts.store, namespaces: { get: (n) => this.namespace(n) }, hooks: this.writeHooks(def) });
    const listWatch = new ListWatch(def, this.opts.store, cache);
    const handler = new ResourceHandler({
      def,
      store,
      listWatch,
      createActions: this.createActions(def),
      onWatchStart: () => {
        this.openWatches++;
        return () => this.openWatches--;
      },
    });
    this.entries.set(`${def.group}/${def.version}/${def.plural}`, { def, store, handler, listWatch });
  }

  /** Kind-specific steps around writes: admission (Priority, DefaultIngressClass), Service IP and NodePort allocation. */
  private writeHooks(def: ResourceDef): WriteHooks | undefined {
    if (def.group === '' && def.plural === 'pods') {
      return { admitCreate: (pod) => admitPodPriority(pod, (name) => this.dispatcher.cacheFor('/registry/priorityclasses/').get(`/registry/priorityclasses/${name}`)?.obj, () => this.dispatcher.cacheFor('/registry/priorityclasses/').list('/registry/priorityclasses/').map((c) => c.obj)) };
    }
    if (def.group === 'networking.k8s.io' && def.plural === 'ingresses') {
      const prefix = '/registry/ingressclasses/';
      return { admitCreate: (ing) => admitIngressClass(ing, () => this.dispatcher.cacheFor(prefix).list(prefix).map((c) => c.obj)) };
    }
    if (def.group !== '' || def.plural !== 'services') return undefined;
    const alloc = this.serviceAllocator;
    // Before allocating, the services cache catches up with the store, so values freed by a
    // delete that has returned (e.g. `kubectl replace --force`) are free for the next create.
    const catchUp = async () => this.dispatcher.cacheFor('/registry/services/').waitForRevision(await this.opts.store.currentRevision());
    return {
      beginCreate: async (obj, o) => {
        await catchUp();
        return alloc.allocateCreate(obj, o.dryRun);
      },
      beginUpdate: async (next, old, o) => {
        await catchUp();
        return alloc.allocateUpdate(next, old, o.dryRun);
      },
    };
  }

  /** POST endpoints served by code: pods/binding, pods/eviction and the bindings resource. */
  private createActions(def: ResourceDef): Record<string, CreateAction> | undefined {
    if (def.group !== '') return undefined;
    const pods = () => this.resourceStore('', 'v1', 'pods');
    if (def.plural === 'bindings') return { '': (r, b, o) => bindingAction(pods())(r, b, o) };
    if (def.plural !== 'pods') return undefined;
    return {
      binding: (r, b, o) => bindingAction(pods())(r, b, o),
      eviction: (r, b, o) => evictionAction({ pods: pods(), pdbs: this.resourceStore('policy', 'v1', 'poddisruptionbudgets'), store: this.opts.store })(r, b, o),
    };
  }

  /** The REST store of a resource (used in-process by bootstrap and controllers' transport). */
  resourceStore(group: string, version: string, plural: string): ResourceStore {
    const e = this.entries.get(`${group}/${version}/${plural}`);
    if (!e) throw new Error(`no resource ${group}/${version}/${plural}`);
    return e.store;
  }

  private namespace(name: string): KubeObject | undefined {
    const cache = this.dispatcher.cacheFor('/registry/namespaces/');
    return cache.get(`/registry/namespaces/${name}`)?.obj;
  }

  async start(): Promise<void> {
    await this.dispatcher.start();
    await Promise.all(this.opts.resources.map((d) => this.dispatcher.cacheFor(resourcePrefix(d)).start()));
    this.server = createHttpsServer({ ...this.opts.tls }, (req, res) => void this.serve(req, res));
    this.server.keepAliveTimeout = 65_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.server.on('upgrade', (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void this.serveUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port, this.opts.bindAddress ?? '0.0.0.0', () => resolve());
    });
    if (this.opts.localSocketPath) {
      const path = this.opts.localSocketPath;
      rmSync(path, { force: true });
      const internal: UserInfo = { username: 'system:k8ts-internal', groups: ['system:masters', 'system:authenticated'] };
      this.localServer = createHttpServer((req, res) => void this.serve(req, res, internal));
      this.localServer.on('upgrade', (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void this.serveUpgrade(req, socket, head, internal));
      this.localServer.keepAliveTimeout = 65_000;
      this.localServer.on('connection', (s) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        this.localServer!.once('error', reject);
        // Created with no access for others, then opened to the owner only.
        const mask = process.umask(0o077);
        this.localServer!.listen(path, () => {
          process.umask(mask);
          chmodSync(path, 0o600);
          resolve();
        });
      });
    }
  }

  markReady(): void {
    this.ready = true;
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.dispatcher.stop();
    if (this.server) {
      const closed = [new Promise<void>((resolve) => this.server!.close(() => resolve()))];
      if (this.localServer) closed.push(new Promise<void>((resolve) => this.localServer!.close(() => resolve())));
      for (const s of this.sockets) s.destroy();
      await Promise.all(closed);
      if (this.opts.localSocketPath) rmSync(this.opts.localSocketPath, { force: true });
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse, localUser?: UserInfo): Promise<void> {
    const ctx: RequestContext = { userAgent: String(req.headers['user-agent'] ?? ''), warnings: [] };
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      const extra = this.opts.extraRoutes?.get(path);
      if (extra) return await extra(req, res);
      const user = localUser ?? this.opts.authenticate(req);
      if (!user && !PUBLIC_PATHS.has(path)) throw StatusError.unauthorized();
      ctx.user = user;
      await this.route(req, res, path, url.searchParams, ctx);
    } catch (e) {
      this.fail(res, e, ctx);
    }
  }

  /** Upgrade requests (SPDY, WebSocket): only the streaming subresources accept them. */
  private async serveUpgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, localUser?: UserInfo): Promise<void> {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'https://localhost');
    const segs = url.pathname.split('/').filter(Boolean);
    const route = segs[0] === 'api' && segs[1] === 'v1' ? matchStreamingRoute(segs.slice(2)) : undefined;
    const user = localUser ?? this.opts.authenticate(req);
    const err = !user ? StatusError.unauthorized() : !route ? notFound() : undefined;
    if (err) {
      writeRawResponse(socket, err.code, statusText(err.code), { 'Content-Type': 'application/json' }, JSON.stringify(err.toStatus()));
      socket.end();
      return;
    }
    await this.streaming.handleUpgrade(req, socket, head, route!, url.searchParams);
  }

  private fail(res: ServerResponse, e: unknown, ctx: RequestContext): void {
    let err: StatusError;
    if (e instanceof StatusError) err = e;
    else {
      this.opts.logger?.error({ err: e }, 'internal error');
      err = StatusError.internal((e as Error)?.message ?? String(e));
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string | string[]> = { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...warningHeaders(ctx) };
    if (err.details?.retryAfterSeconds) headers['Retry-After'] = String(err.details.retryAfterSeconds);
    res.writeHead(err.code, headers);
    res.end(JSON.stringify(err.toStatus()));
  }

  private sendJSON(res: ServerResponse, code: number, body: string, contentType = 'application/json'): void {
    res.writeHead(code, { 'Content-Type': contentType, 'Cache-Control': 'no-cache, private' });
    res.end(body);
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, ctx: RequestContext): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/healthz' || path === '/livez' || path === '/readyz' || path.startsWith('/healthz/') || path.startsWith('/livez/') || path.startsWith('/readyz/')) {
      const ok = path.startsWith('/readyz') ? this.ready : true;
      if (query.has('verbose')) {
        const name = path.split('/')[1];
        const body = `[+]ping ok\n[+]etcd ok\n[${ok ? '+' : '-'}]poststarthook/k8ts-bootstrap ${ok ? 'ok' : 'failed: not finished'}\n${name} check ${ok ? 'passed' : 'failed'}\n`;
        res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(body);
        return;
      }
      res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(ok ? 'ok' : `[-]poststarthook/k8ts-bootstrap failed: not finished\n${path.slice(1)} check failed`);
      return;
    }
    if (path === '/version') return this.sendJSON(res, 200, JSON.stringify(versionInfo()));
    if (path === '/') {
      const paths = ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/openapi/v2', '/openapi/v3', '/readyz', '/version'];
      for (const g of this.registry.groups()) if (g.name) for (const v of g.versions) paths.push(`/apis/${g.name}`, `/apis/${g.name}/${v}`);
      return this.sendJSON(res, 200, JSON.stringify({ paths: [...new Set(paths)].sort() }, null, 2));
    }
    if (path.startsWith('/openapi/') || path === '/swagger-2.0.0.pb-v1') return this.openapi.serve(req, res, path, query);
    const accept = negotiate(req.headers.accept);
    const segs = path.split('/').filter(Boolean);
    if (segs[0] === 'api') {
      if (segs.length === 1) {
        if (accept.discovery) return this.sendDiscovery(res, this.discovery.aggregated('api', accept.discovery), accept.discovery);
        return this.sendJSON(res, 200, this.discovery.apiVersions());
      }
      if (segs[1] !== 'v1') throw notFound();
      if (segs.length === 2) return this.sendJSON(res, 200, this.discovery.apiResourceList('', 'v1')!);
      const streamingRoute = matchStreamingRoute(segs.slice(2));
      if (streamingRoute) return this.streaming.handle(req, res, streamingRoute, query);
      return this.resource(req, res, '', 'v1', segs.slice(2), query, accept, ctx, method);
    }
    if (segs[0] === 'apis') {
      if (segs.length === 1) {
        if (accept.discovery) return this.sendDiscovery(res, this.discovery.aggregated('apis', accept.discovery), accept.discovery);
        return this.sendJSON(res, 200, this.discovery.apiGroupList());
      }
      if (segs.length === 2) {
        const g = this.discovery.apiGroup(segs[1]);
        if (!g) throw notFound();
        return this.sendJSON(res, 200, g);
      }
      if (segs.length === 3) {
        const l = this.discovery.apiResourceList(segs[1], segs[2]);
        if (!l) throw notFound();
        return this.sendJSON(res, 200, l);
      }
      return this.resource(req, res, segs[1], segs[2], segs.slice(3), query, accept, ctx, method);
    }
    throw notFound();
  }

  private sendDiscovery(res: ServerResponse, body: string, v: 'v2' | 'v2beta1'): void {
    res.writeHead(200, {
      'Content-Type': `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`,
      'Cache-Control': 'no-cache, private',
      Vary: 'Accept',
    });
    res.end(body);
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    group: string,
    version: string,
    parts: string[],
    query: URLSearchParams,
    accept: ReturnType<typeof negotiate>,
    ctx: RequestContext,
    method: string,
  ): Promise<void> {
    let namespace: string | undefined;
    let rest = parts;
    // /namespaces/<ns>/<resource>/... unless it is the namespace's own status/finalize.
    if (rest[0] === 'namespaces' && rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = decodeURIComponent(rest[1]);
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest.map((s) => decodeURIComponent(s));
    if (extra.length) throw notFound();
    const entry = this.entries.get(`${group}/${version}/${plural}`);
    if (!entry) throw notFound();
    if (!entry.def.namespaced && namespace !== undefined) throw notFound();
    if (entry.def.namespaced && namespace === undefined && name !== undefined) throw notFound();
    if (entry.def.namespaced && namespace === undefined && method === 'POST') throw notFound();
    if (accept.unacceptable) throw StatusError.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf');
    await entry.handler.handle({ req, res, verb: method, namespace, name, subresource: subresource ?? '', query, accept, ctx });
  }
}

function notFound(): StatusError {
  return new StatusError(404, 'NotFound', 'the server could not find the requested resource', { causes: [{ reason: 'UnexpectedServerResponse', message: '404 page not found' }] });
}

