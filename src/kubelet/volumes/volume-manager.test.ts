import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { EventRecorder } from '../../client/events.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { ContainerConfigError } from '../env/container-env.js';
import { KubeletPaths } from '../paths.js';
import { mountsUnder } from './mounts.js';
import { VolumeError, VolumeManager, type PodVolumes } from './volume-manager.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
let seq = 0;

function makePod(volumes: unknown[], extra: Record<string, unknown> = {}): KubeObject {
  seq++;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${seq}`, namespace: 'default', uid: `0000-uid-${seq}`, labels: { app: 'web' }, annotations: { a: '1' } },
    spec: {
      nodeName: 'node-a',
      containers: [{ name: 'app', resources: { limits: { cpu: '250m', memory: '64Mi' } } }],
      volumes,
      ...extra,
    },
  };
}

/** Mount entries (from /proc/mounts) at exactly this path. */
function procMounts(path: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1] === path);
}

async function failure(p: Promise<unknown>): Promise<VolumeError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VolumeError, `expected VolumeError, got ${e}`);
    assert.equal(e.reason, 'FailedMount');
    return e;
  }
  assert.fail('expected a VolumeError');
}

describe('VolumeManager', () => {
  let api: TestApi;
  let client: Client;
  let root: string;
  let paths: KubeletPaths;
  let vm: VolumeManager;
  const warnings: string[] = [];
  const sockets: Server[] = [];

  before(async () => {
    api = await startTestApi();
    client = api.client('volume-test');
    root = mkdtempSync(join(tmpdir(), 'k8ts-volumes-'));
    paths = new KubeletPaths(join(root, 'agent'));
    vm = new VolumeManager({
      paths,
      client,
      nodeName: 'node-a',
      log: { info() {}, debug() {}, warn: (_o: unknown, m?: string) => warnings.push(m ?? '') },
      allocatable: { cpu: '2', memory: '1Gi' },
    });
  });

  after(async () => {
    for (const s of sockets) s.close();
    // Whatever a failed test left mounted goes before the folder does.
    for (const m of await mountsUnder(root)) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // already gone
      }
    }
    rmSync(root, { recursive: true, force: true });
    await api.stop();
  });

  test('emptyDir on disk and in memory (tmpfs sized by sizeLimit), idempotent, torn down', async () => {
    const pod = makePod([{ name: 'scratch', emptyDir: {} }, { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }]);
    const vols = await vm.setUpPod(pod);
    const disk = vols.get('scratch')!;
    const mem = vols.get('mem')!;
    assert.equal(disk.hostPath, paths.podVolumeDir(pod.metadata.uid!, 'kubernetes.io~empty-dir', 'scratch'));
    assert.equal(statSync(disk.hostPath).mode & 0o777, 0o777);
    assert.deepEqual({ readOnly: mem.readOnly, kind: mem.kind }, { readOnly: false, kind: 'emptyDir' });
    const entries = procMounts(mem.hostPath);
    assert.equal(entries.length, 1);
    assert.match(entries[0], /^tmpfs \S+ tmpfs \S*size=16384k/);
    assert.equal(procMounts(disk.hostPath).length, 0);
    writeFileSync(join(mem.hostPath, 'f'), 'data');

    // A second sync, and a fresh manager (agent restart), do not mount again.
    await vm.setUpPod(pod);
    const restarted = new VolumeManager({ paths, client, nodeName: 'node-a', log: { info() {}, warn() {}, debug() {} } });
    await restarted.setUpPod(pod);
    assert.equal(procMounts(mem.hostPath).length, 1);
    assert.equal(readFileSync(join(mem.hostPath, 'f'), 'utf8'), 'data');

    const grouped = makePod([{ name: 'shared', emptyDir: {} }], { securityContext: { fsGroup: 3000 } });
    const gdir = (await vm.setUpPod(grouped)).get('shared')!.hostPath;
    assert.equal(statSync(gdir).gid, 3000);
    assert.equal(statSync(gdir).mode & 0o7777, 0o2777, 'setgid: new files get the fsGroup');
    await vm.tearDownPod(grouped.metadata.uid!);

    // Without sizeLimit the pod's memory limit bounds it.
    const pod2 = makePod([{ name: 'mem', emptyDir: { medium: 'Memory' } }]);
    const v2 = await vm.setUpPod(pod2);
    assert.match(procMounts(v2.get('mem')!.hostPath)[0], /size=65536k/);

    assert.ok((await vm.podUIDsOnDisk()).includes(pod.metadata.uid!));
    await vm.tearDownPod(pod.metadata.uid!);
    await vm.tearDownPod(pod2.metadata.uid!);
    assert.equal(procMounts(mem.hostPath).length, 0);
    assert.equal(existsSync(paths.podDir(pod.metadata.uid!)), false);
    assert.equal((await vm.podUIDsOnDisk()).includes(pod.metadata.uid!), false);
    await vm.tearDownPod(pod.metadata.uid!); // again: nothing to do
  });

  test('hostPath: every type, with upstream messages', async () => {
    const base = join(root, 'host');
    mkdirSync(base);
    writeFileSync(join(base, 'file'), 'x');
    const sock = join(base, 'sock');
    const server = createServer();
    sockets.push(server);
    await new Promise<void>((r) => server.listen(sock, r));
    const ok = makePod([
      { name: 'dir', hostPath: { path: base, type: 'Directory' } },
      { name: 'mkdir', hostPath: { path: join(base, 'made/deep'), type: 'DirectoryOrCreate' } },
      { name: 'touch', hostPath: { path: join(base, 'new-file'), type: 'FileOrCreate' } },
      { name: 'file', hostPath: { path: join(base, 'file'), type: 'File' } },
      { name: 'sock', hostPath: { path: sock, type: 'Socket' } },
      { name: 'null', hostPath: { path: '/dev/null', type: 'CharDevice' } },
      { name: 'any', hostPath: { path: join(base, 'absent') } },
    ]);
    const vols = await vm.setUpPod(ok);
    assert.equal(vols.get('dir')!.hostPath, base);
    assert.ok(statSync(join(base, 'made/deep')).isDirectory());
    assert.ok(statSync(join(base, 'new-file')).isFile());
    assert.equal(readFileSync(join(base, 'file'), 'utf8'), 'x', 'an existing file is left alone');
    assert.equal(existsSync(join(base, 'absent')), false, 'no type: no check, nothing made');

    const cases: [unknown, string][] = [
      [{ path: join(base, 'nope'), type: 'Directory' }, `hostPath type check failed: ${join(base, 'nope')} is not a directory`],
      [{ path: join(base, 'file'), type: 'Directory' }, `hostPath type check failed: ${join(base, 'file')} is not a directory`],
      [{ path: join(base, 'file'), type: 'DirectoryOrCreate' }, `hostPath type check failed: ${join(base, 'file')} is not a directory`],
      [{ path: base, type: 'File' }, `hostPath type check failed: ${base} is not a file`],
      [{ path: base, type: 'FileOrCreate' }, `hostPath type check failed: ${base} is not a file`],
      [{ path: join(base, 'file'), type: 'Socket' }, `hostPath type check failed: ${join(base, 'file')} is not a socket file`],
      [{ path: base, type: 'CharDevice' }, `hostPath type check failed: ${base} is not a character device`],
      [{ path: '/dev/null', type: 'BlockDevice' }, 'hostPath type check failed: /dev/null is not a block device'],
    ];
    for (const [hostPath, message] of cases) {
      const e = await failure(vm.setUpPod(makePod([{ name: 'h', hostPath }])));
      assert.equal(e.message, `MountVolume.SetUp failed for volume "h" : ${message}`);
    }
    const e = await failure(vm.setUpPod(makePod([{ name: 'h', hostPath: { path: join(base, 'no-parent/f'), type: 'FileOrCreate' } }])));
    assert.match(e.message, /ENOENT/);
    await vm.tearDownPod(ok.metadata.uid!);
    assert.ok(statSync(base).isDirectory(), 'teardown never touches hostPath data');
  });

  test('configMap: items, modes, optional, AtomicWriter layout, updates through refreshPod', async () => {
    await client.resource(R.configmaps).create('default', { metadata: { name: 'app-config' }, data: { 'app.yaml': 'level: info', other: 'o' }, binaryData: { blob: b64('\u0001\u0002') } });
    const pod = makePod([
      { name: 'all', configMap: { name: 'app-config' } },
      { name: 'some', configMap: { name: 'app-config', defaultMode: 0o600, items: [{ key: 'app.yaml', path: 'conf/app.yaml', mode: 0o440 }, { key: 'other', path: 'o.txt' }] } },
      { name: 'opt', configMap: { name: 'absent', optional: true } },
    ]);
    const vols = await vm.setUpPod(pod);
    const all = vols.get('all')!;
    assert.deepEqual({ readOnly: all.readOnly, kind: all.kind }, { readOnly: true, kind: 'configMap' });
    assert.equal(all.hostPath, paths.podVolumeDir(pod.metadata.uid!, 'kubernetes.io~configmap', 'all'));
    assert.deepEqual(readdirSync(all.hostPath).filter((n) => !n.startsWith('..')).sort(), ['app.yaml', 'blob', 'other']);
    assert.equal(readlinkSync(join(all.hostPath, 'app.yaml')), '..data/app.yaml');
    assert.equal(readFileSync(join(all.hostPath, 'app.yaml'), 'utf8'), 'level: info');
    assert.deepEqual([...readFileSync(join(all.hostPath, 'blob'))], [1, 2]);
    assert.equal(statSync(join(all.hostPath, 'app.yaml')).mode & 0o777, 0o644);
    const some = vols.get('some')!.hostPath;
    assert.equal(readFileSync(join(some, 'conf/app.yaml'), 'utf8'), 'level: info');
    assert.equal(statSync(join(some, 'conf/app.yaml')).mode & 0o777, 0o440);
    assert.equal(statSync(join(some, 'o.txt')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(vols.get('opt')!.hostPath).filter((n) => !n.startsWith('..')), [], 'optional and missing: empty');

    // A subPath mount resolves to the current version's file (it does not follow updates).
    const mounts = vm.containerMounts(pod, { name: 'app', volumeMounts: [{ name: 'all', mountPath: '/etc/app.yaml', subPath: 'app.yaml' }, { name: 'all', mountPath: '/cfg' }] }, vols, { terminationMessage: false });
    const v1 = readlinkSync(join(all.hostPath, '..data'));
    assert.equal(mounts[0].host_path, join(all.hostPath, v1, 'app.yaml'));
    assert.deepEqual(mounts[1], { container_path: '/cfg', host_path: all.hostPath, readonly: true, selinux_relabel: false, propagation: 'PROPAGATION_PRIVATE' });

    assert.deepEqual(await vm.refreshPod(pod), [], 'nothing changed');
    assert.equal(readlinkSync(join(all.hostPath, '..data')), v1);
    // Bind mounts as the runtime makes them: the folder, and the subPath file.
    const bindDir = join(root, 'bind-dir');
    const bindFile = join(root, 'bind-file');
    mkdirSync(bindDir);
    writeFileSync(bindFile, '');
    execFileSync('mount', ['--bind', mounts[1].host_path, bindDir]);
    execFileSync('mount', ['--bind', mounts[0].host_path, bindFile]);

    await client.resource(R.configmaps).patch('default', 'app-config', 'merge', { data: { 'app.yaml': 'level: debug', other: null } });
    // 'some' names the removed key in its items: that refresh fails and the volume keeps its content.
    assert.deepEqual(await vm.refreshPod(pod), ['all']);
    assert.equal(readFileSync(join(some, 'o.txt'), 'utf8'), 'o');
    assert.equal(readFileSync(join(all.hostPath, 'app.yaml'), 'utf8'), 'level: debug');
    assert.equal(existsSync(join(all.hostPath, 'other')), false, 'a removed key disappears');
    assert.notEqual(readlinkSync(join(all.hostPath, '..data')), v1);
    assert.equal(existsSync(join(all.hostPath, v1)), false, 'the old version folder is removed');
    assert.deepEqual(await vm.refreshPod(pod), []);
    assert.equal(readFileSync(join(bindDir, 'app.yaml'), 'utf8'), 'level: debug', 'a folder mount sees the update');
    assert.equal(readFileSync(bindFile, 'utf8'), 'level: info', 'a subPath mount keeps the old file, as upstream');
    execFileSync('umount', [bindDir]);
    execFileSync('umount', [bindFile]);
    await vm.tearDownPod(pod.metadata.uid!);
  });

  test('configMap and secret failures: missing object, missing key', async () => {
    const cases: [unknown, string][] = [
      [{ configMap: { name: 'missing' } }, 'configmap "missing" not found'],
      [{ secret: { secretName: 'missing' } }, 'secret "missing" not found'],
      [{ configMap: { name: 'app-config', items: [{ key: 'nope', path: 'x' }] } }, 'configmap references non-existent config key: nope'],
    ];
    for (const [src, message] of cases) {
      const pod = makePod([{ name: 'cfg', ...(src as object) }, { name: 'ok', emptyDir: {} }]);
      const e = await failure(vm.setUpPod(pod));
      assert.equal(e.message, `MountVolume.SetUp failed for volume "cfg" : ${message}`);
      assert.deepEqual(e.failures.map((f) => f.volume), ['cfg']);
      await vm.tearDownPod(pod.metadata.uid!);
    }
    // Optional items that are missing are left out.
    const pod = makePod([{ name: 'cfg', configMap: { name: 'app-config', optional: true, items: [{ key: 'nope', path: 'x' }, { key: 'app.yaml', path: 'y' }] } }]);
    const vols = await vm.setUpPod(pod);
    assert.deepEqual(readdirSync(vols.get('cfg')!.hostPath).filter((n) => !n.startsWith('..')), ['y']);
    await vm.tearDownPod(pod.metadata.uid!);
  });

  test('secret: decoded, on tmpfs, defaultMode and fsGroup', async () => {
    await client.resource(R.secrets).create('default', { metadata: { name: 'creds' }, type: 'Opaque', data: { user: b64('admin'), pass: b64('s3cret') } });
    const pod = makePod([{ name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400 } }], { securityContext: { fsGroup: 2000 } });
    const vols = await vm.setUpPod(pod);
    const dir = vols.get('creds')!.hostPath;
    assert.equal(dir, paths.podVolumeDir(pod.metadata.uid!, 'kubernetes.io~secret', 'creds'));
    assert.match(procMounts(dir)[0] ?? '', /^tmpfs /, 'secrets stay off the disk');
    assert.equal(readFileSync(join(dir, 'pass'), 'utf8'), 's3cret');
    const st = statSync(join(dir, 'pass'));
    assert.equal(st.gid, 2000);
    assert.equal(st.mode & 0o777, 0o440, 'fsGroup adds group read');
    assert.deepEqual(await vm.refreshPod(pod), [], 'fsGroup permissions do not look like a change');
    await vm.tearDownPod(pod.metadata.uid!);
    assert.equal(procMounts(dir).length, 0);
  });

  test('downwardAPI: metadata and resources, refreshed when labels change', async () => {
    const pod = makePod([
      {
        name: 'info',
        downwardAPI: {
          items: [
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
            { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
            { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } },
            { path: 'mem_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
            { path: 'mem_request', resourceFieldRef: { containerName: 'app', resource: 'requests.memory' } },
          ],
        },
      },
    ]);
    const dir = (await vm.setUpPod(pod)).get('info')!.hostPath;
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    assert.equal(read('name'), pod.metadata.name);
    assert.equal(read('ns'), 'default');
    assert.equal(read('uid'), pod.metadata.uid);
    assert.equal(read('labels'), 'app="web"');
    assert.equal(read('annotations'), 'a="1"');
    assert.equal(read('cpu_limit'), '250');
    assert.equal(read('mem_limit'), '64');
    assert.equal(read('mem_request'), '0');
    const relabeled = { ...pod, metadata: { ...pod.metadata, labels: { app: 'web', version: 'v2' } } };
    assert.deepEqual(await vm.refreshPod(relabeled), ['info']);
    assert.equal(read('labels'), 'app="web"\nversion="v2"');
    await vm.tearDownPod(pod.metadata.uid!);
  });

  test('projected: the default service account volume (kube-root-ca.crt, namespace; token only with TokenRequest)', async () => {
    await client.resource(R.configmaps).create('default', { metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\n' } });
    const pod = makePod([
      {
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      },
    ]);
    const vol = (await vm.setUpPod(pod)).get('kube-api-access-abcde')!;
    assert.equal(vol.hostPath, paths.podVolumeDir(pod.metadata.uid!, 'kubernetes.io~projected', 'kube-api-access-abcde'));
    assert.match(procMounts(vol.hostPath)[0] ?? '', /^tmpfs /);
    assert.equal(readFileSync(join(vol.hostPath, 'ca.crt'), 'utf8'), '-----BEGIN CERTIFICATE-----\n');
    assert.equal(readFileSync(join(vol.hostPath, 'namespace'), 'utf8'), 'default');
    const hasTokenApi = await client
      .request<{ resources: { name: string }[] }>('GET', '/api/v1')
      .then((l) => l.resources.some((r) => r.name === 'serviceaccounts/token'));
    if (hasTokenApi) {
      assert.ok(readFileSync(join(vol.hostPath, 'token'), 'utf8').length > 20);
    } else {
      assert.equal(existsSync(join(vol.hostPath, 'token')), false);
      assert.ok(warnings.some((w) => w.includes('TokenRequest')), 'the skip is logged');
    }
    await vm.tearDownPod(pod.metadata.uid!);
  });

  test('persistentVolumeClaim: waits while unbound, then mounts the PV folder (made 0777)', async () => {
    const pvPath = join(root, 'storage', 'pvc-1_default_data');
    const pvcs = client.resource(R.persistentvolumeclaims);
    const claim = await pvcs.create('default', { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '' } });
    const pod = makePod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }, { name: 'ro', persistentVolumeClaim: { claimName: 'data', readOnly: true } }]);
    let e = await failure(vm.setUpPod(pod));
    assert.equal(e.message, 'MountVolume.SetUp failed for volume "data" : error processing PVC default/data: PVC is not bound');
    e = await failure(vm.setUpPod(makePod([{ name: 'x', persistentVolumeClaim: { claimName: 'nope' } }])));
    assert.equal(e.message, 'MountVolume.SetUp failed for volume "x" : error processing PVC default/nope: failed to fetch PVC from API server: persistentvolumeclaims "nope" not found');

    await client.resource(R.persistentvolumes).create(undefined, {
      metadata: { name: 'pvc-1', annotations: { 'pv.kubernetes.io/provisioned-by': 'k8ts.io/local-path' } },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        hostPath: { path: pvPath, type: 'DirectoryOrCreate' },
        claimRef: { kind: 'PersistentVolumeClaim', namespace: 'default', name: 'data', uid: claim.metadata.uid },
      },
    });
    await pvcs.patch('default', 'data', 'merge', { spec: { volumeName: 'pvc-1' } });
    await pvcs.patch('default', 'data', 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
    const vols = await vm.setUpPod(pod);
    assert.deepEqual(vols.get('data'), { hostPath: pvPath, readOnly: false, kind: 'persistentVolumeClaim' });
    assert.equal(vols.get('ro')!.readOnly, true);
    assert.equal(statSync(pvPath).mode & 0o777, 0o777);
    writeFileSync(join(pvPath, 'keep'), 'me');
    await vm.tearDownPod(pod.metadata.uid!);
    assert.equal(readFileSync(join(pvPath, 'keep'), 'utf8'), 'me', 'PV data survives the pod');
  });

  test('ephemeral: the claim <pod>-<volume>, owned by the pod', async () => {
    const pod = makePod([{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } } }]);
    const claimName = `${pod.metadata.name}-scratch`;
    let e = await failure(vm.setUpPod(pod));
    assert.equal(e.message, `MountVolume.SetUp failed for volume "scratch" : waiting for ephemeral volume controller to create the persistentvolumeclaim "${claimName}"`);
    const pvcs = client.resource(R.persistentvolumeclaims);
    const claim = await pvcs.create('default', { metadata: { name: claimName }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: '' } });
    e = await failure(vm.setUpPod(pod));
    assert.equal(e.message, `MountVolume.SetUp failed for volume "scratch" : PVC default/${claimName} was not created for pod default/${pod.metadata.name} (pod is not owner)`);
    const pvPath = join(root, 'storage', 'eph');
    await client.resource(R.persistentvolumes).create(undefined, {
      metadata: { name: 'pv-eph' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', local: { path: pvPath }, claimRef: { namespace: 'default', name: claimName, uid: claim.metadata.uid } },
    });
    await pvcs.patch('default', claimName, 'merge', {
      metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid, controller: true }] },
      spec: { volumeName: 'pv-eph' },
    });
    await pvcs.patch('default', claimName, 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
    const vols = await vm.setUpPod(pod);
    assert.deepEqual(vols.get('scratch'), { hostPath: pvPath, readOnly: false, kind: 'ephemeral' });
    assert.ok(statSync(pvPath).isDirectory());
    await vm.tearDownPod(pod.metadata.uid!);
  });

  test('unsupported volume types fail clearly', async () => {
    const recorder = new EventRecorder(client, 'kubelet', 'node-a');
    const withEvents = new VolumeManager({ paths, client, nodeName: 'node-a', log: { info() {}, warn() {}, debug() {} }, recorder });
    const pod = makePod([{ name: 'share', nfs: { server: 'nas', path: '/x' } }, { name: 'c', csi: { driver: 'x' } }]);
    const e = await failure(withEvents.setUpPod(pod));
    assert.match(e.message, /^MountVolume.SetUp failed for volume "share" : no volume plugin matched: nfs volumes are not supported by k8ts/);
    assert.equal(e.failures.length, 2);
    // Each failure is a FailedMount Warning on the pod.
    const end = Date.now() + 5000;
    let events: KubeObject[] = [];
    while (events.length < 2 && Date.now() < end) {
      events = (await client.resource(R.events).list('default')).items.filter((ev) => ev.involvedObject?.uid === pod.metadata.uid);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(events.map((ev) => [ev.type, ev.reason, ev.message.slice(0, 41)]).sort(), [
      ['Warning', 'FailedMount', 'MountVolume.SetUp failed for volume "c" :'],
      ['Warning', 'FailedMount', 'MountVolume.SetUp failed for volume "shar'],
    ]);
    await withEvents.tearDownPod(pod.metadata.uid!);
  });

  test('containerMounts: readOnly, subPath, subPathExpr, propagation, /etc/hosts and termination-log', async () => {
    const pod = makePod([{ name: 'work', emptyDir: {} }, { name: 'cfg', configMap: { name: 'app-config' } }]);
    const vols: PodVolumes = await vm.setUpPod(pod);
    const work = vols.get('work')!.hostPath;
    const container = {
      name: 'app',
      volumeMounts: [
        { name: 'work', mountPath: '/work', readOnly: true, mountPropagation: 'HostToContainer' },
        { name: 'work', mountPath: '/logs', subPath: 'logs/app' },
        { name: 'work', mountPath: '/per-pod', subPathExpr: '$(POD_NAME)' },
        { name: 'cfg', mountPath: '/cfg' },
      ],
    };
    const mounts = vm.containerMounts(pod, container, vols, { env: [{ key: 'POD_NAME', value: pod.metadata.name! }], hosts: { podIPs: ['10.42.0.9'] } });
    assert.deepEqual(
      mounts.map((m) => [m.container_path, m.host_path.replace(paths.podDir(pod.metadata.uid!), '<pod>'), !!m.readonly, m.propagation]),
      [
        ['/work', '<pod>/volumes/kubernetes.io~empty-dir/work', true, 'PROPAGATION_HOST_TO_CONTAINER'],
        ['/logs', '<pod>/volumes/kubernetes.io~empty-dir/work/logs/app', false, 'PROPAGATION_PRIVATE'],
        ['/per-pod', `<pod>/volumes/kubernetes.io~empty-dir/work/${pod.metadata.name}`, false, 'PROPAGATION_PRIVATE'],
        ['/cfg', '<pod>/volumes/kubernetes.io~configmap/cfg', true, 'PROPAGATION_PRIVATE'],
        ['/etc/hosts', '<pod>/etc-hosts', false, undefined],
        ['/dev/termination-log', mounts[5].host_path.replace(paths.podDir(pod.metadata.uid!), '<pod>'), false, undefined],
      ],
    );
    assert.ok(statSync(join(work, 'logs/app')).isDirectory(), 'subPath folder made');
    assert.match(readFileSync(mounts[4].host_path, 'utf8'), new RegExp(`10\\.42\\.0\\.9\\t${pod.metadata.name}\\n`));
    assert.match(mounts[5].host_path, new RegExp(`/containers/app/[0-9a-f]{8}$`));
    assert.equal(statSync(mounts[5].host_path).mode & 0o777, 0o666);
    assert.equal(statSync(mounts[5].host_path).size, 0);

    const bad = (vmnt: unknown, env: { key: string; value: string }[] = []) => {
      try {
        vm.containerMounts(pod, { name: 'app', volumeMounts: [vmnt] }, vols, { env, terminationMessage: false });
      } catch (e) {
        assert.ok(e instanceof ContainerConfigError);
        return e.message;
      }
      return 'no error';
    };
    assert.equal(bad({ name: 'nope', mountPath: '/x' }), 'cannot find volume "nope" to mount into container "app"');
    assert.equal(bad({ name: 'work', mountPath: '/x', subPath: '/abs' }), 'error SubPath `/abs` must not be an absolute path');
    assert.match(bad({ name: 'work', mountPath: '/x', subPath: 'a/../../etc' }), /^unable to provision SubPath/);
    assert.equal(bad({ name: 'work', mountPath: '/x', subPathExpr: '$(MISSING)/$(ALSO)' }), 'missing value for ALSO, MISSING');
    assert.equal(bad({ name: 'work', mountPath: '/x', mountPropagation: 'Bidirectional' }), 'Bidirectional mount propagation is available only to privileged containers');
    // A symlink planted in the volume cannot lead a subPath out of it.
    execFileSync('ln', ['-s', '/etc', join(work, 'escape')]);
    assert.match(bad({ name: 'work', mountPath: '/x', subPath: 'escape' }), /^subpath "\/etc" not within volume path/);
    // A container that mounts its own /etc/hosts keeps it.
    writeFileSync(join(work, 'hosts'), '');
    const own = vm.containerMounts(pod, { name: 'app', volumeMounts: [{ name: 'work', mountPath: '/etc/hosts', subPath: 'hosts' }] }, vols, { hosts: { podIPs: ['10.42.0.9'] }, terminationMessage: false });
    assert.equal(own.length, 1);
    await vm.tearDownPod(pod.metadata.uid!);
    assert.ok(lstatSync('/etc').isDirectory(), 'teardown does not follow symlinks out of the pod');
  });
});
