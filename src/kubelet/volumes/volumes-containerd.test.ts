// Volumes, environment and per-pod files in real containers: the VolumeManager's folders and
// mounts given to containerd through the CRI, read from inside a busybox container.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { startTestContainerd, type TestContainerd } from '../cri/testing.js';
import { expandCommand, makeEnvironment } from '../env/container-env.js';
import { readTerminationMessage, terminationMessageHostFile } from '../pod-files/termination-message.js';
import type { ContainerConfig, ContainerState } from '../runtime/runtime.js';
import { mountsUnder } from './mounts.js';
import { VolumeManager } from './volume-manager.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('volumes in containers on containerd', { timeout: 180_000 }, () => {
  let t: TestContainerd;
  let api: TestApi;
  let client: Client;

  before(async () => {
    [t, api] = await Promise.all([startTestContainerd(), startTestApi()]);
    client = api.client('kubelet');
  });
  after(async () => {
    await t?.stop();
    await api?.stop();
  });

  async function waitState(id: string, want: ContainerState) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { status } = await t.runtime.containerStatus(id);
      if (status.state === want) return status;
      if (Date.now() > deadline) throw new Error(`container ${id} is ${status.state}, not ${want}`);
      await sleep(100);
    }
  }

  it('mounts configMap (live and subPath), secret, memory emptyDir, downward API, /etc/hosts, env and termination messages', async () => {
    await client.resource(R.configmaps).create('default', { metadata: { name: 'app' }, data: { 'app.yaml': 'v: 1\n' } });
    await client.resource(R.secrets).create('default', { metadata: { name: 'creds' }, data: { pass: Buffer.from('s3cret').toString('base64') } });
    const sandboxConfig = t.sandboxConfig('vols');
    const app = {
      name: 'app',
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'CFG', valueFrom: { configMapKeyRef: { name: 'app', key: 'app.yaml' } } },
      ],
      volumeMounts: [
        { name: 'cfg', mountPath: '/cfg' },
        { name: 'cfg', mountPath: '/etc/app.yaml', subPath: 'app.yaml' },
        { name: 'creds', mountPath: '/creds' },
        { name: 'mem', mountPath: '/mem' },
        { name: 'info', mountPath: '/info' },
        { name: 'mem', mountPath: '/per-pod', subPathExpr: '$(POD_NAME)' },
      ],
    };
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'vols', namespace: 'default', uid: sandboxConfig.metadata.uid, labels: { app: 'vols' } },
      spec: {
        containers: [app],
        volumes: [
          { name: 'cfg', configMap: { name: 'app' } },
          { name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400 } },
          { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
          { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
        ],
      },
    };
    const vm = new VolumeManager({ paths: t.paths, client, nodeName: 'node-a', log: { info() {}, warn() {}, debug() {} } });
    const volumes = await vm.setUpPod(pod);
    const sandbox = await t.runtime.runPodSandbox(sandboxConfig);
    const ip = (await t.runtime.podSandboxStatus(sandbox)).status.network!.ip;

    const env = await makeEnvironment(pod, app, { client, podIP: ip, masterServiceIP: '10.43.0.1' });
    const mounts = vm.containerMounts(pod, app, volumes, { env, hosts: { podIPs: [ip] } });
    const config = (name: string, command: string[], attempt = 0): ContainerConfig => ({
      metadata: { name, attempt },
      image: { image: t.images.busybox },
      command: expandCommand(command, env),
      envs: env,
      mounts,
      log_path: `${name}/${attempt}.log`,
    });
    const cid = await t.runtime.createContainer(sandbox, config('app', ['sleep', '1000']), sandboxConfig);
    await t.runtime.startContainer(cid);
    await waitState(cid, 'CONTAINER_RUNNING');
    const sh = async (script: string) => {
      const r = await t.runtime.execSync(cid, ['sh', '-c', script], 10);
      assert.equal(r.exit_code, 0, `${script}: ${r.stderr.toString()}`);
      return r.stdout.toString();
    };

    assert.equal(await sh('cat /cfg/app.yaml /etc/app.yaml'), 'v: 1\nv: 1\n');
    assert.equal(await sh('cat /creds/pass'), 's3cret');
    assert.equal(await sh('cat /info/labels'), 'app="vols"');
    assert.equal(await sh('echo "$POD_NAME|$CFG|$KUBERNETES_SERVICE_HOST"'), 'vols|v: 1\n|10.43.0.1\n');
    assert.match(await sh('grep " /mem " /proc/mounts'), /^tmpfs \/mem tmpfs rw.*size=8192k/);
    assert.match(await sh('cat /etc/hosts'), new RegExp(`^# Kubernetes-managed hosts file\\.\\n[\\s\\S]*\\n${ip.replace(/\./g, '\\.')}\\tvols\\n$`));
    await sh('echo hello > /per-pod/f');
    assert.equal(await sh('cat /mem/vols/f'), 'hello\n', 'subPathExpr folder inside the emptyDir');
    // Read-only where upstream makes it so.
    assert.notEqual((await t.runtime.execSync(cid, ['sh', '-c', 'touch /cfg/x'], 10)).exit_code, 0);

    // A ConfigMap edit reaches the folder mount after refreshPod; the subPath file stays.
    await client.resource(R.configmaps).patch('default', 'app', 'merge', { data: { 'app.yaml': 'v: 2\n' } });
    assert.deepEqual(await vm.refreshPod(pod), ['cfg']);
    assert.equal(await sh('cat /cfg/app.yaml'), 'v: 2\n');
    assert.equal(await sh('cat /etc/app.yaml'), 'v: 1\n');

    // Termination messages: the file, and the log tail for a failed container.
    const withMessage = { name: 'msg' };
    const m1 = vm.containerMounts(pod, withMessage, volumes, { env });
    const c1 = await t.runtime.createContainer(sandbox, { ...config('msg', ['sh', '-c', 'echo all done > /dev/termination-log']), mounts: m1 }, sandboxConfig);
    const failing = { name: 'fail', terminationMessagePolicy: 'FallbackToLogsOnError' };
    const m2 = vm.containerMounts(pod, failing, volumes, { env });
    const c2 = await t.runtime.createContainer(sandbox, { ...config('fail', ['sh', '-c', 'echo first; echo boom; exit 3']), mounts: m2 }, sandboxConfig);
    await t.runtime.startContainer(c1);
    await t.runtime.startContainer(c2);
    const s1 = await waitState(c1, 'CONTAINER_EXITED');
    const s2 = await waitState(c2, 'CONTAINER_EXITED');
    assert.equal(await readTerminationMessage(pod, withMessage, { hostFile: terminationMessageHostFile(withMessage, s1.mounts), logPath: s1.log_path, exitCode: s1.exit_code }), 'all done\n');
    assert.equal(s2.exit_code, 3);
    assert.equal(await readTerminationMessage(pod, failing, { hostFile: terminationMessageHostFile(failing, s2.mounts), logPath: s2.log_path, exitCode: s2.exit_code }), 'first\nboom\n');

    // Pod gone: containers and sandbox first, then the volumes.
    for (const id of [cid, c1, c2]) {
      await t.runtime.stopContainer(id, 0).catch(() => undefined);
      await t.runtime.removeContainer(id);
    }
    await t.runtime.stopPodSandbox(sandbox);
    await t.runtime.removePodSandbox(sandbox);
    await vm.tearDownPod(pod.metadata.uid!);
    assert.deepEqual(await mountsUnder(t.paths.podDir(pod.metadata.uid!)), []);
    assert.equal(existsSync(t.paths.podDir(pod.metadata.uid!)), false);
  });
});
