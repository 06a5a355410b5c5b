// HTTP verbs for one resource: get, list, watch, create, update, patch, delete,
// deletecollection, and the status and scale subresources.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify as toYaml } from 'yaml';
import type { KubeObject } from '../../api/meta/v1.js';
import { apiVersionOf, type ResourceDef } from '../../api/resource.js';
import { decodeKubernetesProtobuf } from '../../api/protobuf/decode.js';
import { StatusError } from '../../machinery/errors.js';
import type { FieldValidation, RequestContext, WriteOptions } from '../context.js';
import { decodeBody, duplicateJSONFields, mediaType, readBody } from '../http/body.js';
import type { Accept } from '../http/negotiate.js';
import { toTable, type IncludeObject } from '../table.js';
import { ListWatch, type Item, type OutEvent } from './list-watch.js';
import { applyPatchBody, patchResource, PATCH_TYPES } from './patch.js';
import { ResourceStore, type DeleteOptions } from './resource-store.js';
import { scaleOf, applyScale } from './scale.js';

export interface ResourceRequest {
  req: IncomingMessage;
  res: ServerResponse;
  verb: string; // HTTP method
  namespace?: string;
  name?: string;
  subresource: string;
  query: URLSearchParams;
  accept: Accept;
  ctx: RequestContext;
}

/**
 * A POST endpoint served by code instead of storage: a subresource such as pods/binding and
 * pods/eviction, or a create-only resource such as bindings. Returns the status code and body.
 */
export type CreateAction = (r: ResourceRequest, body: unknown, opts: WriteOptions) => Promise<{ code: number; body: unknown }>;

export interface ResourceHandlerDeps {
  def: ResourceDef;
  store: ResourceStore;
  listWatch: ListWatch;
  /** Keyed by subresource name; "" replaces create on the resource itself. */
  createActions?: Record<string, CreateAction>;
  /** Called to begin a watch response (so the server can track open streams). */
  onWatchStart?: () => () => void;
}

const BOOKMARK_INTERVAL_MS = 30_000;
/** A watcher that falls this far behind (1 MiB, a few hundred events) is closed (it re-lists), so slow clients cannot grow memory without bound. */
const MAX_WATCH_BACKLOG_BYTES = 1024 * 1024;

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw StatusError.badRequest(`invalid value for ${name}: ${v}`);
  return Number(v);
}

function boolParam(q: URLSearchParams, name: string): boolean | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw StatusError.badRequest(`invalid value for ${name}: ${v}`);
}

