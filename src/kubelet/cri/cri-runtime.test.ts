// The CRI driver against a real containerd (one for the whole file): images, sandboxes,
// containers, logs, exec, OOM, pulls from a local registry (directly and through a
// registries.yaml mirror), the image manager's errors, and containerd dying under running pods.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { runImageCommand } from '../../cli/image.js';
import { busyboxImageSpec } from '../images/builtin-images.js';
import { importImageDir } from '../images/image-dir.js';
import { KubeletPaths } from '../paths.js';
import { ImageManager, ImagePullError } from '../images/image-manager.js';
import { buildOciArchive } from '../images/oci-archive.js';
import type { ContainerConfig, ContainerState, PodSandboxConfig } from '../runtime/runtime.js';
import { parseRegistries } from './registries.js';
import { startRuntime } from './start.js';
import { freePort, startTestContainerd, startTestRegistry, type TestContainerd, type TestRegistry } from './testing.js';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MIRRORED = 'k8ts-mirror.test';

describe('CriRuntime on containerd', { timeout: 240_000 }, () => {
  let t: TestContainerd;
  let registry: TestRegistry;
  let archive: string;

  before(async () => {
    // The registry's address goes into containerd's config, so it starts first.
    const port = await freePort();
    registry = await startTestRegistry(port);
    t = await startTestContainerd({
      // The registry is also named under configs (insecure, with credentials), as a user of a
      // plain-HTTP local registry would: pulls must still work.
      registries: parseRegistries(
        `mirrors:\n  "${MIRRORED}":\n    endpoint: ["http://127.0.0.1:${port}"]\n` +
          `configs:\n  "127.0.0.1:${port}":\n    tls: {insecure_skip_verify: true}\n    auth: {username: u, password: p}\n`,
      ),
    });
    archive = join(t.paths.agentDir, 'busybox-push.tar');
    const spec = await busyboxImageSpec();
    // Different content from the built-in busybox: removing the pulled image by name removes
    // every name of its image ID, and the built-in one must stay.
    const files = [...spec.files, { name: 'etc/pushed', type: 'file' as const, data: 'yes\n' }];
    writeFileSync(archive, buildOciArchive({ ...spec, files, names: ['docker.io/k8ts/busybox-push:1'] }).tar);
    await registry.pushArchive(archive, 'pushed/busybox:1');
  });

  after(async () => {
    await t?.stop();
    await registry?.stop();
  });

  const containerConfig = (name: string, command: string[], extra: Partial<ContainerConfig> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: t.images.busybox },
    command,
    log_path: `${name}/0.log`,
    ...extra,
  });

  async function waitState(id: string, want: ContainerState, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status } = await t.runtime.containerStatus(id);
      if (status.state === want) return status;
      if (Date.now() > deadline) throw new Error(`container ${id} is ${status.state}, not ${want}`);
      await sleep(100);
    }
  }

  async function runPod(name: string): Promise<{ id: string; config: PodSandboxConfig }> {
    const config = t.sandboxConfig(name);
    const id = await t.runtime.runPodSandbox(config);
    return { id, config };
  }

  it('answers Version and Status', async () => {
    const v = await t.runtime.version();
    assert.equal(v.runtime_name, 'containerd');
    assert.equal(v.runtime_api_version, 'v1');
    const { conditions } = await t.runtime.status();
    const byType = Object.fromEntries(conditions.map((c) => [c.type, c.status]));
    assert.deepEqual(byType, { RuntimeReady: true, NetworkReady: true });
  });

  it('has the built-in images, busybox also as docker.io/library/busybox', async () => {
    const tags = (await t.runtime.listImages()).flatMap((i) => i.repo_tags);
    for (const name of ['docker.io/k8ts/pause:3.10', 'docker.io/k8ts/busybox:1.35', 'docker.io/library/busybox:1.35', 'docker.io/k8ts/busybox:latest', 'docker.io/library/busybox:latest']) {
      assert.ok(tags.includes(name), `${name} in ${tags.join(', ')}`);
    }
    const bb = await t.runtime.imageStatus({ image: 'busybox' });
    assert.ok(bb && bb.id.startsWith('sha256:'));
    assert.equal(await t.runtime.imageStatus({ image: 'docker.io/library/absent:1' }), undefined);
  });

  it('runs a pod: sandbox, container, CRI log, ExecSync, Exec URL, stop and remove', async (ctx) => {
    let t0 = performance.now();
    const { id: sandbox, config } = await runPod('web');
    const sandboxMs = performance.now() - t0;
    const { status: sb, info } = await t.runtime.podSandboxStatus(sandbox, true);
    assert.equal(sb.state, 'SANDBOX_READY');
    assert.match(sb.network?.ip ?? '', new RegExp(`^${t.network.subnet.split('.').slice(0, 3).join('\\.')}\\.`));
    assert.ok(info?.info, 'verbose info');

    t0 = performance.now();
    const cid = await t.runtime.createContainer(sandbox, containerConfig('app', ['sh', '-c', 'echo hi; sleep 1000']), config);
    await t.runtime.startContainer(cid);
    const startMs = performance.now() - t0;
    ctx.diagnostic(`RunPodSandbox ${sandboxMs.toFixed(0)} ms; CreateContainer+StartContainer ${startMs.toFixed(0)} ms`);
    const running = await waitState(cid, 'CONTAINER_RUNNING');
    assert.equal(running.log_path, join(config.log_directory!, 'app/0.log'));

    // CRI log format: <RFC3339Nano> <stream> <P|F> <line>
    let log = '';
    for (let i = 0; i < 50 && !log.includes(' stdout F hi'); i++) {
      await sleep(100);
      log = existsSync(running.log_path) ? readFileSync(running.log_path, 'utf8') : '';
    }
    assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F hi$/m);

    t0 = performance.now();
    const r = await t.runtime.execSync(cid, ['sh', '-c', 'echo out; echo err >&2; exit 3'], 10);
    ctx.diagnostic(`ExecSync ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(r.stdout.toString(), 'out\n');
    assert.equal(r.stderr.toString(), 'err\n');
    assert.equal(r.exit_code, 3);

    const url = await t.runtime.exec({ container_id: cid, cmd: ['sh'], stdin: true, stdout: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/\S+$/);
    assert.match(await t.runtime.portForward(sandbox, [80]), /^http:\/\/127\.0\.0\.1:\d+\/portforward\/\S+$/);

    assert.match(await t.runtime.attach({ container_id: cid, stdout: true }), /^http:\/\/127\.0\.0\.1:\d+\/attach\/\S+$/);
    const stats = await t.runtime.containerStats(cid);
    assert.equal(stats?.attributes.id, cid);
    assert.ok(Number(stats?.memory?.working_set_bytes?.value) > 0, JSON.stringify(stats?.memory));
    assert.ok(Number(stats?.cpu?.usage_core_nano_seconds?.value) > 0, JSON.stringify(stats?.cpu));
    assert.deepEqual((await t.runtime.listContainerStats({ pod_sandbox_id: sandbox })).map((s) => s.attributes.id), [cid]);
    await t.runtime.updateContainerResources(cid, { memory_limit_in_bytes: String(64 * 1024 * 1024) });
    await t.runtime.reopenContainerLog(cid);

    const listed = await t.runtime.listContainers({ pod_sandbox_id: sandbox });
    assert.deepEqual(listed.map((c) => [c.id, c.state]), [[cid, 'CONTAINER_RUNNING']]);

    t0 = performance.now();
    await t.runtime.stopContainer(cid, 2);
    ctx.diagnostic(`StopContainer ${(performance.now() - t0).toFixed(0)} ms`);
    const stopped = await waitState(cid, 'CONTAINER_EXITED');
    assert.ok([137, 143].includes(stopped.exit_code), `exit code ${stopped.exit_code}`);
    await t.runtime.removeContainer(cid);
    await assert.rejects(t.runtime.containerStatus(cid), (e: any) => e.name === 'RuntimeError' && e.notFound);
    t0 = performance.now();
    await t.runtime.stopPodSandbox(sandbox);
    await t.runtime.removePodSandbox(sandbox);
    ctx.diagnostic(`StopPodSandbox+RemovePodSandbox ${(performance.now() - t0).toFixed(0)} ms`);
    assert.deepEqual(await t.runtime.listPodSandbox({ id: sandbox }), []);
  });

  it('reports exit codes and OOMKilled for a container over its memory limit', async () => {
    const { id: sandbox, config } = await runPod('exits');
    const failing = await t.runtime.createContainer(sandbox, containerConfig('fails', ['sh', '-c', 'exit 7']), config);
    const done = await t.runtime.createContainer(sandbox, containerConfig('done', ['true']), config);
    const oom = await t.runtime.createContainer(
      sandbox,
      containerConfig('oom', ['sh', '-c', 'head -c 100m /dev/zero | tail'], {
        linux: { resources: { memory_limit_in_bytes: String(20 * 1024 * 1024) } },
      }),
      config,
    );
    await Promise.all([failing, done, oom].map((c) => t.runtime.startContainer(c)));
    const [f, d, o] = await Promise.all([failing, done, oom].map((c) => waitState(c, 'CONTAINER_EXITED')));
    assert.deepEqual([f.exit_code, f.reason], [7, 'Error']);
    assert.deepEqual([d.exit_code, d.reason], [0, 'Completed']);
    assert.equal(o.reason, 'OOMKilled');
    assert.notEqual(o.exit_code, 0);
    await t.runtime.stopPodSandbox(sandbox);
    await t.runtime.removePodSandbox(sandbox);
  });

  it('pulls from a local registry, directly and through a registries.yaml mirror', async () => {
    const direct = `${registry.host}/pushed/busybox:1`;
    const ref = await t.runtime.pullImage({ image: direct });
    assert.match(ref, /^sha256:[0-9a-f]{64}$/);
    const st = await t.runtime.imageStatus({ image: direct });
    assert.equal(st?.id, ref);
    assert.ok(Number(st?.size) > 100_000);

    // Only the mirror (hosts.toml) knows where this registry is.
    const mirrored = `${MIRRORED}/pushed/busybox:1`;
    assert.equal(await t.runtime.pullImage({ image: mirrored }), ref);

    // And a container runs from the pulled image.
    const { id: sandbox, config } = await runPod('pulled');
    const cid = await t.runtime.createContainer(sandbox, containerConfig('c', ['sh', '-c', 'echo pulled'], { image: { image: mirrored } }), config);
    await t.runtime.startContainer(cid);
    assert.equal((await waitState(cid, 'CONTAINER_EXITED')).exit_code, 0);
    await t.runtime.stopPodSandbox(sandbox);
    await t.runtime.removePodSandbox(sandbox);
    await t.runtime.removeImage({ image: mirrored });
    await t.runtime.removeImage({ image: direct });
    assert.equal(await t.runtime.imageStatus({ image: direct }), undefined);
  });

  it('image manager: pull events, ErrImagePull then ImagePullBackOff for a missing image, Never, invalid names', async () => {
    const events: string[] = [];
    const recorder = { event: (_o: KubeObject, type: string, reason: string, msg: string) => events.push(`${type} ${reason} ${msg}`) };
    const quiet = { info() {}, warn() {}, debug() {} };
    const images = new ImageManager({ runtime: t.runtime, recorder, log: quiet, sandboxImage: t.images.pause });
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'uid-1' } };

    const image = `${registry.host}/pushed/busybox:1`;
    const { imageRef } = await images.ensureImage(pod, { name: 'c', image }, []);
    assert.match(imageRef, /^sha256:/);
    assert.equal(events[0], `Normal Pulling Pulling image "${image}"`);
    assert.match(events[1], new RegExp(`^Normal Pulled Successfully pulled image "${image.replace(/[.]/g, '\\.')}" in \\S+ \\(\\S+ including waiting\\)\\. Image size: \\d+ bytes\\.$`));

    events.length = 0;
    assert.deepEqual(await images.ensureImage(pod, { name: 'c', image, imagePullPolicy: 'IfNotPresent' }, []), { imageRef });
    assert.deepEqual(events, [`Normal Pulled Container image "${image}" already present on machine`]);

    const missing = `${registry.host}/nothing/here:1`;
    await assert.rejects(images.ensureImage(pod, { name: 'c', image: missing }, []), (e: unknown) => {
      assert.ok(e instanceof ImagePullError);
      assert.equal(e.reason, 'ErrImagePull');
      assert.match(e.message, /^rpc error: code = NotFound desc = failed to pull and unpack image/);
      return true;
    });
    await assert.rejects(images.ensureImage(pod, { name: 'c', image: missing }, []), (e: unknown) => {
      assert.ok(e instanceof ImagePullError);
      assert.equal(e.reason, 'ImagePullBackOff');
      assert.ok(e.message.startsWith(`Back-off pulling image "${missing}": ErrImagePull: rpc error: code = NotFound`), e.message);
      return true;
    });
    await assert.rejects(images.ensureImage(pod, { name: 'c', image: 'absent:1', imagePullPolicy: 'Never' }, []), { reason: 'ErrImageNeverPull', message: 'Container image "absent:1" is not present with pull policy of Never' });
    await assert.rejects(images.ensureImage(pod, { name: 'c', image: 'UPPER:case' }, []), { reason: 'InvalidImageName' });
    await t.runtime.removeImage({ image });
  });

  it('imports archives from <agent>/images once (by hash), and `k8ts image import` while containerd runs', async () => {
    const spec = await busyboxImageSpec();
    const archiveOf = (name: string) => buildOciArchive({ ...spec, files: [...spec.files, { name: 'etc/which', type: 'file', data: name }], names: [name] }).tar;
    mkdirSync(t.paths.imagesDir, { recursive: true });
    writeFileSync(join(t.paths.imagesDir, 'dir.tar'), archiveOf('docker.io/k8ts/dir-import:1'));
    writeFileSync(join(t.paths.imagesDir, 'ignored.txt'), 'not an image');
    const first = await importImageDir(t.paths, t.containerd.socketPath);
    assert.deepEqual(first.imported.map((i) => i.names), [['docker.io/k8ts/dir-import:1']]);
    assert.ok(await t.runtime.imageStatus({ image: 'k8ts/dir-import:1' }));
    const second = await importImageDir(t.paths, t.containerd.socketPath);
    assert.deepEqual([second.imported.length, second.skipped.length], [0, 1]);

    // `docker save` format too: made from an OCI archive by skopeo.
    const ociFile = join(t.paths.agentDir, 'cli-oci.tar');
    const cliFile = join(t.paths.agentDir, 'cli.tar');
    writeFileSync(ociFile, archiveOf('docker.io/k8ts/cli-import:2'));
    await execFileP('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci-archive:${ociFile}`, `docker-archive:${cliFile}:k8ts/cli-import:2`]);
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await runImageCommand(['import', cliFile, '--agent-dir', t.paths.agentDir]);
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(out, ['imported docker.io/k8ts/cli-import:2\n']);
    assert.ok(await t.runtime.imageStatus({ image: 'k8ts/cli-import:2' }));
  });

  it('startRuntime connects to a running containerd given as endpoint', async () => {
    const dir = mkdtempSync('/tmp/k8s-');
    try {
      const quiet = { info() {}, warn() {}, error() {}, debug() {} };
      const started = await startRuntime({ paths: new KubeletPaths(dir), endpoint: t.containerd.endpoint, log: quiet });
      assert.equal(started.containerd, undefined);
      assert.equal(started.ctrSocket, t.containerd.socketPath);
      assert.deepEqual(started.images, { pause: 'docker.io/k8ts/pause:3.10', busybox: 'docker.io/k8ts/busybox:1.35' });
      assert.equal((await started.runtime.version()).runtime_name, 'containerd');
      await started.stop();
      assert.ok(t.containerd.pid, 'the external containerd keeps running');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('image GC over the threshold removes unused images, keeps the sandbox image and images in use', async () => {
    const quiet = { info() {}, warn() {}, debug() {} };
    const images = new ImageManager({
      runtime: t.runtime,
      log: quiet,
      sandboxImage: t.images.pause,
      // 90% used of a big disk: more to free than there are images.
      fsStats: async () => ({ capacityBytes: 1e12, availableBytes: 1e11 }),
    });
    const pulled = `${registry.host}/pushed/busybox:1`;
    await t.runtime.pullImage({ image: pulled });
    const { id: sandbox, config } = await runPod('gc');
    const cid = await t.runtime.createContainer(sandbox, containerConfig('uses-busybox', ['sleep', '1000']), config);
    await assert.rejects(images.garbageCollect({ highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 0 }), /^Error: Failed to garbage collect required amount of images\. Attempted to free \d+ bytes, but only found \d+ bytes eligible to free\.$/);
    assert.equal(await t.runtime.imageStatus({ image: pulled }), undefined);
    assert.ok(await t.runtime.imageStatus({ image: t.images.pause }));
    assert.ok(await t.runtime.imageStatus({ image: t.images.busybox }));
    // Under the threshold nothing happens.
    const calm = new ImageManager({ runtime: t.runtime, log: quiet, fsStats: async () => ({ capacityBytes: 100, availableBytes: 50 }) });
    assert.deepEqual(await calm.garbageCollect({ minAgeMs: 0 }), { usagePercent: 50, freedBytes: 0, removed: [] });
    await t.runtime.removeContainer(cid);
    await t.runtime.stopPodSandbox(sandbox);
    await t.runtime.removePodSandbox(sandbox);
  });

  // Last: it restarts containerd.
  it('keeps containers running when containerd is killed; the supervisor restarts it and it sees them', async () => {
    const { id: sandbox, config } = await runPod('survivor');
    const cid = await t.runtime.createContainer(sandbox, containerConfig('app', ['sleep', '1000']), config);
    await t.runtime.startContainer(cid);
    const { info } = await t.runtime.containerStatus(cid, true);
    const pid = JSON.parse(info!.info).pid as number;
    assert.ok(pid > 0);

    const before = t.containerd.restarts;
    process.kill(t.containerd.pid!, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    while (t.containerd.restarts === before || !t.containerd.pid) {
      assert.ok(Date.now() < deadline, 'containerd was not restarted');
      await sleep(100);
    }
    process.kill(pid, 0); // still alive
    await t.containerd.waitReady(30_000);
    let listed: Awaited<ReturnType<typeof t.runtime.listContainers>> = [];
    for (let i = 0; i < 100; i++) {
      listed = await t.runtime.listContainers({ id: cid }).catch(() => []);
      if (listed.length) break;
      await sleep(100);
    }
    assert.deepEqual(listed.map((c) => c.state), ['CONTAINER_RUNNING']);
    const r = await t.runtime.execSync(cid, ['echo', 'still here'], 10);
    assert.equal(r.stdout.toString(), 'still here\n');
  });
});
