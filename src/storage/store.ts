// The Store contract: an etcd-shaped key-value store with one global revision.
// Keys look like `/registry/deployments/default/web`; values are the JSON encoding of an object
// (without resourceVersion, which is the modRevision). Both drivers (sqlite/, etcd/) implement
// this and pass the same contract suite (store-contract.ts).

export interface KeyValue {
  key: string;
  /** UTF-8 JSON bytes as written by the API server. */
  value: Buffer;
  /** Revision at which this key was (last) created. */
  createRevision: number;
  /** Revision of the last write to this key; the object's resourceVersion. */
  modRevision: number;
}

export interface ListOptions {
  /** Key prefix, e.g. `/registry/pods/default/`. */
  prefix: string;
  /** Read at this revision (0 or undefined = latest). Fails with CompactedError below the horizon. */
  revision?: number;
  /** Max items to return (0 or undefined = all). */
  limit?: number;
  /** Return keys strictly greater than this one (continuation). */
  startAfter?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** The revision the list was read at (the store's current revision when not given). */
  revision: number;
  /** True when more keys under the prefix follow the last returned one. */
  more: boolean;
  /** Number of keys remaining after this page, when the driver can tell cheaply. */
  remaining?: number;
}

export type WatchEventType = 'PUT' | 'DELETE';

export interface WatchEvent {
  type: WatchEventType;
  /** For PUT the new value; for DELETE the deleted key with modRevision = the delete's revision and the last value. */
  kv: KeyValue;
  /** The previous value (absent for a create). */
  prevKv?: KeyValue;
  /** True for a PUT that created the key. */
  created: boolean;
}

export interface WatchOptions {
  prefix: string;
  /** Deliver events with revision > afterRevision. Fails with CompactedError if already compacted. */
  afterRevision: number;
  signal: AbortSignal;
  /** Called with batches of events in revision order. */
  onEvents: (events: WatchEvent[]) => void;
  /** Called once if the watch breaks (compaction, connection loss); not called on abort. */
  onError: (err: Error) => void;
}

export interface Store {
  /** Latest revision written. */
  currentRevision(): Promise<number>;
  get(key: string): Promise<KeyValue | undefined>;
  list(opts: ListOptions): Promise<ListResult>;
  /** Number of live keys under a prefix. */
  count(prefix: string): Promise<number>;
  /** Creates the key; throws KeyExistsError when present. */
  create(key: string, value: Buffer): Promise<KeyValue>;
  /** Replaces the value if modRevision matches; throws ConflictError / KeyNotFoundError. */
  update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue>;
  /** Deletes the key (guarded when expectedModRevision is given); returns the last value with the delete revision. */
  delete(key: string, expectedModRevision?: number): Promise<KeyValue>;
  watch(opts: WatchOptions): void;
  /** Drops history at and below `revision`. */
  compact(revision: number): Promise<void>;
  /** Oldest revision that can still be read or watched from (exclusive bound: > compactedRevision). */
  compactedRevision(): Promise<number>;
  close(): Promise<void>;
}

export class KeyExistsError extends Error {
  constructor(readonly key: string) {
    super(`key exists: ${key}`);
  }
}

export class KeyNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
  }
}

export class ConflictError extends Error {
  constructor(
    readonly key: string,
    readonly current: KeyValue,
  ) {
    super(`modRevision mismatch for ${key}`);
  }
}

export class CompactedError extends Error {
  constructor(
    readonly requested: number,
    readonly compacted: number,
  ) {
    super(`required revision ${requested} has been compacted (compacted up to ${compacted})`);
  }
}

/** Revision requested is beyond what the store has (for reads at a future revision). */
export class FutureRevisionError extends Error {
  constructor(readonly requested: number) {
    super(`required revision ${requested} is a future revision`);
  }
}
