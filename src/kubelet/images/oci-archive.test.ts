import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildOciArchive } from './oci-archive.js';
import { normalizeImageName, parseImageReference } from './reference.js';
import { buildTar, readTar } from './tar.js';

describe('tar and OCI archives', () => {
  it('writes ustar entries that read back, long names included', () => {
    const long = `${'d'.repeat(120)}/file`;
    const tar = buildTar([
      { name: 'bin', type: 'dir' },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'etc/passwd', type: 'file', data: 'root:x:0:0::/root:/bin/sh\n', mode: 0o600 },
      { name: long, type: 'file', data: Buffer.alloc(1000, 1) },
    ]);
    assert.equal(tar.length % 512, 0);
    const entries = readTar(tar);
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.mode, e.size, e.linkname]),
      [
        ['bin/', '5', 0o755, 0, ''],
        ['bin/sh', '2', 0o777, 0, 'busybox'],
        ['etc/passwd', '0', 0o600, 26, ''],
        [long, '0', 0o644, 1000, ''],
      ],
    );
    assert.throws(() => buildTar([{ name: 'x'.repeat(300), type: 'file' }]), /name too long/);
  });

  it('builds an OCI layout with one manifest per name and content-addressed blobs', () => {
    const built = buildOciArchive({ names: ['docker.io/k8ts/x:1', 'docker.io/library/x:latest'], files: [{ name: 'hello', type: 'file', data: 'hi' }], config: { Cmd: ['sh'] } });
    const files = new Map(readTar(built.tar).map((e) => [e.name, e.data]));
    assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(files.get('index.json')!.toString());
    assert.deepEqual(
      index.manifests.map((m: any) => [m.digest, m.annotations]),
      [
        [built.manifestDigest, { 'io.containerd.image.name': 'docker.io/k8ts/x:1', 'org.opencontainers.image.ref.name': '1' }],
        [built.manifestDigest, { 'io.containerd.image.name': 'docker.io/library/x:latest', 'org.opencontainers.image.ref.name': 'latest' }],
      ],
    );
    const blob = (d: string) => files.get(`blobs/sha256/${d.slice(7)}`)!;
    for (const [name, data] of files) {
      if (name.startsWith('blobs/sha256/') && data.length) assert.equal(createHash('sha256').update(data).digest('hex'), name.slice(13));
    }
    const manifest = JSON.parse(blob(built.manifestDigest).toString());
    assert.equal(manifest.config.digest, built.imageId);
    const config = JSON.parse(blob(built.imageId).toString());
    const layer = gunzipSync(blob(manifest.layers[0].digest));
    assert.equal(config.rootfs.diff_ids[0], `sha256:${createHash('sha256').update(layer).digest('hex')}`);
    assert.deepEqual(readTar(layer).map((e) => e.name), ['hello']);
    // Same input, same bytes: image IDs are stable between builds.
    assert.equal(buildOciArchive({ names: ['a:1'], files: [{ name: 'hello', type: 'file', data: 'hi' }], config: { Cmd: ['sh'] } }).imageId, built.imageId);
  });

  it('normalises image names as containerd does', () => {
    assert.equal(normalizeImageName('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalizeImageName('k8ts/pause:3.10'), 'docker.io/k8ts/pause:3.10');
    assert.equal(normalizeImageName('127.0.0.1:5000/x'), '127.0.0.1:5000/x:latest');
    assert.equal(normalizeImageName('localhost/x:1'), 'localhost/x:1');
    assert.deepEqual(parseImageReference(`reg.io/a/b@sha256:${'f'.repeat(64)}`), { domain: 'reg.io', path: 'a/b', digest: `sha256:${'f'.repeat(64)}` });
    assert.throws(() => parseImageReference('a b'), /^Error: invalid reference format$/);
    assert.throws(() => parseImageReference('Foo'), /repository name \(library\/Foo\) must be lowercase/);
    assert.throws(() => parseImageReference('f'.repeat(64)), /cannot specify 64-byte hexadecimal strings/);
  });
});
