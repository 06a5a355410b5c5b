// A second node joins with `k8ts agent --server URL --token T`: its own containerd, bridge and
// kubelet port on this machine; pods scheduled to it run, and the API server reaches its kubelet
// for exec and logs. Bad tokens are refused.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { agentClusterFlags } from '../../testing/agent-cluster.js';
import { K8TS_BIN, type K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';
import { BUSYBOX } from './streaming.js';

function runK8ts(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [K8TS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}

export function join_(srv: () => K8tsServer, ns: string): void {
  const k = kubectlOf(srv);
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-agent2-'));
  let agent: ChildProcess | undefined;
  after(async () => {
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    await runK8ts(['down', '--data-dir', dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong join token with a clear error', async () => {
    const r = await runK8ts(['agent', '--server', srv().url, '--token', 'K10' + '0'.repeat(64) + '::server:nope', '--data-dir', dir, '--node-name', 'intruder']);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /does not match the hash in the join token/);
    const token = readFileSync(join(srv().dataDir, 'token'), 'utf8').trim();
    const wrongSecret = token.replace(/:[^:]+$/, ':wrong');
    const r2 = await runK8ts(['agent', '--server', srv().url, '--token', wrongSecret, '--data-dir', dir, '--node-name', 'intruder']);
    assert.notEqual(r2.code, 0);
    assert.match(r2.out, /invalid join token/);
  });

  it('a second node joins with k8ts agent --server --token and runs pods', async () => {
    const f = await agentClusterFlags('second');
    // The cluster CIDR belongs to the server; the agent takes its own bridge and port.
    const args = f.args.filter((_a, i, all) => all[i] !== '--cluster-cidr' && all[i - 1] !== '--cluster-cidr');
    agent = spawn(process.execPath, [K8TS_BIN, 'agent', '--server', srv().url, '--token-file', join(srv().dataDir, 'token'), '--data-dir', dir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (d) => (log = (log + d).slice(-20_000)));
    await eventually(async () => (await k(['get', 'node', f.nodeName, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])) === 'True', `node ${f.nodeName} Ready (agent log: ${log.slice(-2000)})`, 90_000);
    const user = await k(['get', 'node', f.nodeName, '-o', 'jsonpath={.metadata.managedFields[0].manager}']);
    assert.ok(user);
    await k(['create', 'namespace', ns]);
    await k(['run', 'there', '-n', ns, `--image=${BUSYBOX}`, '--overrides', JSON.stringify({ spec: { nodeName: f.nodeName } }), '--', 'sh', '-c', 'echo on the second node; exec sleep 100000']);
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/there', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(await k(['get', 'pod', 'there', '-n', ns, '-o', 'jsonpath={.spec.nodeName}']), f.nodeName);
    assert.equal(await k(['logs', '-n', ns, 'there']), 'on the second node\n');
    assert.equal(await k(['exec', '-n', ns, 'there', '--', 'hostname']), 'there\n');
    await k(['delete', 'pod', 'there', '-n', ns, '--grace-period=1'], { timeoutMs: 60_000 });
  });
}
