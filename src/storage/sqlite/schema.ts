// Table layout and prepared statements of the SQLite revision log (after kine's generic driver,
// https://github.com/k3s-io/kine/blob/master/pkg/drivers/generic/generic.go).
//
// `kine` is append-only: every write is a row and the row id is the store revision (AUTOINCREMENT,
// so ids are never reused, even after compaction removed the newest row). A unique index on
// (name, prev_revision) makes compare-and-swap a plain insert: two writers that read the same
// predecessor cannot both append after it. A create row stores create_revision 0 (its id is not
// known before the insert) and readers take its id instead; later rows copy the real value.
//
// `kine_current` maps each live name to the id of its latest row. It is redundant with the log
// but makes get, count and list at the latest revision a range scan over live keys only, however
// long the history (bench/storage.mjs, 20,000 keys: count 0.5 ms instead of ~15 ms; a full list
// costs ~90 ms either way, most of it materialising the values).

import type Database from 'better-sqlite3';

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS kine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value BLOB,
  old_value BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision ON kine (name, prev_revision);
CREATE INDEX IF NOT EXISTS kine_name_id_deleted ON kine (name, id, deleted);
CREATE TABLE IF NOT EXISTS kine_current (
  name TEXT PRIMARY KEY,
  id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kine_meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** One row of the log, as read back. */
export interface LogRow {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: Buffer | null;
  old_value: Buffer | null;
}

export type Statements = ReturnType<typeof prepareStatements>;

const ROW_COLUMNS = 'k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision, k.value, k.old_value';
// Reads of live values never need old_value; leaving it out saves ~15% on large lists.
const KV_COLUMNS = 'k.id, k.name, k.created, k.deleted, k.create_revision, k.prev_revision, k.value, NULL AS old_value';

export function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare<[string, number, number, number, number, Buffer | null, Buffer | null]>(
      `INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value, old_value)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    setCurrent: db.prepare<[string, number]>(
      'INSERT INTO kine_current (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = excluded.id',
    ),
    dropCurrent: db.prepare<[string]>('DELETE FROM kine_current WHERE name = ?'),
    // Latest row of a name, live or tombstone (a create after a delete chains to the tombstone).
    latestRow: db.prepare<[string], LogRow>(
      `SELECT ${ROW_COLUMNS} FROM kine k WHERE k.name = ? ORDER BY k.id DESC LIMIT 1`,
    ),
    getCurrent: db.prepare<[string], LogRow>(
      `SELECT ${KV_COLUMNS} FROM kine_current c JOIN kine k ON k.id = c.id WHERE c.name = ?`,
    ),
    listCurrent: db.prepare<[string, string, number], LogRow>(
      `SELECT ${KV_COLUMNS} FROM kine_current c JOIN kine k ON k.id = c.id
       WHERE c.name >= ? AND c.name < ? ORDER BY c.name LIMIT ?`,
    ),
    countCurrent: db.prepare<[string, string], { n: number }>(
      'SELECT count(*) AS n FROM kine_current WHERE name >= ? AND name < ?',
    ),
    // State at an older revision: per name the newest row at or below it, unless a tombstone.
    // SQLite takes the bare column `deleted` from the max(id) row, so the whole selection runs
    // on the covering index; only the page's rows are then fetched by id (in no particular
    // order: the caller sorts, which is much cheaper than SQLite sorting the values).
    listAt: db.prepare<[string, string, number, number], LogRow>(
      `SELECT ${KV_COLUMNS} FROM (
         SELECT name, max(id) AS id, deleted FROM kine WHERE name >= ? AND name < ? AND id <= ?
         GROUP BY name HAVING deleted = 0 ORDER BY name LIMIT ?
       ) m JOIN kine k ON k.id = m.id`,
    ),
    countAt: db.prepare<[string, string, number], { n: number }>(
      `SELECT count(*) AS n FROM (
         SELECT max(id) AS id, deleted FROM kine WHERE name >= ? AND name < ? AND id <= ?
         GROUP BY name HAVING deleted = 0
       )`,
    ),
    // The log after a revision, for watch backlogs (range on the primary key, filtered by name).
    after: db.prepare<[number, number, string, string, number], LogRow>(
      `SELECT ${ROW_COLUMNS} FROM kine k WHERE k.id > ? AND k.id <= ? AND k.name >= ? AND k.name < ?
       ORDER BY k.id LIMIT ?`,
    ),
    maxSequence: db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'kine'"),
    getMeta: db.prepare<[string], { value: number }>('SELECT value FROM kine_meta WHERE key = ?'),
    setMeta: db.prepare<[string, number]>(
      'INSERT INTO kine_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    // Compaction, one window of successor revisions at a time: a row is superseded when a later
    // row at or below the horizon names it as prev_revision; tombstones at or below it go too.
    compactSuperseded: db.prepare<[number, number]>(
      'DELETE FROM kine WHERE id IN (SELECT prev_revision FROM kine WHERE id > ? AND id <= ? AND prev_revision > 0)',
    ),
    compactTombstones: db.prepare<[number, number]>('DELETE FROM kine WHERE id > ? AND id <= ? AND deleted = 1'),
  };
}

/**
 * Exclusive upper bound of the names that start with `prefix`, in SQLite's BINARY (UTF-8 byte)
 * order. UTF-8 preserves code point order, so bumping the last character works; a prefix that
 * ends in a surrogate or U+FFFF gets U+10FFFF appended, which sorts after every other character.
 */
export function prefixEnd(prefix: string): string {
  if (prefix === '') return '\u{10FFFF}';
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last >= 0xd800 && last <= 0xdfff) return prefix + '\u{10FFFF}';
  if (last === 0xffff) return prefix + '\u{10FFFF}';
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}