export function writeOptions(q: URLSearchParams, subresource: string): WriteOptions {
  const dryRun = q.getAll('dryRun');
  for (const d of dryRun) {
    if (d !== 'All') {
      throw StatusError.invalid('meta.k8s.io', 'CreateOptions', '', [
        { type: 'FieldValueNotSupported', field: 'dryRun', badValue: dryRun, hasBadValue: true, detail: 'supported values: "All"' },
      ]);
    }
  }
  const fv = q.get('fieldValidation') ?? 'Warn';
  if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') {
    throw StatusError.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(fv)}`);
  }
  const fieldManager = q.get('fieldManager') ?? undefined;
  if (fieldManager !== undefined && fieldManager.length > 128) {
    throw StatusError.invalid('meta.k8s.io', 'CreateOptions', '', [
      { type: 'FieldValueTooLong', field: 'fieldManager', badValue: fieldManager, hasBadValue: false, detail: 'may not be more than 128 bytes' },
    ]);
  }
  return { dryRun: dryRun.length > 0, fieldManager, fieldValidation: fv as FieldValidation, subresource };
}

const WATCH_FLUSH_DELAY_MS = 2;

export class ResourceHandler {
  constructor(private readonly deps: ResourceHandlerDeps) {}

  private get def(): ResourceDef {
    return this.deps.def;
  }

  async handle(r: ResourceRequest): Promise<void> {
    const { verb, name, subresource } = r;
    const action = Object.prototype.hasOwnProperty.call(this.deps.createActions ?? {}, subresource) ? this.deps.createActions![subresource] : undefined;
    if (action && (subresource ? !!name : !name)) {
      const gr = { group: this.def.group, resource: subresource ? `${this.def.plural}/${subresource}` : this.def.plural };
      if (verb !== 'POST') throw StatusError.methodNotSupported(gr, verbName(verb, !!name && !subresource));
      return this.runAction(r, action);
    }
    if (this.def.verbs && !this.def.verbs.includes(verbName(verb, !!name, r.query))) {
      throw StatusError.methodNotSupported({ group: this.def.group, resource: this.def.plural }, verbName(verb, !!name, r.query));
    }
    const finalize = subresource === 'finalize' && this.def.group === '' && this.def.plural === 'namespaces' && verb === 'PUT';
    if (subresource && !finalize && subresource !== 'status' && !(subresource === 'scale' && this.def.subresources?.scale)) {
      throw StatusError.notFound({ group: this.def.group, resource: `${this.def.plural}/${subresource}` }, name ?? '');
    }
    if (subresource === 'status' && !this.def.subresources?.status) {
      throw StatusError.notFound({ group: this.def.group, resource: `${this.def.plural}/status` }, name ?? '');
    }
    if (subresource && !name) throw StatusError.notFound({ group: this.def.group, resource: this.def.plural }, '');
    switch (verb) {
      case 'GET':
        if (name) return this.get(r);
        if (boolParam(r.query, 'watch')) return this.watch(r);
        return this.list(r);
      case 'POST':
        if (name) throw StatusError.methodNotSupported({ group: this.def.group, resource: this.def.plural }, 'create');
        return this.create(r);
      case 'PUT':
        if (!name) throw StatusError.methodNotSupported({ group: this.def.group, resource: this.def.plural }, 'update');
        return this.update(r);
      case 'PATCH':
        if (!name) throw StatusError.methodNotSupported({ group: this.def.group, resource: this.def.plural }, 'patch');
        return this.patch(r);
      case 'DELETE':
        if (name) return this.delete(r);
        return this.deleteCollection(r);
      default:
        throw StatusError.methodNotSupported({ group: this.def.group, resource: this.def.plural }, verb.toLowerCase());
    }
  }

  // ---- responses ---------------------------------------------------------------------------

  private send(r: ResourceRequest, code: number, obj: KubeObject, json?: string): void {
    if (r.accept.table) {
      const table = toTable(this.def, [obj], { include: includeOf(r.query), now: Date.now(), resourceVersion: obj.metadata?.resourceVersion });
      return sendJSON(r, code, JSON.stringify(table));
    }
    if (r.accept.yaml) return sendRaw(r, code, 'application/yaml', toYaml(obj));
    sendJSON(r, code, json ?? JSON.stringify(obj));
  }

  // ---- reads -------------------------------------------------------------------------------

  private async get(r: ResourceRequest): Promise<void> {
    if (r.subresource === 'scale') {
      const obj = await this.deps.store.get(r.namespace, r.name!);
      return this.send(r, 200, scaleOf(this.def, obj));
    }
    const obj = await this.deps.store.get(r.namespace, r.name!);
    this.send(r, 200, obj);
  }

  private async list(r: ResourceRequest): Promise<void> {
    const q = r.query;
    const res = await this.deps.listWatch.list(r.namespace, {
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
      limit: intParam(q, 'limit'),
      continue: q.get('continue') ?? undefined,
      resourceVersion: q.get('resourceVersion') ?? undefined,
      resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
    });
    if (r.accept.table) {
      const table = toTable(
        this.def,
        res.items.map((i) => i.obj),
        { include: includeOf(q), now: Date.now(), resourceVersion: res.resourceVersion, continue: res.continue, remainingItemCount: res.remainingItemCount },
      );
      return sendJSON(r, 200, JSON.stringify(table));
    }
    const metadata: Record<string, unknown> = { resourceVersion: res.resourceVersion };
    if (res.continue) metadata.continue = res.continue;
    if (res.remainingItemCount !== undefined) metadata.remainingItemCount = res.remainingItemCount;
    const head = `{"kind":${JSON.stringify(this.def.kind + 'List')},"apiVersion":${JSON.stringify(apiVersionOf(this.def))},"metadata":${JSON.stringify(metadata)},"items":[`;
    if (r.accept.yaml) {
      const list = { kind: `${this.def.kind}List`, apiVersion: apiVersionOf(this.def), metadata, items: res.items.map((i) => i.obj) };
      return sendRaw(r, 200, 'application/yaml', toYaml(list));
    }
    const body = head + res.items.map((i) => i.json).join(',') + ']}';
    sendJSON(r, 200, body);
  }

  private async watch(r: ResourceRequest): Promise<void> {
    const q = r.query;
    const timeoutSeconds = intParam(q, 'timeoutSeconds');
    const allowBookmarks = boolParam(q, 'allowWatchBookmarks') ?? false;
    const abort = new AbortController();
    const { res } = r;
    const table = r.accept.table;
    const include = includeOf(q);
    let headersSent = false;
    let firstTable = true;
    let pending = '';
    const done = this.deps.onWatchStart?.();
    const finish = () => {
      if (abort.signal.aborted) return;
      abort.abort();
      clearInterval(bookmarkTimer);
      if (timer) clearTimeout(timer);
      done?.();
      if (!res.writableEnded) {
        // Whatever is queued (e.g. a final ERROR event) still goes out before the end.
        if (pending && headersSent && !res.destroyed) res.write(pending);
        pending = '';
        res.end();
      }
    };
    const sendHeaders = () => {
      if (headersSent) return;
      headersSent = true;
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Cache-Control': 'no-cache, private',
        'Transfer-Encoding': 'chunked',
        ...warningHeaders(r.ctx),
      });
      res.flushHeaders();
    };
    const encode = (e: OutEvent): string => {
      if (e.type === 'ERROR' || e.type === 'BOOKMARK' || !table) {
        // Encoded once per object version and event type, then shared by all watchers.
        const lines = (e.item.lines ??= {});
        return (lines[e.type] ??= `{"type":"${e.type}","object":${e.item.json}}\n`);
      }
      const t = toTable(this.def, [e.item.obj], { include, now: Date.now(), noHeaders: !firstTable });
      firstTable = false;
      return `{"type":"${e.type}","object":${JSON.stringify(t)}}\n`;
    };
    // Events delivered in one synchronous burst go out in one write (one TLS record and one
    // syscall per watcher). Waiting longer (setImmediate) was measured to double delivery lag.
    let flushScheduled = false;
    const flush = () => {
      flushScheduled = false;
      if (abort.signal.aborted || !pending) return;
      const chunk = pending;
      pending = '';
      res.write(chunk);
      if (res.writableLength > MAX_WATCH_BACKLOG_BYTES) finish();
    };
    const sink = {
      send: (events: OutEvent[]) => {
        if (abort.signal.aborted) return;
        sendHeaders();
        for (const e of events) pending += encode(e);
        if (!flushScheduled) {
          flushScheduled = true;
          // Coalesce what arrives within a couple of milliseconds into one write: far fewer
          // (TLS) writes under load, for a latency nobody watching notices.
          setTimeout(flush, WATCH_FLUSH_DELAY_MS);
        }
      },
      close: finish,
    };
    r.req.on('close', finish);
    res.on('close', finish);
    const timer = timeoutSeconds && timeoutSeconds > 0 ? setTimeout(finish, timeoutSeconds * 1000) : undefined;
    const bookmarkTimer = setInterval(() => {
      if (allowBookmarks) sink.send([{ type: 'BOOKMARK', item: this.deps.listWatch.bookmark(this.deps.listWatch.currentRevision) }]);
    }, BOOKMARK_INTERVAL_MS);
    bookmarkTimer.unref();
    try {
      await this.deps.listWatch.watch(
        r.namespace,
        {
          labelSelector: q.get('labelSelector') ?? undefined,
          fieldSelector: q.get('fieldSelector') ?? undefined,
          resourceVersion: q.get('resourceVersion') ?? undefined,
          resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
          allowWatchBookmarks: allowBookmarks,
          sendInitialEvents: boolParam(q, 'sendInitialEvents'),
        },
        sink,
        abort.signal,
      );
    } catch (e) {
      if (!headersSent) {
        finish();
        throw e;
      }
      finish();
      return;
    }
    sendHeaders();
  }

  // ---- writes ------------------------------------------------------------------------------

  private async body(r: ResourceRequest): Promise<unknown> {
    const ct = mediaType(r.req.headers['content-type']);
    const buf = await readBody(r.req);
    if (ct === 'application/vnd.kubernetes.protobuf') return decodeKubernetesProtobuf(buf);
    if (ct && ct !== 'application/json' && ct !== 'application/yaml' && ct !== '*/*') {
      throw StatusError.unsupportedMediaType(['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
    }
    const decoded = decodeBody(buf, ct || 'application/json', this.def.kind);
    if (ct !== 'application/yaml') this.checkDuplicates(buf, r);
    return decoded;
  }

  /** Duplicate JSON keys: rejected in Strict mode, a warning in Warn mode (the last value wins). */
  private checkDuplicates(buf: Buffer, r: ResourceRequest): void {
    const mode = r.query.get('fieldValidation') ?? 'Warn';
    if (mode === 'Ignore') return;
    const dups = duplicateJSONFields(buf.toString('utf8'));
    if (!dups.length) return;
    if (mode === 'Strict') {
      throw StatusError.badRequest(`${this.def.kind} in version "${this.def.version}" cannot be handled as a ${this.def.kind}: strict decoding error: ${dups.map((d) => `duplicate field "${d}"`).join(', ')}`);
    }
    for (const d of dups) r.ctx.warnings.push(`duplicate field "${d}"`);
  }

  private async runAction(r: ResourceRequest, action: CreateAction): Promise<void> {
    const opts = writeOptions(r.query, r.subresource);
    const body = await this.body(r);
    const out = await action(r, body, opts);
    sendJSON(r, out.code, JSON.stringify(out.body));
  }

  private async create(r: ResourceRequest): Promise<void> {
    const opts = writeOptions(r.query, '');
    const body = await this.body(r);
    const obj = await this.deps.store.create(r.namespace, body, opts, r.ctx);
    this.send(r, 201, obj);
  }

  private async update(r: ResourceRequest): Promise<void> {
    const opts = writeOptions(r.query, r.subresource);
    const body = await this.body(r);
    if (r.subresource === 'scale') {
      const out = await applyScale(this.def, this.deps.store, r.namespace, r.name!, opts, r.ctx, () => body as KubeObject);
      return this.send(r, 200, out);
    }
    const res = await this.deps.store.update(r.namespace, r.name!, body, opts, r.ctx);
    this.send(r, res.created ? 201 : 200, res.obj);
  }

  private async patch(r: ResourceRequest): Promise<void> {
    const opts = writeOptions(r.query, r.subresource);
    const ct = mediaType(r.req.headers['content-type']);
    if (!PATCH_TYPES.includes(ct)) throw StatusError.unsupportedMediaType(PATCH_TYPES);
    const buf = await readBody(r.req);
    const force = boolParam(r.query, 'force') ?? false;
    if (r.subresource === 'scale') {
      const out = await applyScale(this.def, this.deps.store, r.namespace, r.name!, opts, r.ctx, (scale) =>
        applyPatchBody({ contentType: ct, body: buf, current: scale, schema: undefined, kind: 'Scale' }),
      );
      return this.send(r, 200, out);
    }
    const res = await patchResource({ store: this.deps.store, def: this.def, ns: r.namespace, name: r.name!, contentType: ct, body: buf, opts, ctx: r.ctx, force });
    this.send(r, res.created ? 201 : 200, res.obj);
  }

  private async deleteOptions(r: ResourceRequest): Promise<DeleteOptions> {
    const q = r.query;
    let body: Record<string, unknown> = {};
    const buf = await readBody(r.req);
    if (buf.length && buf.toString('utf8').trim()) {
      const decoded = decodeBody(buf, mediaType(r.req.headers['content-type']) || 'application/json', 'DeleteOptions');
      if (decoded && typeof decoded === 'object') body = decoded as Record<string, unknown>;
    }
    const grace = intParam(q, 'gracePeriodSeconds') ?? (body.gracePeriodSeconds as number | undefined);
    const policy = (q.get('propagationPolicy') ?? body.propagationPolicy) as DeleteOptions['propagationPolicy'];
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy)) {
      throw StatusError.invalid('meta.k8s.io', 'DeleteOptions', '', [
        { type: 'FieldValueNotSupported', field: 'propagationPolicy', badValue: policy, hasBadValue: true, detail: 'supported values: "Foreground", "Background", "Orphan", "nil"' },
      ]);
    }
    const dryRun = [...q.getAll('dryRun'), ...((body.dryRun as string[] | undefined) ?? [])];
    return {
      gracePeriodSeconds: grace,
      propagationPolicy: policy,
      orphanDependents: (boolParam(q, 'orphanDependents') ?? body.orphanDependents) as boolean | undefined,
      preconditions: body.preconditions as DeleteOptions['preconditions'],
      dryRun: dryRun.includes('All'),
    };
  }

  private async delete(r: ResourceRequest): Promise<void> {
    if (r.subresource) throw StatusError.methodNotSupported({ group: this.def.group, resource: `${this.def.plural}/${r.subresource}` }, 'delete');
    const opts = await this.deleteOptions(r);
    const { obj, deleted } = await this.deps.store.delete(r.namespace, r.name!, opts);
    this.send(r, deleted ? 200 : 202, obj);
  }

  private async deleteCollection(r: ResourceRequest): Promise<void> {
    const opts = await this.deleteOptions(r);
    const q = r.query;
    const res = await this.deps.listWatch.list(r.namespace, {
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
    });
    const items: Item[] = [];
    for (const it of res.items) {
      try {
        const { obj } = await this.deps.store.delete(it.obj.metadata.namespace, it.obj.metadata.name!, opts);
        items.push({ obj, json: JSON.stringify(obj) });
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    const body = `{"kind":${JSON.stringify(this.def.kind + 'List')},"apiVersion":${JSON.stringify(apiVersionOf(this.def))},"metadata":{"resourceVersion":${JSON.stringify(res.resourceVersion)}},"items":[${items.map((i) => i.json).join(',')}]}`;
    sendJSON(r, 200, body);
  }
}

/** The API verb of a request, as discovery and RBAC name it. */
function verbName(method: string, named: boolean, q?: URLSearchParams): string {
  switch (method) {
    case 'GET':
      return named ? 'get' : q && boolParam(q, 'watch') ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

function includeOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  if (v === 'None' || v === 'Object' || v === 'Metadata') return v;
  return 'Metadata';
}

export function warningHeaders(ctx: RequestContext): Record<string, string[]> {
  if (!ctx.warnings.length) return {};
  return { Warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}

function sendJSON(r: ResourceRequest, code: number, body: string): void {
  sendRaw(r, code, 'application/json', body);
}

function sendRaw(r: ResourceRequest, code: number, type: string, body: string): void {
  r.res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-cache, private', ...warningHeaders(r.ctx) });
  r.res.end(body);
}
