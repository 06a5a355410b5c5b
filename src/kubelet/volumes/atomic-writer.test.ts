import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AtomicWriter, type Payload, validatePayloadPath } from './atomic-writer.js';

const payload = (entries: Record<string, string | [string, number]>): Payload =>
  new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? { data: Buffer.from(v), mode: 0o644 } : { data: Buffer.from(v[0]), mode: v[1] }]));

describe('AtomicWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-atomic-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('upstream layout: a version folder, ..data, and top-level links; rewrites only on change', async () => {
    const target = join(dir, 'layout');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(target);
    const w = new AtomicWriter(target);
    assert.equal(await w.write(payload({ a: 'one', 'conf/b.yaml': ['b: 1', 0o600] }), { now: new Date('2026-11-25T10:00:00Z') }), true);
    const v1 = readlinkSync(join(target, '..data'));
    assert.match(v1, /^\.\.2026_11_25_10_00_00\.\d{9}$/);
    assert.equal(readlinkSync(join(target, 'a')), '..data/a');
    assert.equal(readlinkSync(join(target, 'conf')), '..data/conf');
    assert.equal(readFileSync(join(target, 'conf/b.yaml'), 'utf8'), 'b: 1');
    assert.equal(statSync(join(target, 'conf/b.yaml')).mode & 0o777, 0o600);
    assert.equal(statSync(join(target, 'a')).mode & 0o777, 0o644);

    assert.equal(await w.write(payload({ a: 'one', 'conf/b.yaml': ['b: 1', 0o600] })), false, 'same content: nothing written');
    assert.equal(readlinkSync(join(target, '..data')), v1);

    assert.equal(await w.write(payload({ a: 'two', c: 'new' })), true);
    const v2 = readlinkSync(join(target, '..data'));
    assert.notEqual(v2, v1);
    assert.deepEqual(readdirSync(target).sort(), ['..data', v2, 'a', 'c'].sort(), 'old version and the removed key are gone');
    assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'two');
    assert.equal(await w.write(payload({ a: ['two', 0o400], c: 'new' })), true, 'a mode change is a change');
  });

  test('paths that would escape the volume are refused', () => {
    assert.match(validatePayloadPath('/etc/passwd')!, /must be relative/);
    assert.match(validatePayloadPath('a/../../x')!, /'\.\.'/);
    assert.match(validatePayloadPath('..data')!, /must not start with '\.\.'/);
    assert.equal(validatePayloadPath('a/b.c'), undefined);
  });

  test('a concurrent reader always sees whole files and one version through ..data', async () => {
    const target = join(dir, 'race');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(target);
    const w = new AtomicWriter(target);
    const big = (v: number) => `v${v}:` + 'x'.repeat(200_000) + `:v${v}`;
    await w.write(payload({ a: big(0), b: big(0) }));
    // A separate process, so reads really interleave with the writer's renames.
    const reader = `
      const fs = require('fs'), path = require('path');
      const dir = process.argv[1];
      const end = Date.now() + 1500;
      let reads = 0, torn = 0, mixed = 0, noData = 0, versions = new Set();
      const whole = (s) => { const m = /^v(\\d+):x+:v(\\d+)$/.exec(s); return m && m[1] === m[2] ? m[1] : null; };
      while (Date.now() < end) {
        let target;
        try { target = fs.readlinkSync(path.join(dir, '..data')); } catch { noData++; continue; }
        let a, b;
        try {
          a = whole(fs.readFileSync(path.join(dir, target, 'a'), 'utf8'));
          b = whole(fs.readFileSync(path.join(dir, target, 'b'), 'utf8'));
        } catch { continue; } // that version was removed between readlink and read: retry
        reads++;
        if (a === null || b === null) torn++;
        else if (a !== b) mixed++;
        versions.add(a);
        try { if (whole(fs.readFileSync(path.join(dir, 'a'), 'utf8')) === null) torn++; } catch (e) { if (e.code !== 'ENOENT') throw e; torn++; }
      }
      console.log(JSON.stringify({ reads, torn, mixed, noData, versions: versions.size }));
    `;
    const child = spawn(process.execPath, ['-e', reader, target], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    let running = true;
    void exited.then(() => (running = false));
    let v = 1;
    try {
      while (running) {
        await w.write(payload({ a: big(v), b: big(v) }));
        v++;
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      if (child.exitCode === null) child.kill();
    }
    assert.equal(await exited, 0);
    const r = JSON.parse(out);
    assert.ok(v > 10, `writer made ${v} versions`);
    assert.ok(r.reads > 10, `reader read ${r.reads} times`);
    assert.equal(r.torn, 0, 'no partial file seen');
    assert.equal(r.mixed, 0, 'a and b always from the same version');
    assert.equal(r.noData, 0, '..data always present: it flips in one rename');
    assert.ok(r.versions > 1, 'the reader saw updates');
    const left = readdirSync(target).filter((n) => n.startsWith('..') && n !== '..data');
    assert.equal(left.length, 1, `only the current version folder remains: ${left}`);
    assert.ok(lstatSync(join(target, '..data')).isSymbolicLink());
  });
});
