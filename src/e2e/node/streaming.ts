// kubectl's streaming commands against real containers, with kubectl 1.32 (WebSocket) and 1.27
// (SPDY): logs (-f, --tail, --timestamps), exec (stdin, tty, exit codes), attach, port-forward and
// cp both ways.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { KUBECTL, type K8tsServer } from '../../testing/k8ts-server.js';
import { freePort } from '../../testing/agent-cluster.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';

export const KUBECTL_127 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.27';
export const BUSYBOX = 'docker.io/k8ts/busybox:1.35';

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Collects a long-running kubectl's output until `done` says enough, then kills it. */
async function streamUntil(p: ChildProcess, done: (out: string) => boolean, ms = 20_000): Promise<string> {
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  try {
    await eventually(async () => done(out), `kubectl output (so far: ${JSON.stringify(out.slice(-300))})`, ms);
  } finally {
    p.kill('SIGKILL');
  }
  return out;
}

export function streaming(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const tmp = mkdtempSync(join(tmpdir(), 'k8ts-cp-'));
  before(async () => {
    await k(['create', 'namespace', ns]);
    await k(['run', 'web', '-n', ns, `--image=${BUSYBOX}`, '--', 'sh', '-c', 'echo index > /index.html; echo started web; exec httpd -f -p 8080']);
    await k(['run', 'ticker', '-n', ns, `--image=${BUSYBOX}`, '--', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.5; done']);
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/web', 'pod/ticker', '--timeout=60s'], { timeoutMs: 70_000 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const [version, bin] of [['1.32', KUBECTL], ['1.27', KUBECTL_127]] as const) {
    const kv = (args: string[], input?: string) => srv().kubectl(args, { bin, input, timeoutMs: 30_000 });

    it(`kubectl ${version}: logs, --tail, --timestamps, logs -f`, async () => {
      const logs = await kv(['logs', '-n', ns, 'web']);
      assert.equal(logs.code, 0, logs.stderr);
      assert.equal(logs.stdout, 'started web\n');
      const tail = await kv(['logs', '-n', ns, 'ticker', '--tail=1']);
      assert.match(tail.stdout, /^tick \d+\n$/);
      const ts = await kv(['logs', '-n', ns, 'web', '--timestamps']);
      assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z started web\n$/);
      const p = spawn(bin, ['logs', '-f', '-n', ns, 'ticker', '--tail=1'], { env: { ...process.env, KUBECONFIG: srv().kubeconfig } });
      const out = await streamUntil(p, (o) => o.split('\n').filter((l) => l.startsWith('tick')).length >= 3);
      const ticks = out.split('\n').filter((l) => l.startsWith('tick')).map((l) => Number(l.split(' ')[1]));
      assert.ok(ticks[1] === ticks[0] + 1 && ticks[2] === ticks[1] + 1, `follow streams new lines in order: ${ticks}`);
    });

    it(`kubectl ${version}: exec with stdout, stdin and exit codes`, async () => {
      const ls = await kv(['exec', '-n', ns, 'web', '--', 'ls', '/']);
      assert.equal(ls.code, 0, ls.stderr);
      assert.ok(ls.stdout.split('\n').includes('bin') && ls.stdout.split('\n').includes('index.html'));
      const cat = await kv(['exec', '-i', '-n', ns, 'web', '--', 'cat'], 'through stdin\n');
      assert.equal(cat.stdout, 'through stdin\n');
      const err = await kv(['exec', '-n', ns, 'web', '--', 'sh', '-c', 'echo to-stderr >&2; exit 3']);
      assert.equal(err.code, 3);
      assert.match(err.stderr, /to-stderr/);
      assert.match(err.stderr, /command terminated with exit code 3/);
      const missing = await kv(['exec', '-n', ns, 'web', '--', 'no-such-command']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /no-such-command/);
    });

    it(`kubectl ${version}: exec -it under a terminal`, async () => {
      // script(1) gives kubectl a terminal, as a user's shell would.
      const cmd = `${bin} exec -it -n ${ns} web -- sh -c 'tty; echo cols=$(stty size)'`;
      const r = await new Promise<string>((resolve, reject) => {
        const p = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, KUBECONFIG: srv().kubeconfig, COLUMNS: '100', LINES: '30' } });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
        p.on('exit', (code) => {
          clearTimeout(t);
          if (code === 0) resolve(out);
          else reject(new Error(`exit ${code}: ${out}`));
        });
      });
      assert.match(r, /\/dev\/pts\/\d+/);
    });

    it(`kubectl ${version}: attach to a running container`, async () => {
      const p = spawn(bin, ['attach', '-n', ns, 'ticker'], { env: { ...process.env, KUBECONFIG: srv().kubeconfig } });
      const out = await streamUntil(p, (o) => /tick \d+\n[^]*tick \d+\n/.test(o));
      assert.match(out, /tick \d+/);
    });

    it(`kubectl ${version}: port-forward to the pod`, async () => {
      const port = await freePort();
      const p = spawn(bin, ['port-forward', '-n', ns, 'pod/web', `${port}:8080`], { env: { ...process.env, KUBECONFIG: srv().kubeconfig } });
      try {
        let out = '';
        p.stdout!.on('data', (d) => (out += d));
        await eventually(async () => out.includes('Forwarding from'), 'port-forward to listen');
        assert.equal(await httpGet(port, '/index.html'), 'index\n');
        // A second connection over the same forward.
        assert.equal(await httpGet(port, '/index.html'), 'index\n');
      } finally {
        p.kill('SIGKILL');
      }
    });

    it(`kubectl ${version}: cp into and out of the container`, async () => {
      const local = join(tmp, `in-${version}.txt`);
      writeFileSync(local, `payload ${version}\n`);
      const up = await kv(['cp', local, `${ns}/web:/tmp/up-${version}.txt`]);
      assert.equal(up.code, 0, up.stderr);
      const check = await kv(['exec', '-n', ns, 'web', '--', 'cat', `/tmp/up-${version}.txt`]);
      assert.equal(check.stdout, `payload ${version}\n`);
      const back = join(tmp, `out-${version}.html`);
      const down = await kv(['cp', `${ns}/web:/index.html`, back]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(readFileSync(back, 'utf8'), 'index\n');
    });
  }

  it('bad requests get clear errors: unknown container, exec into a stopped container', async () => {
    const r = await srv().kubectl(['logs', '-n', ns, 'web', '-c', 'nope']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container nope is not valid for pod web/);
    const prev = await srv().kubectl(['logs', '-n', ns, 'web', '--previous']);
    assert.notEqual(prev.code, 0);
    assert.match(prev.stderr, /previous terminated container "web" in pod "web" not found/);
    await k(['run', 'done', '-n', ns, `--image=${BUSYBOX}`, '--restart=Never', '--', 'true']);
    await eventually(async () => (await k(['get', 'pod', 'done', '-n', ns, '-o', 'jsonpath={.status.phase}'])) === 'Succeeded', 'pod done to succeed');
    const ex = await srv().kubectl(['exec', '-n', ns, 'done', '--', 'ls']);
    assert.notEqual(ex.code, 0);
    assert.match(ex.stderr, /cannot exec into a container in a completed pod; current phase is Succeeded|container not found|not running/);
  });
}
