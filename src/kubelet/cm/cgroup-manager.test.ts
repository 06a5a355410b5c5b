// Pod cgroups for real on this machine's cgroup v1 hierarchies, under a root of the test's own.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { CgroupManager } from './cgroup-manager.js';

const ROOT = `/k8ts-test-${process.pid}`;
const read = (hier: string, path: string, file: string) => readFileSync(join('/sys/fs/cgroup', hier, path, file), 'utf8').trim();
const pod = (uid: string, containers: unknown[]): KubeObject => ({ metadata: { name: uid, namespace: 'default', uid }, spec: { containers } });
const writable = (() => {
  try {
    return existsSync('/sys/fs/cgroup/cpu/cpu.shares') && existsSync('/sys/fs/cgroup/memory');
  } catch {
    return false;
  }
})();

describe('CgroupManager on cgroup v1', { skip: !writable && 'no cgroup v1 cpu/memory hierarchies' }, () => {
  const children: ChildProcess[] = [];
  const m = writable ? new CgroupManager({ root: ROOT, nodeAllocatable: { cpu: '1500m', memory: '1Gi', pid: '4096' }, podPidsLimit: 64 }) : undefined!;

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await m.removeRoot();
    for (const h of ['cpu', 'cpuacct', 'memory', 'pids', 'cpuset', 'devices']) assert.equal(existsSync(join('/sys/fs/cgroup', h, ROOT)), false, `${h}${ROOT} left behind`);
  });

  test('root and QoS tiers carry node allocatable and tier shares', async () => {
    await m.ensureRoot();
    assert.equal(read('cpu', ROOT, 'cpu.shares'), '1536');
    assert.equal(read('memory', ROOT, 'memory.limit_in_bytes'), String(2 ** 30));
    assert.equal(read('pids', ROOT, 'pids.max'), '4096');
    assert.equal(read('cpu', `${ROOT}/besteffort`, 'cpu.shares'), '2');
  });

  test('pods get QoS-level limits; burstable tier shares follow the burstable pods', async () => {
    const g = await m.ensurePod(pod('g1', [{ name: 'a', resources: { limits: { cpu: '500m', memory: '64Mi' } } }]));
    assert.equal(g, `${ROOT}/podg1`);
    assert.equal(read('cpu', g, 'cpu.shares'), '512');
    assert.equal(read('cpu', g, 'cpu.cfs_quota_us'), '50000');
    assert.equal(read('cpu', g, 'cpu.cfs_period_us'), '100000');
    assert.equal(read('memory', g, 'memory.limit_in_bytes'), String(64 * 2 ** 20));
    assert.equal(read('pids', g, 'pids.max'), '64');

    const b = await m.ensurePod(pod('b1', [{ name: 'a', resources: { requests: { cpu: '250m' } } }]));
    assert.equal(b, `${ROOT}/burstable/podb1`);
    assert.equal(read('cpu', b, 'cpu.shares'), '256');
    assert.equal(read('cpu', b, 'cpu.cfs_quota_us'), '-1');
    assert.ok(Number(read('memory', b, 'memory.limit_in_bytes')) > 2 ** 60, 'no memory limit');
    await m.ensurePod(pod('b2', [{ name: 'a', resources: { requests: { cpu: '750m' } } }]));
    assert.equal(read('cpu', `${ROOT}/burstable`, 'cpu.shares'), '1024');

    const e = await m.ensurePod(pod('e1', [{ name: 'a' }]));
    assert.equal(e, `${ROOT}/besteffort/pode1`);
    assert.equal(read('cpu', e, 'cpu.shares'), '2');
    assert.deepEqual(m.podUIDs().sort(), ['b1', 'b2', 'e1', 'g1']);
    assert.equal(m.podCgroupPath('b2'), `${ROOT}/burstable/podb2`);

    await m.removePod('b2');
    assert.equal(read('cpu', `${ROOT}/burstable`, 'cpu.shares'), '256');
    assert.equal(existsSync(`/sys/fs/cgroup/cpu${ROOT}/burstable/podb2`), false);
  });

  test('removing a pod with a process inside: fails when told to, else kills it; container cgroups go too', async () => {
    const path = await m.ensurePod(pod('s1', [{ name: 'a', resources: { requests: { memory: '16Mi' } } }]));
    // A container cgroup as runc makes it, also in a hierarchy the manager does not configure.
    for (const h of ['cpu', 'cpuacct', 'memory', 'pids', 'devices']) mkdirSync(join('/sys/fs/cgroup', h, path, 'ctr1'), { recursive: true });
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    children.push(sleeper);
    await new Promise((r) => sleeper.once('spawn', r));
    for (const h of ['cpu', 'cpuacct', 'memory', 'pids']) writeFileSync(join('/sys/fs/cgroup', h, path, 'ctr1', 'cgroup.procs'), String(sleeper.pid));
    assert.match(readFileSync(`/proc/${sleeper.pid}/cgroup`, 'utf8'), new RegExp(`memory:${path}/ctr1`));

    await assert.rejects(m.removePod('s1', { stray: 'fail' }), { message: `cgroup ${path} still has processes ${sleeper.pid}; not removed` });
    assert.ok(existsSync(join('/sys/fs/cgroup/cpu', path)));
    const exited = new Promise((r) => sleeper.once('exit', (_c, sig) => r(sig)));
    await m.removePod('s1');
    assert.equal(await exited, 'SIGKILL');
    for (const h of ['cpu', 'memory', 'devices']) assert.equal(existsSync(join('/sys/fs/cgroup', h, path)), false);
    assert.equal(m.podCgroupPath('s1'), undefined);
  });

  test('bad roots and uids are refused clearly', async () => {
    assert.throws(() => new CgroupManager({ root: 'relative' }), /absolute path/);
    await assert.rejects(m.ensurePod(pod('../x', [])), /no usable metadata.uid/);
  });
});
