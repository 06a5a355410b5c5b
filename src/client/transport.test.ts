// The watch transport against a plain HTTP server on a Unix socket that misbehaves on purpose:
// a server that goes silent must not stall a watch that asked for bookmarks.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpTransport } from './transport.js';

describe('watch idle timeout', { timeout: 20_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-transport-'));
  const socketPath = join(dir, 'api.sock');
  const open = new Set<ServerResponse>();
  let chatty: NodeJS.Timeout | undefined;
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    open.add(res);
    // ?chatty: a bookmark every 50 ms; otherwise one event, then silence (a dead peer).
    const event = (type: string) => res.write(JSON.stringify({ type, object: { kind: 'Pod', metadata: { name: 'p', resourceVersion: '7' } } }) + '\n');
    event('ADDED');
    if (req.url?.includes('chatty')) chatty = setInterval(() => event('BOOKMARK'), 50);
  });
  before(() => new Promise<void>((r) => server.listen(socketPath, r)));
  after(() => {
    clearInterval(chatty);
    for (const res of open) res.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const transport = new HttpTransport({ server: 'http://localhost', ca: '', socketPath, watchIdleTimeoutMs: 300 });

  test('a silent server ends a bookmark watch with an error after the idle timeout', async () => {
    const events: string[] = [];
    const started = performance.now();
    await assert.rejects(
      transport.watch('/api/v1/pods', { allowWatchBookmarks: true }, (e) => void events.push(e.type), new AbortController().signal),
      /nothing received for 0\.3 s, reconnecting/,
    );
    assert.deepEqual(events, ['ADDED']);
    assert.ok(performance.now() - started >= 250);
  });

  test('a server that sends bookmarks keeps the watch open; without bookmarks there is no idle limit', async () => {
    const ac = new AbortController();
    const events: string[] = [];
    const chattyWatch = transport.watch('/api/v1/pods', { allowWatchBookmarks: true, labelSelector: 'chatty' }, (e) => void events.push(e.type), ac.signal);
    const quiet = new AbortController();
    let quietEnded = false;
    const quietWatch = transport.watch('/api/v1/pods', {}, () => {}, quiet.signal).then(() => (quietEnded = true));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(quietEnded, false, 'a watch without bookmarks waits for the server');
    ac.abort();
    quiet.abort();
    await chattyWatch;
    await quietWatch;
    assert.ok(events.filter((t) => t === 'BOOKMARK').length >= 10, `${events.length} events`);
  });
});
