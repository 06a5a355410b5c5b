import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runStoreContract, WatchRecorder } from '../store-contract.js';
import { CompactedError } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const tmp = mkdtempSync(join(tmpdir(), 'k8ts-sqlite-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

runStoreContract('sqlite (file)', { open: async () => new SqliteStore({ path: join(tmp, `contract-${++n}`, 'state.db') }) });
runStoreContract('sqlite (:memory:)', { open: async () => new SqliteStore({ path: ':memory:' }) });

describe('SqliteStore', () => {
  test('reopening a file database keeps every key and continues the revision', async () => {
    const path = join(tmp, 'reopen', 'db', 'state.db');
    const s1 = new SqliteStore({ path });
    const a = await s1.create('/r/a', Buffer.from('a'));
    await s1.update('/r/a', Buffer.from('a2'), a.modRevision);
    await s1.create('/r/b', Buffer.from('b'));
    const last = await s1.delete('/r/b');
    await s1.compact(a.modRevision + 1);
    await s1.close();

    const s2 = new SqliteStore({ path });
    try {
      assert.equal(await s2.currentRevision(), last.modRevision);
      assert.equal(await s2.compactedRevision(), a.modRevision + 1);
      assert.equal((await s2.get('/r/a'))?.value.toString(), 'a2');
      assert.equal(await s2.get('/r/b'), undefined);
      const c = await s2.create('/r/c', Buffer.from('c'));
      assert.equal(c.modRevision, last.modRevision + 1);
      // The tombstone of /r/b was the newest row and is compacted away, yet ids are not reused.
      await s2.compact(last.modRevision);
      const d = await s2.create('/r/b', Buffer.from('b again'));
      assert.equal(d.modRevision, c.modRevision + 1);
      await assert.rejects(s2.list({ prefix: '/r/', revision: a.modRevision }), CompactedError);
    } finally {
      await s2.close();
    }
  });

  test('acknowledged writes survive SIGKILL of the writing process', { timeout: 60_000 }, async () => {
    const path = join(tmp, 'kill', 'state.db');
    const storeModule = new URL('./sqlite-store.js', import.meta.url).href;
    // The child writes as fast as it can and prints each key after the write resolved.
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(storeModule)});
      const s = new SqliteStore({ path: ${JSON.stringify(path)} });
      for (let i = 0; ; i++) {
        const key = '/kill/' + String(i).padStart(8, '0');
        await s.create(key, Buffer.from('value-' + i));
        process.stdout.write(key + '\\n');
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    let partial = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        child.stdout.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString()).split('\n');
          partial = lines.pop()!;
          acked.push(...lines);
          if (acked.length >= 3000) resolve();
        });
      });
    } finally {
      child.removeAllListeners('exit');
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    }
    assert.ok(acked.length >= 3000);

    const s = new SqliteStore({ path });
    try {
      const missing = [];
      for (const key of acked) {
        const kv = await s.get(key);
        if (!kv || kv.value.toString() !== 'value-' + Number(key.slice(6))) missing.push(key);
      }
      assert.deepEqual(missing, []);
      assert.ok((await s.count('/kill/')) >= acked.length);
      // The log is usable after the crash: revisions continue.
      const next = await s.create('/kill/after', Buffer.from('x'));
      assert.ok(next.modRevision > acked.length);
    } finally {
      await s.close();
    }
  });

  test('a long backlog is replayed in chunks and then continues live', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    const w = new WatchRecorder();
    try {
      for (let i = 0; i < 2500; i++) await s.create(`/b/${i}`, Buffer.from(String(i)));
      w.start(s, '/b/', 0);
      await s.create('/b/live', Buffer.from('live'));
      const ev = await w.waitFor(2501);
      assert.ok(w.batches.length >= 3, 'delivered in several batches');
      assert.deepEqual(ev.map((e) => e.kv.modRevision), Array.from({ length: 2501 }, (_, i) => i + 1));
    } finally {
      w.stop();
      await s.close();
    }
  });

  test('closing the store ends watches with an error', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    const w = new WatchRecorder().start(s, '/', 0);
    await s.close();
    assert.match((await w.waitForError()).message, /closed/);
    await assert.rejects(s.get('/x'), /closed/);
  });

  test('compaction removes superseded rows but keeps each live key', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    try {
      let kv = await s.create('/c/a', Buffer.from('0'));
      for (let i = 1; i <= 30; i++) kv = await s.update('/c/a', Buffer.from(String(i)), kv.modRevision);
      const gone = await s.create('/c/gone', Buffer.from('x'));
      await s.delete('/c/gone', gone.modRevision);
      await s.compact(await s.currentRevision());
      const rows = (s as unknown as { db: { prepare(q: string): { get(): { n: number } } } }).db
        .prepare('SELECT count(*) AS n FROM kine')
        .get().n;
      assert.equal(rows, 1, 'only the latest row of /c/a remains');
      assert.equal((await s.get('/c/a'))?.value.toString(), '30');
      const u = await s.update('/c/a', Buffer.from('31'), kv.modRevision);
      assert.equal(u.createRevision, 1);
    } finally {
      await s.close();
    }
  });

  test('startCompactor keeps the requested number of revisions', async () => {
    const s = new SqliteStore({ path: ':memory:' });
    const ac = new AbortController();
    try {
      for (let i = 0; i < 20; i++) await s.create(`/p/${i}`, Buffer.from('x'));
      s.startCompactor({ intervalMs: 10, keepRevisions: 5, signal: ac.signal });
      const deadline = Date.now() + 5000;
      while ((await s.compactedRevision()) !== 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await s.compactedRevision(), 15);
    } finally {
      ac.abort();
      await s.close();
    }
  });
});
