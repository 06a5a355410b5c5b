// SqliteStore: the embedded datastore, an etcd-shaped revision log in one SQLite file (see
// schema.ts for the table layout). better-sqlite3 is synchronous and this process is the only
// writer, so every operation runs to completion without interleaving, watchers are notified
// in-process right after each commit (no polling of the log as kine does), and the global
// revision is kept in memory.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompactedError,
  ConflictError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type WatchEvent,
  type WatchOptions,
} from '../store.js';
import { startCompactor, type CompactorOptions } from '../compactor.js';
import { prefixEnd, prepareStatements, SCHEMA_SQL, type LogRow, type Statements } from './schema.js';

export interface SqliteStoreOptions {
  /** Database file (its directory is created), or ':memory:' for tests. */
  path: string;
}

const COMPACTED_KEY = 'compacted_revision';
/** Rows read per step when replaying a watch backlog, so a long backlog does not block the loop. */
const BACKLOG_CHUNK = 1000;
/** Revisions deleted per transaction during compaction. */
const COMPACT_WINDOW = 10_000;

interface Watcher {
  prefix: string;
  end: string;
  /** Highest revision delivered (or skipped as not matching) so far. */
  lastRev: number;
  /** While replaying the backlog from the log, live notifications are left to the replay. */
  catchingUp: boolean;
  opts: WatchOptions;
  stop: () => void;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt: Statements;
  private rev: number;
  private compacted: number;
  private readonly watchers = new Set<Watcher>();
  private pending: WatchEvent[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly writeCreate: (key: string, value: Buffer) => LogRow;
  private readonly writeUpdate: (key: string, value: Buffer, expected: number) => LogRow;
  private readonly writeDelete: (key: string, expected: number | undefined) => LogRow;

  constructor(opts: SqliteStoreOptions) {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    this.db = new Database(opts.path);
    // WAL with synchronous=NORMAL: a commit is a write() into the WAL file without fsync. The OS
    // keeps it when the process is killed (even with SIGKILL), which is the durability we promise;
    // only a power loss or kernel crash can drop the last commits (never corrupt the database).
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA_SQL);
    this.stmt = prepareStatements(this.db);
    this.rev = this.stmt.maxSequence.get()?.seq ?? 0;
    this.compacted = this.stmt.getMeta.get(COMPACTED_KEY)?.value ?? 0;

    // Each write is one transaction: read the latest row, check, append, move the current pointer.
    this.writeCreate = this.db.transaction((key: string, value: Buffer): LogRow => {
      const latest = this.stmt.latestRow.get(key);
      if (latest && !latest.deleted) throw new KeyExistsError(key);
      return this.append({ name: key, created: 1, deleted: 0, createRevision: 0, prev: latest?.id ?? 0, value, old: null });
    });
    this.writeUpdate = this.db.transaction((key: string, value: Buffer, expected: number): LogRow => {
      const cur = this.stmt.getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      if (cur.id !== expected) throw new ConflictError(key, rowToKv(cur));
      return this.append({ name: key, created: 0, deleted: 0, createRevision: createRev(cur), prev: cur.id, value, old: cur.value });
    });
    this.writeDelete = this.db.transaction((key: string, expected: number | undefined): LogRow => {
      const cur = this.stmt.getCurrent.get(key);
      if (!cur) throw new KeyNotFoundError(key);
      if (expected !== undefined && cur.id !== expected) throw new ConflictError(key, rowToKv(cur));
      return this.append({ name: key, created: 0, deleted: 1, createRevision: createRev(cur), prev: cur.id, value: null, old: cur.value });
    });
  }

