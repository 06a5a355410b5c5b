// Acceptance: `kubectl get pods -w` sees ADDED/MODIFIED/DELETED, filtered by -l and
// --field-selector; --chunk-size=100 over 1,000 pods returns all of them.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, `kubectl failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
};

/** Collects a child's stdout until `until` matches or the timeout passes, then kills it. */
function collect(p: ChildProcess, until: (s: string) => boolean, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const done = () => {
      clearTimeout(t);
      p.kill('SIGKILL');
      resolve(out);
    };
    const t = setTimeout(done, timeoutMs);
    p.stdout!.on('data', (d) => {
      out += d;
      if (until(out)) done();
    });
  });
}

async function waitFor(p: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<void> {
  // kubectl prints its first line (or "No resources found") once the watch is established.
  let seen = '';
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    const on = (d: Buffer) => {
      seen += d;
      if (re.test(seen)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
  });
}

export function watchAndChunks(srv: () => K8tsServer, ns: string): void {
  const k = (args: string[], opts?: Parameters<K8tsServer['kubectl']>[1]) => srv().kubectl(args, opts);

  test('kubectl get pods -w prints ADDED, MODIFIED and DELETED', async () => {
    ok(await k(['create', 'ns', ns]));
    ok(await k(['run', 'seed', '-n', ns, '--image=registry.local/busybox:1', '--restart=Never', '--labels=app=seed']));
    const w = srv().spawnKubectl(['get', 'pods', '-n', ns, '-w', '--output-watch-events']);
    // Wait for the whole DELETED line: kubectl may flush the row in pieces.
    const all = collect(w, (s) => /^DELETED\s+w1\s.*\n/m.test(s));
    await waitFor(w, /seed/);
    ok(await k(['run', 'w1', '-n', ns, '--image=registry.local/busybox:1', '--restart=Never', '--labels=app=a']));
    ok(await k(['label', 'pod', 'w1', '-n', ns, 'extra=yes']));
    ok(await k(['delete', 'pod', 'w1', '-n', ns, '--wait=false']));
    const out = await all;
    assert.match(out, /^EVENT\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    assert.match(out, /^ADDED\s+w1\s+0\/1\s+Pending\s+0\s+\S+$/m);
    assert.match(out, /^MODIFIED\s+w1\s+/m);
    assert.match(out, /^DELETED\s+w1\s+/m);
  });

  test('watch filtered by -l and --field-selector', async () => {
    const byLabel = srv().spawnKubectl(['get', 'pods', '-n', ns, '-w', '--output-watch-events', '-l', 'app=b']);
    const byField = srv().spawnKubectl(['get', 'pods', '-n', ns, '-w', '--output-watch-events', '--field-selector', 'metadata.name=f2']);
    const outL = collect(byLabel, (s) => /ADDED\s+f3\s.*\n/.test(s));
    const outF = collect(byField, (s) => /ADDED\s+f2\s.*\n/.test(s));
    await Promise.all([waitFor(byLabel, /No resources found|NAME/), waitFor(byField, /No resources found|NAME/)]);
    ok(await k(['run', 'f1', '-n', ns, '--image=registry.local/busybox:1', '--restart=Never', '--labels=app=a']));
    ok(await k(['run', 'f2', '-n', ns, '--image=registry.local/busybox:1', '--restart=Never', '--labels=app=a']));
    ok(await k(['run', 'f3', '-n', ns, '--image=registry.local/busybox:1', '--restart=Never', '--labels=app=b']));
    const [l, f] = await Promise.all([outL, outF]);
    assert.match(l, /ADDED\s+f3\b/);
    assert.doesNotMatch(l, /\bf1\b|\bf2\b/);
    assert.match(f, /ADDED\s+f2\b/);
    assert.doesNotMatch(f, /\bf1\b|\bf3\b/);
  });

  test('--chunk-size=100 over 1,000 pods returns all 1,000', async () => {
    const chunkNs = `${ns}-chunks`;
    ok(await k(['create', 'ns', chunkNs]));
    const raw = new RawClient(srv().kubeconfig);
    try {
      let next = 0;
      const worker = async () => {
        while (next < 1000) {
          const i = next++;
          const pod = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: `p-${String(i).padStart(4, '0')}`, labels: { batch: i % 2 ? 'odd' : 'even' } },
            spec: { containers: [{ name: 'c', image: 'registry.local/busybox:1' }] },
          };
          const r = await raw.request('POST', `/api/v1/namespaces/${chunkNs}/pods`, JSON.stringify(pod));
          assert.equal(r.status, 201, r.body);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
      raw.close();
    }
    const names = ok(await k(['get', 'pods', '-n', chunkNs, '--chunk-size=100', '-o', 'name'], { timeoutMs: 60_000 })).trim().split('\n');
    assert.equal(names.length, 1000);
    assert.equal(new Set(names).size, 1000);
    const table = ok(await k(['get', 'pods', '-n', chunkNs, '--chunk-size=100'], { timeoutMs: 60_000 })).trim().split('\n');
    assert.equal(table.length, 1001);
    const odd = ok(await k(['get', 'pods', '-n', chunkNs, '--chunk-size=7', '-l', 'batch=odd', '-o', 'name'], { timeoutMs: 60_000 })).trim().split('\n');
    assert.equal(odd.length, 500);
    ok(await k(['delete', 'ns', chunkNs, '--wait=false']));
  });
}
