// ImageManager against an in-memory runtime and a fake clock: policies, events, back-off timing,
// pull secrets, concurrent pulls, and GC ordering. The real-containerd side is in
// cri/cri-runtime.test.ts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { RuntimeError, type AuthConfig, type Container, type ContainerRuntime, type Image, type ImageSpec } from '../runtime/runtime.js';
import { defaultPullPolicy, formatDuration, ImageManager, ImagePullError } from './image-manager.js';
import { credentialsForImage } from './pull-secrets.js';

class FakeImages {
  images = new Map<string, Image>();
  containers: Container[] = [];
  pulls: Array<{ image: string; auth?: AuthConfig }> = [];
  failPull?: (image: string, auth?: AuthConfig) => RuntimeError | undefined;
  pullDelayMs = 0;
  removed: string[] = [];

  add(name: string, size = 1000): Image {
    const img: Image = { id: `sha256:${name.replace(/\W/g, '')}`, repo_tags: [name], repo_digests: [], size: String(size) };
    this.images.set(name, img);
    return img;
  }

  runtime(): ContainerRuntime {
    const find = (s: ImageSpec) => [...this.images.values()].find((i) => i.id === s.image || i.repo_tags.includes(s.image) || i.repo_tags.includes(`docker.io/library/${s.image}`));
    return {
      imageStatus: async (s: ImageSpec) => find(s),
      pullImage: async (s: ImageSpec, auth?: AuthConfig) => {
        this.pulls.push({ image: s.image, auth });
        if (this.pullDelayMs) await new Promise((r) => setTimeout(r, this.pullDelayMs));
        const err = this.failPull?.(s.image, auth);
        if (err) throw err;
        return (find(s) ?? this.add(s.image, 4242)).id;
      },
      listImages: async () => [...this.images.values()],
      listContainers: async () => this.containers,
      removeImage: async (s: ImageSpec) => {
        for (const [k, v] of this.images) if (v.id === s.image) this.images.delete(k);
        this.removed.push(s.image);
      },
      imageFsInfo: async () => ({ image_filesystems: [{ timestamp: '1', fs_id: { mountpoint: '/images' } }] }),
    } as unknown as ContainerRuntime;
  }
}

const quiet = { info() {}, warn() {}, debug() {} };
const pod = (uid = 'u1'): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid } });
const notFound = (image: string) => new RuntimeError(5, `failed to pull and unpack image "docker.io/library/${image}": not found`, 'PullImage');

function setup() {
  const fake = new FakeImages();
  let now = 1_000_000;
  const events: string[] = [];
  const mgr = new ImageManager({
    runtime: fake.runtime(),
    log: quiet,
    now: () => now,
    recorder: { event: (_o, type, reason, msg) => events.push(`${type} ${reason}: ${msg}`) },
    sandboxImage: 'docker.io/k8ts/pause:3.10',
  });
  return { fake, mgr, events, advance: (ms: number) => (now += ms) };
}

