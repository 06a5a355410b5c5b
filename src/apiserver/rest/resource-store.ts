// The generic REST store: create, update, patch and delete for every resource, driven by its
// ResourceDef (schema + strategy). Like upstream's registry/generic/registry/store.go, the kind
// only supplies a strategy; storage errors become Status errors at this one boundary.

import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../api/meta/v1.js';
import { apiVersionOf, type ResourceDef } from '../../api/resource.js';
import { StatusError } from '../../machinery/errors.js';
import type { FieldError } from '../../machinery/field-errors.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../machinery/validation.js';
import { generateName } from '../../machinery/names.js';
import { ConflictError, KeyExistsError, KeyNotFoundError, type KeyValue, type Store } from '../../storage/store.js';
import { trackUpdate } from './managed-fields.js';
import type { RequestContext, WriteOptions } from '../context.js';
import { decodeKV } from '../watch-cache.js';
import { objectKey, storageResourceOf } from './keys.js';
import { checkBody } from './schema-check.js';

/** Upstream's etcd request limit is 1.5 MiB; objects above it cannot be stored. */
export const MAX_OBJECT_BYTES = 1_572_864;

export interface NamespaceLookup {
  /** The namespace object from the watch cache, or undefined when the cache has not seen it. */
  get(name: string): KubeObject | undefined;
}

/** Reservations a hook made for one write, settled once the write is stored or has failed. */
export interface WriteTxn {
  commit(revision: number): void;
  revert(): void;
}

/**
 * Kind-specific steps around a write that need server state (upstream's BeginCreate/BeginUpdate,
 * e.g. Service IP and port allocation). They run after validation, before the object is stored.
 */
export interface WriteHooks {
  /** Mutating admission on create, before validation (e.g. pod priority from its PriorityClass). */
  admitCreate?(obj: KubeObject): void;
  beginCreate?(obj: KubeObject, opts: WriteOptions): Promise<WriteTxn | undefined>;
  beginUpdate?(next: KubeObject, old: KubeObject, opts: WriteOptions): Promise<WriteTxn | undefined>;
}

