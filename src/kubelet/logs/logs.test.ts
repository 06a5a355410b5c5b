import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { formatCriLogLine, parseCriLogLine } from './cri-log.js';
import { ContainerLogRotator } from './log-rotator.js';
import { parseLogOptions, readContainerLogs, type LogOptions } from './read-logs.js';

const T0 = Date.parse('2026-01-02T03:04:05.000Z');
const line = (sec: number, content: string, o: { stream?: 'stdout' | 'stderr'; partial?: boolean } = {}) =>
  formatCriLogLine({ time: new Date(T0 + sec * 1000), stream: o.stream ?? 'stdout', partial: o.partial, content });

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-logs-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function read(path: string, options: LogOptions, extra: { isRunning?: () => Promise<boolean>; signal?: AbortSignal } = {}): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  await readContainerLogs({ path, options, out, pollIntervalMs: 20, ...extra });
  return text;
}

test('parses CRI lines, including old ones without tags, and rejects garbage', () => {
  const r = parseCriLogLine(Buffer.from('2026-01-02T03:04:05.123456789Z stderr P hello world'));
  assert.equal(r?.stream, 'stderr');
  assert.equal(r?.partial, true);
  assert.equal(r?.content.toString(), 'hello world');
  assert.equal(r?.timeMs, Date.parse('2026-01-02T03:04:05.123Z'));
  assert.equal(parseCriLogLine(Buffer.from('2026-01-02T03:04:05Z stdout F '))?.content.toString(), '');
  assert.equal(parseCriLogLine(Buffer.from('2026-01-02T03:04:05Z stdout plain text'))?.content.toString(), 'plain text');
  assert.equal(parseCriLogLine(Buffer.from('not a log line')), undefined);
  assert.equal(parseCriLogLine(Buffer.from('yesterday stdout F x')), undefined);
});

test(
  'joins partial lines, strips the prefix, keeps timestamps on request, tails and limits',
  withDir(async (dir) => {
    const p = join(dir, '0.log');
    writeFileSync(
      p,
      line(0, 'one') + line(1, 'tw', { partial: true }) + line(1, 'err', { stream: 'stderr' }) + line(2, 'o') + line(3, 'three') + line(4, 'four'),
    );
    assert.equal(await read(p, {}), 'one\nerr\ntwo\nthree\nfour\n');
    assert.equal(await read(p, { tailLines: 2 }), 'three\nfour\n');
    assert.equal(await read(p, { tailLines: 0 }), '');
    assert.equal(await read(p, { tailLines: 100 }), 'one\nerr\ntwo\nthree\nfour\n');
    assert.equal(await read(p, { limitBytes: 6 }), 'one\ner');
    assert.equal(await read(p, { tailLines: 1, timestamps: true }), '2026-01-02T03:04:09.000000000Z four\n');
    assert.equal(await read(p, { since: new Date(T0 + 3000) }), 'three\nfour\n');
  }),
);

test('parses the query options with upstream validation', () => {
  const now = T0;
  assert.deepEqual(parseLogOptions(new URLSearchParams('follow=true&tailLines=5&timestamps=true&limitBytes=10'), now), {
    follow: true,
    timestamps: true,
    tailLines: 5,
    limitBytes: 10,
  });
  assert.equal(parseLogOptions(new URLSearchParams('sinceSeconds=10'), now).since?.getTime(), T0 - 10_000);
  assert.equal(parseLogOptions(new URLSearchParams('sinceTime=2026-01-02T03:04:05Z'), now).since?.getTime(), T0);
  assert.throws(() => parseLogOptions(new URLSearchParams('tailLines=x')), /invalid value for tailLines/);
  assert.throws(() => parseLogOptions(new URLSearchParams('sinceSeconds=1&sinceTime=2026-01-02T03:04:05Z')), /at most one/);
  assert.throws(() => parseLogOptions(new URLSearchParams('limitBytes=0')), /greater than 0/);
});

test(
  'follow reads a growing file, follows a rotation, and ends when the container stops',
  withDir(async (dir) => {
    const p = join(dir, '0.log');
    writeFileSync(p, line(0, 'a'));
    let running = true;
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const done = readContainerLogs({ path: p, options: { follow: true }, out, pollIntervalMs: 20, isRunning: async () => running });
    const waitFor = async (s: string) => {
      for (let i = 0; i < 200 && text !== s; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(text, s);
    };
    await waitFor('a\n');
    appendFileSync(p, line(1, 'b', { partial: true }));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(text, 'a\n', 'a partial line waits for its end');
    appendFileSync(p, line(1, 'c'));
    await waitFor('a\nbc\n');
    // Rotation: the file is renamed away and a new one appears at the path.
    renameSync(p, `${p}.20260102-030405`);
    writeFileSync(p, line(2, 'd'));
    await waitFor('a\nbc\nd\n');
    appendFileSync(p, line(3, 'last'));
    running = false;
    await done;
    assert.equal(text, 'a\nbc\nd\nlast\n');
  }),
);

test(
  'follow stops when the client goes away',
  withDir(async (dir) => {
    const p = join(dir, '0.log');
    writeFileSync(p, line(0, 'a'));
    const ac = new AbortController();
    const done = read(p, { follow: true }, { signal: ac.signal, isRunning: async () => true });
    setTimeout(() => ac.abort(), 80);
    assert.equal(await done, 'a\n');
  }),
);

test('a missing file is an error', async () => {
  await assert.rejects(read('/nonexistent/k8ts/0.log', {}), /ENOENT/);
});

test(
  'rotation renames the log, reopens it through the runtime and keeps at most maxFiles',
  withDir(async (dir) => {
    const p = join(dir, '0.log');
    const reopened: string[] = [];
    let clock = Date.parse('2026-01-02T03:04:05Z');
    const runtime = {
      reopenContainerLog: async (id: string) => {
        reopened.push(id);
        writeFileSync(p, '');
      },
      listContainers: async () => [{ id: 'c1' }] as never,
      containerStatus: async () => ({ status: { log_path: p } }) as never,
    };
    const rot = new ContainerLogRotator({ runtime, maxSize: 100, maxFiles: 3, now: () => new Date((clock += 1000)) });
    writeFileSync(p, 'x'.repeat(50));
    assert.equal(await rot.rotate('c1', p), false, 'under the size');
    for (let i = 0; i < 4; i++) {
      writeFileSync(p, line(i, 'y'.repeat(120)));
      await rot.rotateAll();
    }
    assert.deepEqual(reopened, ['c1', 'c1', 'c1', 'c1']);
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, ['0.log', '0.log.20260102-030408', '0.log.20260102-030409']);
    assert.ok(existsSync(p));
    // A failed reopen puts the file back.
    writeFileSync(p, 'z'.repeat(200));
    const failing = new ContainerLogRotator({ runtime: { ...runtime, reopenContainerLog: async () => Promise.reject(new Error('boom')) }, maxSize: 100 });
    await assert.rejects(failing.rotate('c1', p), /boom/);
    assert.equal(readdirSync(dir).length, 3);
  }),
);
