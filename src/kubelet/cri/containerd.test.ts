import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { Containerd, containerdConfigToml, containerdSocketPath } from './containerd.js';

describe('containerd config', () => {
  it('keeps the socket under the directory unless the path is too long for a unix socket', () => {
    assert.equal(containerdSocketPath('/var/lib/k8ts/agent/containerd'), '/var/lib/k8ts/agent/containerd/containerd.sock');
    const long = `/tmp/${'x'.repeat(90)}/containerd`;
    const sock = containerdSocketPath(long);
    assert.match(sock, /^\/run\/k8ts\/[0-9a-f]{16}\/containerd\.sock$/);
    assert.equal(containerdSocketPath(long), sock, 'stable for the same directory');
    assert.notEqual(containerdSocketPath(`${long}2`), sock);
  });

  it('has the settings this machine needs', () => {
    const toml = containerdConfigToml({
      dir: '/a/containerd',
      socketPath: '/a/containerd/containerd.sock',
      cniConfDir: '/a/cni/net.d',
      cniBinDir: '/usr/lib/cni',
      sandboxImage: 'docker.io/k8ts/pause:3.10',
      logLevel: 'info',
    });
    for (const line of [
      'root = "/a/containerd/root"',
      'state = "/a/containerd/state"',
      'address = "/a/containerd/containerd.sock"',
      'path = "/a/containerd/opt"',
      'sandbox_image = "docker.io/k8ts/pause:3.10"',
      'restrict_oom_score_adj = true',
      'netns_mounts_under_state_dir = true',
      'stream_server_address = "127.0.0.1"',
      'stream_server_port = "0"',
      'SystemdCgroup = false',
      'Root = "/a/containerd/state/runc"',
      'bin_dir = "/usr/lib/cni"',
      'conf_dir = "/a/cni/net.d"',
      'config_path = "/a/containerd/certs.d"',
    ]) {
      assert.ok(toml.includes(line), line);
    }
  });

  it('fails start() at once when containerd cannot run or exits', async () => {
    const dir = mkdtempSync('/tmp/k8ts-cd-');
    const log = { info() {}, warn() {}, error() {}, debug() {} };
    try {
      for (const [binary, err] of [
        ['/nonexistent/containerd', /could not be started: spawn \/nonexistent\/containerd ENOENT/],
        ['/bin/false', /containerd exited \(1\) before its CRI answered/],
      ] as const) {
        const c = new Containerd({ dir: `${dir}/containerd`, cniConfDir: `${dir}/cni`, sandboxImage: 'x', log, binary, startTimeoutMs: 10_000 });
        await assert.rejects(c.start(), err);
        await c.stop();
        assert.equal(c.restarts, 0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