  private append(r: {
    name: string;
    created: number;
    deleted: number;
    createRevision: number;
    prev: number;
    value: Buffer | null;
    old: Buffer | null;
  }): LogRow {
    // The unique (name, prev_revision) index rejects a second successor of the same row; with one
    // writer process the checks above already exclude that, so a failure here is a real bug.
    const info = this.stmt.insert.run(r.name, r.created, r.deleted, r.createRevision, r.prev, r.value, r.old);
    const id = Number(info.lastInsertRowid);
    const createRevision = r.created ? id : r.createRevision;
    if (r.deleted) this.stmt.dropCurrent.run(r.name);
    else this.stmt.setCurrent.run(r.name, id);
    return {
      id,
      name: r.name,
      created: r.created,
      deleted: r.deleted,
      create_revision: createRevision,
      prev_revision: r.prev,
      value: r.value,
      old_value: r.old,
    };
  }

  /** After a commit: advance the revision and queue the event for the next flush. */
  private committed(row: LogRow): void {
    this.rev = row.id;
    if (this.watchers.size === 0) return;
    this.pending.push(rowToEvent(row));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.pending;
    this.pending = [];
    for (const w of this.watchers) {
      if (w.catchingUp) continue;
      const batch = events.filter((e) => e.kv.modRevision > w.lastRev && inRange(e.kv.key, w));
      if (events.length) w.lastRev = Math.max(w.lastRev, events[events.length - 1]!.kv.modRevision);
      if (batch.length) this.deliver(w, batch);
    }
  }

  private deliver(w: Watcher, batch: WatchEvent[]): void {
    try {
      w.opts.onEvents(batch);
    } catch (err) {
      // A throwing consumer ends its own watch rather than the other watchers' delivery.
      this.fail(w, err instanceof Error ? err : new Error(String(err)));
    }
  }

  private fail(w: Watcher, err: Error): void {
    if (!this.watchers.has(w)) return;
    w.stop();
    w.opts.onError(err);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('sqlite store is closed');
  }

  async currentRevision(): Promise<number> {
    this.checkOpen();
    return this.rev;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.checkOpen();
    const row = this.stmt.getCurrent.get(key);
    return row ? rowToKv(row) : undefined;
  }

  async list(opts: ListOptions): Promise<ListResult> {
    this.checkOpen();
    const revision = opts.revision && opts.revision > 0 ? opts.revision : 0;
    if (revision > this.rev) throw new FutureRevisionError(revision);
    if (revision && revision < this.compacted) throw new CompactedError(revision, this.compacted);
    const end = prefixEnd(opts.prefix);
    // `>= startAfter + "\0"` is `> startAfter`, so one inclusive lower bound serves both cases.
    const from =
      opts.startAfter !== undefined && opts.startAfter + '\0' > opts.prefix ? opts.startAfter + '\0' : opts.prefix;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    const fetch = limit > 0 ? limit + 1 : -1;
    const latest = revision === 0 || revision === this.rev;
    const rows = latest
      ? this.stmt.listCurrent.all(from, end, fetch)
      : this.stmt.listAt.all(from, end, revision, fetch).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    const items = rows.map(rowToKv);
    let remaining = 0;
    if (more) {
      const next = items[items.length - 1]!.key + '\0';
      remaining = latest ? this.stmt.countCurrent.get(next, end)!.n : this.stmt.countAt.get(next, end, revision)!.n;
    }
    return { items, revision: latest ? this.rev : revision, more, remaining };
  }

  async count(prefix: string): Promise<number> {
    this.checkOpen();
    return this.stmt.countCurrent.get(prefix, prefixEnd(prefix))!.n;
  }

  async create(key: string, value: Buffer): Promise<KeyValue> {
    this.checkOpen();
    const row = this.writeCreate(key, value);
    this.committed(row);
    return rowToKv(row);
  }

  async update(key: string, value: Buffer, expectedModRevision: number): Promise<KeyValue> {
    this.checkOpen();
    const row = this.writeUpdate(key, value, expectedModRevision);
    this.committed(row);
    return rowToKv(row);
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    this.checkOpen();
    const row = this.writeDelete(key, expectedModRevision);
    this.committed(row);
    return rowToEvent(row).kv;
  }