export interface StoreDeps {
  store: Store;
  namespaces: NamespaceLookup;
  now?: () => Date;
  hooks?: WriteHooks;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** Result of a write: the object, and whether it was stored (201 vs 200 on create-on-update). */
export interface WriteResult {
  obj: KubeObject;
  created: boolean;
}

const gr = (def: ResourceDef) => ({ group: def.group, resource: def.plural });

function clone<T>(x: T): T {
  return structuredClone(x);
}

function nowRFC3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const sortedEntries = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Everything but apiVersion/kind/metadata/status: what a spec change means for generation. */
function specOf(obj: KubeObject): string {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

/** The stored form: no resourceVersion (it is the key's modRevision). */
export function encodeForStorage(obj: KubeObject): Buffer {
  const rv = obj.metadata.resourceVersion;
  delete obj.metadata.resourceVersion;
  const buf = Buffer.from(JSON.stringify(obj));
  if (rv !== undefined) obj.metadata.resourceVersion = rv;
  return buf;
}

export class ResourceStore {
  private readonly now: () => Date;

  constructor(
    readonly def: ResourceDef,
    private readonly deps: StoreDeps,
  ) {
    this.now = deps.now ?? (() => new Date());
  }

  private get storageGR() {
    return gr(this.def);
  }

  key(ns: string | undefined, name: string): string {
    return objectKey(this.def, ns, name);
  }

  /** Converts a stored object to this resource's served version. */
  fromStorage(obj: KubeObject): KubeObject {
    return this.def.storage ? this.def.storage.fromStorage(obj) : obj;
  }

  private toStorage(obj: KubeObject): KubeObject {
    return this.def.storage ? this.def.storage.toStorage(obj) : obj;
  }

  private decode(kv: KeyValue): KubeObject {
    return this.fromStorage(decodeKV(kv.value, kv.modRevision));
  }

  async getStored(ns: string | undefined, name: string): Promise<{ kv: KeyValue; obj: KubeObject } | undefined> {
    const kv = await this.deps.store.get(this.key(ns, name));
    if (!kv) return undefined;
    return { kv, obj: this.decode(kv) };
  }

  async get(ns: string | undefined, name: string): Promise<KubeObject> {
    const cur = await this.getStored(ns, name);
    if (!cur) throw StatusError.notFound(this.storageGR, name);
    return cur.obj;
  }

  private async checkNamespace(ns: string | undefined, name: string, forCreate: boolean): Promise<void> {
    if (!this.def.namespaced) return;
    if (!ns) throw StatusError.badRequest('the server could not find the requested resource');
    // The cache may trail a namespace created a moment ago: read the store before saying 404.
    let nsObj = this.deps.namespaces.get(ns);
    if (!nsObj) {
      const kv = await this.deps.store.get(`/registry/namespaces/${ns}`);
      if (kv) nsObj = decodeKV(kv.value, kv.modRevision);
    }
    if (!nsObj) throw StatusError.notFound({ group: '', resource: 'namespaces' }, ns);
    if (forCreate && (nsObj.status?.phase === 'Terminating' || nsObj.metadata.deletionTimestamp)) {
      throw new StatusError(
        403,
        'Forbidden',
        `${this.def.plural}${this.def.group ? '.' + this.def.group : ''} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        { group: this.def.group, kind: this.def.plural, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }] },
      );
    }
  }

  /** Fills apiVersion/kind from the URL when absent; rejects a body of another kind. */
  private checkTypeMeta(obj: KubeObject): void {
    const apiVersion = apiVersionOf(this.def);
    if (obj.apiVersion === undefined || obj.apiVersion === '') obj.apiVersion = apiVersion;
    if (obj.kind === undefined || obj.kind === '') obj.kind = this.def.kind;
    if (obj.apiVersion !== apiVersion) {
      throw StatusError.badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`);
    }
    if (obj.kind !== this.def.kind) {
      throw StatusError.badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${this.def.kind})`);
    }
  }

  private invalid(name: string, errs: FieldError[]): StatusError {
    return StatusError.invalid(this.def.group, this.def.kind, name, errs);
  }

  private checkSize(buf: Buffer): void {
    if (buf.length > MAX_OBJECT_BYTES) {
      throw StatusError.requestEntityTooLarge(`Request entity too large: limit is ${MAX_OBJECT_BYTES}`);
    }
  }

  /** POST: create a new object. `body` is the decoded request body (owned by us). */
  async create(ns: string | undefined, body: unknown, opts: WriteOptions, ctx: RequestContext): Promise<KubeObject> {
    const obj = this.admitBody(body, opts, ctx);
    this.checkTypeMeta(obj);
    const meta = obj.metadata;
    if (this.def.namespaced) {
      if (meta.namespace && ns && meta.namespace !== ns) {
        throw StatusError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = ns ?? meta.namespace;
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion) {
      throw StatusError.badRequest('resourceVersion should not be set on objects to be created');
    }
    if (!meta.name && meta.generateName) meta.name = generateName(meta.generateName);
    await this.checkNamespace(meta.namespace, meta.name ?? '', true);
    this.prepareCreate(obj);
    this.deps.hooks?.admitCreate?.(obj);
    const errs = [
      ...validateObjectMeta(meta, { namespaced: this.def.namespaced, nameValidator: this.def.strategy.validateName }),
      ...(this.def.strategy.validate?.(obj, { operation: 'create', subresource: '' }) ?? []),
    ];
    if (errs.length) throw this.invalid(meta.name ?? '', errs);
    this.collectWarnings(obj, undefined, ctx);
    if (!opts.managedFieldsHandled) trackUpdate({ obj, old: undefined, def: this.def, manager: opts.fieldManager, userAgent: ctx.userAgent, operation: 'Update', subresource: '', now: this.now() });
    const txn = await this.deps.hooks?.beginCreate?.(obj, opts);
    try {
      const stored = this.toStorage(obj);
      const buf = encodeForStorage(stored);
      this.checkSize(buf);
      if (opts.dryRun) {
        txn?.revert();
        return obj;
      }
      const kv = await this.deps.store.create(this.key(meta.namespace, meta.name!), buf);
      txn?.commit(kv.modRevision);
      obj.metadata.resourceVersion = String(kv.modRevision);
      return obj;
    } catch (e) {
      txn?.revert();
      if (e instanceof KeyExistsError) throw StatusError.alreadyExists(this.storageGR, meta.name!);
      throw e;
    }
  }

  /** Decodes, validates against the schema (fieldValidation) and defaults a request body. */
  admitBody(body: unknown, opts: WriteOptions, ctx: RequestContext): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw StatusError.badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)?.slice(0, 200)}'`);
    }
    const obj = body as KubeObject;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    checkBody(obj, this.def, opts.fieldValidation, ctx);
    this.def.strategy.defaults?.(obj);
    return obj;
  }