describe('ImageManager', () => {
  it('defaults the pull policy like the API server', () => {
    assert.equal(defaultPullPolicy('busybox'), 'Always');
    assert.equal(defaultPullPolicy('busybox:latest'), 'Always');
    assert.equal(defaultPullPolicy('busybox:1.36'), 'IfNotPresent');
    assert.equal(defaultPullPolicy(`busybox@sha256:${'a'.repeat(64)}`), 'IfNotPresent');
    assert.equal(defaultPullPolicy('127.0.0.1:5000/x'), 'Always');
  });

  it('formats durations as the kubelet does', () => {
    assert.deepEqual([0, 313, 1000, 1661, 61_500, 3_723_000].map(formatDuration), ['0s', '313ms', '1s', '1.661s', '1m1.5s', '1h2m3s']);
  });

  it('IfNotPresent uses a present image; Always pulls it; Never fails when absent', async () => {
    const { fake, mgr, events } = setup();
    const img = fake.add('docker.io/library/busybox:1.36');
    assert.deepEqual(await mgr.ensureImage(pod(), { name: 'c', image: 'busybox:1.36' }, []), { imageRef: img.id });
    assert.deepEqual(events, ['Normal Pulled: Container image "busybox:1.36" already present on machine']);
    assert.equal(fake.pulls.length, 0);

    events.length = 0;
    await mgr.ensureImage(pod(), { name: 'c', image: 'busybox:1.36', imagePullPolicy: 'Always' }, []);
    assert.equal(fake.pulls.length, 1);
    assert.equal(events[0], 'Normal Pulling: Pulling image "busybox:1.36"');
    assert.match(events[1], /^Normal Pulled: Successfully pulled image "busybox:1\.36" in 0s \(0s including waiting\)\. Image size: 1000 bytes\.$/);

    await assert.rejects(mgr.ensureImage(pod(), { name: 'c', image: 'nginx:1', imagePullPolicy: 'Never' }, []), (e: unknown) => {
      assert.ok(e instanceof ImagePullError);
      assert.equal(e.reason, 'ErrImageNeverPull');
      assert.equal(e.message, 'Container image "nginx:1" is not present with pull policy of Never');
      return true;
    });
    assert.equal(events.at(-1), 'Warning ErrImageNeverPull: Container image "nginx:1" is not present with pull policy of Never');
  });

  it('does not pull the built-in images, even with policy Always (no registry has them)', async () => {
    const { fake, mgr, events } = setup();
    const bb = fake.add('docker.io/library/busybox:latest');
    assert.deepEqual(await mgr.ensureImage(pod(), { name: 'c', image: 'busybox', imagePullPolicy: 'Always' }, []), { imageRef: bb.id });
    assert.deepEqual(events, ['Normal Pulled: Container image "busybox" already present on machine']);
    assert.equal(fake.pulls.length, 0);
    // Any other :latest image is pulled as upstream does.
    fake.add('docker.io/library/nginx:latest');
    await mgr.ensureImage(pod(), { name: 'c', image: 'nginx' }, []);
    assert.equal(fake.pulls.length, 1);
  });

  it('rejects invalid image names with InvalidImageName and upstream texts', async () => {
    const { mgr, events } = setup();
    const cases: Array<[string, string]> = [
      ['UPPER:case', 'invalid reference format: repository name (library/UPPER) must be lowercase'],
      ['a b', 'invalid reference format'],
      ['', 'invalid reference format'],
      ['registry:5000/x:bad tag', 'invalid reference format'],
    ];
    for (const [image, why] of cases) {
      await assert.rejects(mgr.ensureImage(pod(), { name: 'c', image }, []), (e: unknown) => {
        assert.ok(e instanceof ImagePullError);
        assert.equal(e.reason, 'InvalidImageName');
        assert.equal(e.message, `Failed to apply default image tag "${image}": couldn't parse image name "${image}": ${why}`);
        return true;
      });
    }
    assert.match(events[0], /^Warning InspectFailed: Failed to apply default image tag "UPPER:case"/);
  });

  it('backs off per pod and image: 10 s, then doubling up to 5 min, without pulling meanwhile', async () => {
    const { fake, mgr, events, advance } = setup();
    fake.failPull = (image) => notFound(image);
    const c = { name: 'c', image: 'missing:1' };
    const errText = 'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/missing:1": not found';
    await assert.rejects(mgr.ensureImage(pod(), c, []), { reason: 'ErrImagePull', message: errText });
    assert.deepEqual(events.slice(-2), ['Normal Pulling: Pulling image "missing:1"', `Warning Failed: Failed to pull image "missing:1": ${errText}`]);
    assert.equal(fake.pulls.length, 1);

    await assert.rejects(mgr.ensureImage(pod(), c, []), { reason: 'ImagePullBackOff', message: `Back-off pulling image "missing:1": ErrImagePull: ${errText}` });
    assert.equal(events.at(-1), 'Normal BackOff: Back-off pulling image "missing:1"');
    // Another pod is not held back by this pod's back-off.
    await assert.rejects(mgr.ensureImage(pod('u2'), c, []), { reason: 'ErrImagePull' });
    assert.equal(fake.pulls.length, 2);

    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      let waited = 0;
      for (;;) {
        try {
          await mgr.ensureImage(pod(), c, []);
        } catch (e) {
          if ((e as ImagePullError).reason === 'ImagePullBackOff') {
            advance(1000);
            waited += 1000;
            continue;
          }
        }
        break;
      }
      delays.push(waited);
    }
    assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);

    // Success clears it.
    fake.failPull = undefined;
    advance(300_000);
    await mgr.ensureImage(pod(), c, []);
  });

  it('matches pull secrets to the registry and passes their credentials', async () => {
    const { fake, mgr } = setup();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const secret = (type: string, key: string, doc: unknown): KubeObject =>
      ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'ns' }, type, data: { [key]: b64(JSON.stringify(doc)) } }) as KubeObject;
    const secrets = [
      secret('kubernetes.io/dockerconfigjson', '.dockerconfigjson', {
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
          'reg.example.com:5000': { username: 'u', password: 'p' },
          'reg.example.com:5000/team': { username: 'team', password: 'tp' },
        },
      }),
      secret('kubernetes.io/dockercfg', '.dockercfg', { '*.corp.test': { username: 'w', password: 'wp' } }),
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad' }, data: { '.dockerconfigjson': b64('{nope') } } as KubeObject,
    ];
    await mgr.ensureImage(pod(), { name: 'c', image: 'reg.example.com:5000/team/app:1' }, secrets);
    assert.deepEqual(fake.pulls.at(-1)!.auth, { username: 'team', password: 'tp', server_address: 'reg.example.com:5000' });
    assert.deepEqual(credentialsForImage('busybox', secrets), [{ username: 'hub', password: 'hubpw', server_address: 'docker.io' }]);
    assert.deepEqual(credentialsForImage('a.corp.test/x', secrets), [{ username: 'w', password: 'wp', server_address: 'a.corp.test' }]);
    assert.deepEqual(credentialsForImage('b.a.corp.test/x', secrets), []);
    assert.deepEqual(credentialsForImage('other.io/x', secrets), []);

    // The first credential fails, the next is tried.
    fake.failPull = (_image, auth) => (auth?.username === 'team' ? new RuntimeError(2, 'unauthorized', 'PullImage') : undefined);
    await mgr.ensureImage(pod(), { name: 'c', image: 'reg.example.com:5000/team/app:2' }, secrets);
    assert.deepEqual(fake.pulls.slice(-2).map((p) => p.auth?.username), ['team', 'u']);
  });

  it('shares one pull between concurrent callers of the same image', async () => {
    const { fake, mgr } = setup();
    fake.pullDelayMs = 50;
    const results = await Promise.all([1, 2, 3].map((i) => mgr.ensureImage(pod(`u${i}`), { name: 'c', image: 'shared:1' }, [])));
    assert.equal(fake.pulls.length, 1);
    assert.equal(new Set(results.map((r) => r.imageRef)).size, 1);
  });

  it('garbage-collects unused images least recently used first, down to the low threshold', async () => {
    const { fake } = setup();
    let available = 10;
    const runtime = fake.runtime();
    const gc = new ImageManager({ runtime, log: quiet, now: () => 0, sandboxImage: 'docker.io/k8ts/pause:3.10', fsStats: async () => ({ capacityBytes: 100, availableBytes: available }) });
    fake.add('docker.io/k8ts/pause:3.10', 5);
    fake.add('docker.io/library/busybox:latest', 5);
    fake.add('docker.io/library/used:1', 5);
    fake.add('docker.io/library/old:1', 6);
    fake.add('docker.io/library/newer:1', 7);
    fake.add('docker.io/library/newest:1', 8);
    fake.containers = [{ image: { image: 'docker.io/library/used:1' }, image_ref: 'sha256:dockeriolibraryused1' } as Container];
    // Use order: old, then newer, then newest (through ensureImage's "already present").
    let t = 0;
    const clocked = new ImageManager({ runtime, log: quiet, now: () => t, sandboxImage: 'docker.io/k8ts/pause:3.10', fsStats: async () => ({ capacityBytes: 100, availableBytes: available }) });
    for (const name of ['old:1', 'newer:1', 'newest:1']) {
      t += 1000;
      await clocked.ensureImage(pod(), { name: 'c', image: name, imagePullPolicy: 'IfNotPresent' }, []);
    }
    t += 1000;
    // 90% used, low threshold 80%: free 10 bytes → old (6) and newer (7).
    const res = await clocked.garbageCollect({ highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 0 });
    assert.deepEqual(res, { usagePercent: 90, freedBytes: 13, removed: ['sha256:dockeriolibraryold1', 'sha256:dockeriolibrarynewer1'] });
    // Below the high threshold: nothing.
    available = 50;
    assert.deepEqual((await gc.garbageCollect({ minAgeMs: 0 })).removed, []);
    // Images younger than the minimum age are kept.
    available = 10;
    await assert.rejects(gc.garbageCollect({ minAgeMs: 60_000 }), /Attempted to free 10 bytes, but only found 0 bytes eligible to free/);
    assert.ok(fake.images.has('docker.io/k8ts/pause:3.10') && fake.images.has('docker.io/library/used:1'));
    // Disk pressure: everything unused goes.
    assert.deepEqual(await clocked.removeUnusedImages({ minAgeMs: 0 }), { freedBytes: 8, removed: ['sha256:dockeriolibrarynewest1'] });
    assert.deepEqual([...fake.images.keys()].sort(), ['docker.io/k8ts/pause:3.10', 'docker.io/library/busybox:latest', 'docker.io/library/used:1']);
  });

  it('runs garbage collection periodically until aborted, reporting failures', async () => {
    const { fake } = setup();
    fake.add('docker.io/library/junk:1', 50);
    const errors: string[] = [];
    let calls = 0;
    const mgr = new ImageManager({
      runtime: fake.runtime(),
      log: quiet,
      fsStats: async () => (calls++ === 0 ? { capacityBytes: 100, availableBytes: 0 } : { capacityBytes: 100, availableBytes: 60 }),
    });
    const ac = new AbortController();
    mgr.startGarbageCollection(ac.signal, { intervalMs: 20, minAgeMs: 0, onError: (m) => errors.push(m) });
    await new Promise((r) => setTimeout(r, 120));
    ac.abort();
    const after = calls;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(calls, after, 'stopped');
    assert.ok(calls >= 2);
    // First run: 100% used, wants 20 bytes, frees junk (50).
    assert.deepEqual(fake.removed, ['sha256:dockeriolibraryjunk1']);
    assert.deepEqual(errors, []);
  });
});