  watch(opts: WatchOptions): void {
    this.checkOpen();
    if (opts.signal.aborted) return;
    const w: Watcher = {
      prefix: opts.prefix,
      end: prefixEnd(opts.prefix),
      lastRev: Math.max(0, opts.afterRevision),
      catchingUp: true,
      opts,
      stop: () => {
        this.watchers.delete(w);
        opts.signal.removeEventListener('abort', w.stop);
      },
    };
    this.watchers.add(w);
    opts.signal.addEventListener('abort', w.stop, { once: true });
    // Everything is delivered asynchronously, so the caller can finish setting up first.
    setImmediate(() => this.catchUp(w));
  }

  /** Replays the log after w.lastRev in chunks, then hands the watcher over to live flushes. */
  private catchUp(w: Watcher): void {
    if (!this.watchers.has(w)) return;
    if (w.lastRev < this.compacted) {
      this.fail(w, new CompactedError(w.lastRev, this.compacted));
      return;
    }
    if (w.lastRev > this.rev) {
      // etcd waits for a future start revision; so do we, the live flushes filter by lastRev.
      w.catchingUp = false;
      return;
    }
    const upTo = this.rev;
    const rows = this.stmt.after.all(w.lastRev, upTo, w.prefix, w.end, BACKLOG_CHUNK);
    if (rows.length < BACKLOG_CHUNK) {
      w.lastRev = upTo;
      w.catchingUp = false;
    } else {
      w.lastRev = rows[rows.length - 1]!.id;
    }
    if (rows.length) this.deliver(w, rows.map(rowToEvent));
    if (w.catchingUp) setImmediate(() => this.catchUp(w));
  }

  async compact(revision: number): Promise<void> {
    this.checkOpen();
    if (revision > this.rev) throw new FutureRevisionError(revision);
    const from = this.compacted;
    if (revision <= from) return;
    // Raise the horizon first: from here on reads and watch replays below it fail instead of
    // seeing a half-compacted log while the windows below are deleted between event-loop turns.
    this.compacted = revision;
    this.stmt.setMeta.run(COMPACTED_KEY, revision);
    const window = this.db.transaction((lo: number, hi: number) => {
      this.stmt.compactSuperseded.run(lo, hi);
      this.stmt.compactTombstones.run(lo, hi);
    });
    for (let lo = from; lo < revision; lo += COMPACT_WINDOW) {
      if (this.closed) return;
      window(lo, Math.min(lo + COMPACT_WINDOW, revision));
      if (lo + COMPACT_WINDOW < revision) await new Promise((r) => setImmediate(r));
    }
    for (const w of [...this.watchers]) {
      if (w.catchingUp && w.lastRev < revision) this.fail(w, new CompactedError(w.lastRev, revision));
    }
  }

  async compactedRevision(): Promise<number> {
    this.checkOpen();
    return this.compacted;
  }

  /** Periodic compaction, like the API server's (every 5 minutes by default upstream). */
  startCompactor(opts: CompactorOptions): void {
    startCompactor(this, opts);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new Error('sqlite store closed');
    for (const w of [...this.watchers]) this.fail(w, err);
    this.db.close();
  }
}

function inRange(key: string, w: Watcher): boolean {
  return key >= w.prefix && key < w.end;
}

/** A create row stores create_revision 0 (its id is not known before the insert): it is its own. */
function createRev(row: LogRow): number {
  return row.created ? row.id : row.create_revision;
}

function rowToKv(row: LogRow): KeyValue {
  return { key: row.name, value: row.value ?? Buffer.alloc(0), createRevision: createRev(row), modRevision: row.id };
}

function rowToEvent(row: LogRow): WatchEvent {
  const prevKv: KeyValue | undefined = row.created
    ? undefined
    : { key: row.name, value: row.old_value ?? Buffer.alloc(0), createRevision: createRev(row), modRevision: row.prev_revision };
  if (row.deleted) {
    return {
      type: 'DELETE',
      kv: { key: row.name, value: prevKv!.value, createRevision: createRev(row), modRevision: row.id },
      prevKv,
      created: false,
    };
  }
  return { type: 'PUT', kv: rowToKv(row), prevKv, created: row.created === 1 };
}