  private prepareCreate(obj: KubeObject): void {
    const meta = obj.metadata;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRFC3339(this.now());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (this.def.strategy.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    if (this.def.subresources?.status && !this.def.strategy.keepStatusOnCreate) delete obj.status;
    this.def.strategy.prepareForCreate?.(obj);
  }

  private collectWarnings(obj: KubeObject, old: KubeObject | undefined, ctx: RequestContext): void {
    const w = this.def.strategy.warnings?.(obj, old);
    if (w) ctx.warnings.push(...w);
  }

  /**
   * The shared update path (PUT, every patch type, status and scale writes): `mutate` computes the
   * new object from the current one; conflicts on unconditional writes are retried.
   */
  async guaranteedUpdate(
    ns: string | undefined,
    name: string,
    opts: WriteOptions,
    ctx: RequestContext,
    mutate: (cur: KubeObject | undefined) => KubeObject,
    { allowCreate = false, unconditionalRetry = true }: { allowCreate?: boolean; unconditionalRetry?: boolean } = {},
  ): Promise<WriteResult> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.getStored(ns, name);
      if (!cur && !allowCreate) throw StatusError.notFound(this.storageGR, name);
      const next = mutate(cur ? clone(cur.obj) : undefined);
      try {
        if (!cur) {
          const created = await this.create(ns, next, opts, ctx);
          return { obj: created, created: true };
        }
        return { obj: await this.commitUpdate(ns, name, cur, next, opts, ctx), created: false };
      } catch (e) {
        const retriable = e instanceof ConflictError || e instanceof KeyNotFoundError || e instanceof KeyExistsError;
        if (retriable && unconditionalRetry && attempt < 5) continue;
        if (e instanceof ConflictError) throw this.conflict(name);
        if (e instanceof KeyNotFoundError) throw StatusError.notFound(this.storageGR, name);
        if (e instanceof KeyExistsError) throw StatusError.alreadyExists(this.storageGR, name);
        throw e;
      }
    }
  }

  conflict(name: string): StatusError {
    return this.conflictWith(name, 'the object has been modified; please apply your changes to the latest version and try again');
  }

  conflictWith(name: string, detail: string): StatusError {
    return StatusError.conflict(this.storageGR, name, detail);
  }

  /** PUT on the main resource or a subresource. */
  async update(ns: string | undefined, name: string, body: unknown, opts: WriteOptions, ctx: RequestContext): Promise<WriteResult> {
    const obj = this.admitBody(body, opts, ctx);
    this.checkTypeMeta(obj);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw StatusError.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    if (this.def.namespaced && obj.metadata.namespace && obj.metadata.namespace !== ns) {
      throw StatusError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.name = name;
    if (this.def.namespaced) obj.metadata.namespace = ns;
    const wantRV = obj.metadata.resourceVersion;
    const allowCreate = !!this.def.strategy.allowCreateOnUpdate && opts.subresource === '';
    return this.guaranteedUpdate(
      ns,
      name,
      opts,
      ctx,
      (cur) => {
        if (!cur) {
          delete obj.metadata.resourceVersion;
          return obj;
        }
        // Without a resourceVersion the update is unconditional (upstream AllowUnconditionalUpdate).
        if (wantRV && wantRV !== cur.metadata.resourceVersion) throw this.conflict(name);
        return clone(obj);
      },
      { allowCreate, unconditionalRetry: !wantRV },
    );
  }

  /**
   * Applies subresource rules, system fields, defaults, validation and stores `next` over `cur`.
   * No-op writes are not stored (the resourceVersion stays), as upstream.
   */
  async commitUpdate(
    ns: string | undefined,
    name: string,
    cur: { kv: KeyValue; obj: KubeObject },
    nextIn: KubeObject,
    opts: WriteOptions,
    ctx: RequestContext,
  ): Promise<KubeObject> {
    const old = cur.obj;
    let next = nextIn;
    if (opts.subresource === 'status') {
      // Status writes change only status (upstream ResetObjectMetaForStatus + strategy).
      const merged = clone(old);
      merged.status = next.status;
      merged.metadata.resourceVersion = next.metadata.resourceVersion;
      if (this.def.strategy.annotationsAreSpec) {
        if (next.metadata.annotations) merged.metadata.annotations = next.metadata.annotations;
        else delete merged.metadata.annotations;
      }
      if (next.metadata.managedFields) merged.metadata.managedFields = next.metadata.managedFields;
      next = merged;
    } else if (this.def.subresources?.status && opts.subresource === '') {
      if (old.status === undefined) delete next.status;
      else next.status = clone(old.status);
    }
    this.checkTypeMeta(next);
    const meta = next.metadata;
    meta.name = name;
    if (this.def.namespaced) meta.namespace = ns;
    else delete meta.namespace;
    if (!meta.uid) meta.uid = old.metadata.uid;
    meta.creationTimestamp = old.metadata.creationTimestamp;
    meta.deletionTimestamp = old.metadata.deletionTimestamp;
    if (meta.deletionTimestamp === undefined) delete meta.deletionTimestamp;
    meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    if (meta.deletionGracePeriodSeconds === undefined) delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (this.def.strategy.tracksGeneration) {
      meta.generation = old.metadata.generation ?? 1;
      const annotationsChanged = this.def.strategy.annotationsAreSpec && sortedEntries(meta.annotations) !== sortedEntries(old.metadata.annotations);
      if (opts.subresource !== 'status' && (specOf(next) !== specOf(old) || annotationsChanged)) meta.generation += 1;
    } else {
      delete meta.generation;
    }
    this.def.strategy.defaults?.(next);
    if (opts.subresource === '') this.def.strategy.prepareForUpdate?.(next, old);
    const ctxS = { operation: 'update' as const, subresource: opts.subresource };
    const errs = [
      ...validateObjectMetaUpdate(meta, old.metadata),
      ...validateObjectMeta(meta, { namespaced: this.def.namespaced, nameValidator: this.def.strategy.validateName }),
      ...((this.def.strategy.validateUpdate
        ? this.def.strategy.validateUpdate(next, old, ctxS)
        : this.def.strategy.validate?.(next, ctxS)) ?? []),
    ];
    if (errs.length) throw this.invalid(name, errs);
    this.collectWarnings(next, old, ctx);
    if (!opts.managedFieldsHandled) trackUpdate({ obj: next, old, def: this.def, manager: opts.fieldManager, userAgent: ctx.userAgent, operation: 'Update', subresource: opts.subresource, now: this.now() });

    // Finalizers all removed from an object being deleted: the update completes the deletion.
    if (meta.deletionTimestamp && !this.hasPendingFinalizers(next)) {
      if (opts.dryRun) return next;
      const kv = await this.deps.store.delete(cur.kv.key, cur.kv.modRevision);
      next.metadata.resourceVersion = String(kv.modRevision);
      return next;
    }

    const txn = opts.subresource === '' ? await this.deps.hooks?.beginUpdate?.(next, old, opts) : undefined;
    try {
      const stored = this.toStorage(next);
      const buf = encodeForStorage(stored);
      this.checkSize(buf);
      if (buf.equals(cur.kv.value) || opts.dryRun) {
        txn?.revert();
        next.metadata.resourceVersion = String(cur.kv.modRevision);
        return next;
      }
      const kv = await this.deps.store.update(cur.kv.key, buf, cur.kv.modRevision);
      txn?.commit(kv.modRevision);
      next.metadata.resourceVersion = String(kv.modRevision);
      return next;
    } catch (e) {
      txn?.revert();
      throw e;
    }
  }

  private hasPendingFinalizers(obj: KubeObject): boolean {
    if (obj.metadata.finalizers?.length) return true;
    // Namespaces also wait for their spec.finalizers (the namespace lifecycle empties them).
    return this.def.group === '' && this.def.plural === 'namespaces' && !!obj.spec?.finalizers?.length;
  }

  /** DELETE of one object, with preconditions, grace periods, finalizers and propagation. */
  async delete(ns: string | undefined, name: string, opts: DeleteOptions): Promise<{ obj: KubeObject; deleted: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.getStored(ns, name);
      if (!cur) throw StatusError.notFound(this.storageGR, name);
      const obj = clone(cur.obj);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== obj.metadata.uid) {
        throw StatusError.conflict(this.storageGR, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
        throw StatusError.conflict(
          this.storageGR,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        );
      }
      try {
        const pending = this.deletionPending(obj, opts);
        if (pending) {
          if (opts.dryRun) return { obj, deleted: false };
          const buf = encodeForStorage(this.toStorage(obj));
          if (!buf.equals(cur.kv.value)) {
            const kv = await this.deps.store.update(cur.kv.key, buf, cur.kv.modRevision);
            obj.metadata.resourceVersion = String(kv.modRevision);
          }
          return { obj, deleted: false };
        }
        if (opts.dryRun) return { obj, deleted: true };
        const kv = await this.deps.store.delete(cur.kv.key, cur.kv.modRevision);
        obj.metadata.resourceVersion = String(kv.modRevision);
        return { obj, deleted: true };
      } catch (e) {
        if ((e instanceof ConflictError || e instanceof KeyNotFoundError) && attempt < 5) continue;
        if (e instanceof ConflictError) throw this.conflict(name);
        if (e instanceof KeyNotFoundError) throw StatusError.notFound(this.storageGR, name);
        throw e;
      }
    }
  }

  /**
   * Marks the object as being deleted when something must happen first (finalizers, a graceful
   * pod shutdown, dependents in the foreground); returns false when it can go at once.
   */
  private deletionPending(obj: KubeObject, opts: DeleteOptions): boolean {
    const meta = obj.metadata;
    const finalizers = new Set(meta.finalizers ?? []);
    const policy = opts.propagationPolicy ?? (opts.orphanDependents === true ? 'Orphan' : opts.orphanDependents === false ? 'Background' : undefined);
    const now = nowRFC3339(this.now());
    let graceful = false;
    if (this.def.plural === 'pods' && this.def.group === '' && obj.spec?.nodeName && obj.status?.phase !== 'Succeeded' && obj.status?.phase !== 'Failed') {
      const grace = opts.gracePeriodSeconds ?? obj.spec?.terminationGracePeriodSeconds ?? 30;
      if (grace > 0) {
        graceful = true;
        const prevGrace = meta.deletionGracePeriodSeconds;
        if (prevGrace === undefined || grace < prevGrace) {
          meta.deletionGracePeriodSeconds = grace;
          meta.deletionTimestamp = nowRFC3339(new Date(this.now().getTime() + grace * 1000));
        }
      }
    }
    if (this.def.plural === 'namespaces' && this.def.group === '') {
      // The namespace lifecycle finalizer empties the namespace before it goes.
      obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
      if ((obj.spec?.finalizers ?? []).length) {
        meta.deletionTimestamp ??= now;
        meta.deletionGracePeriodSeconds ??= 0;
        return true;
      }
    }
    if (policy === 'Orphan') finalizers.add('orphan');
    if (policy === 'Foreground') finalizers.add('foregroundDeletion');
    if (policy === 'Orphan' || policy === 'Foreground') {
      finalizers.delete(policy === 'Orphan' ? 'foregroundDeletion' : 'orphan');
    }
    if (finalizers.size === 0 && !graceful) return false;
    if (finalizers.size) meta.finalizers = [...finalizers];
    if (!meta.deletionTimestamp) {
      meta.deletionTimestamp = now;
      meta.deletionGracePeriodSeconds = meta.deletionGracePeriodSeconds ?? 0;
    }
    return true;
  }

  /** The stored-resource identity, for errors and discovery. */
  get storageIdentity() {
    return storageResourceOf(this.def);
  }
}
