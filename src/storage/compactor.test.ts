import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCompactor } from './compactor.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

const until = async (cond: () => Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('keepMs compacts to the revision seen keepMs ago, never newer', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const ac = new AbortController();
  let now = 0;
  try {
    for (let i = 0; i < 10; i++) await store.create(`/k/${i}`, Buffer.from('x'));
    // Tick every 5 ms of real time; the fake clock decides what "keepMs ago" means.
    startCompactor(store, { intervalMs: 5, keepMs: 1000, signal: ac.signal, now: () => now });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await store.compactedRevision(), 0, 'nothing is old enough yet');
    now = 600;
    for (let i = 10; i < 20; i++) await store.create(`/k/${i}`, Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await store.compactedRevision(), 0);
    now = 1000; // the samples taken at t=0 (revision 10) are now keepMs old
    await until(async () => (await store.compactedRevision()) === 10);
    now = 1600; // the samples at t=600 saw revision 20
    await until(async () => (await store.compactedRevision()) === 20);
    assert.equal((await store.list({ prefix: '/k/' })).items.length, 20);
  } finally {
    ac.abort();
    await store.close();
  }
});

test('abort stops the compactor', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const ac = new AbortController();
  try {
    for (let i = 0; i < 10; i++) await store.create(`/k/${i}`, Buffer.from('x'));
    startCompactor(store, { intervalMs: 5, keepRevisions: 2, signal: ac.signal });
    await until(async () => (await store.compactedRevision()) === 8);
    ac.abort();
    for (let i = 10; i < 20; i++) await store.create(`/k/${i}`, Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await store.compactedRevision(), 8);
  } finally {
    await store.close();
  }
});
