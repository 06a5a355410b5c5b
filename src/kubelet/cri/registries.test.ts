import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { criRegistryToml, hostsFiles, parseRegistries, writeHostsDir } from './registries.js';

const K3S_EXAMPLE = `
mirrors:
  docker.io:
    endpoint:
      - "http://127.0.0.1:5000"
      - "https://mirror.example.com/v2-root"
  "*":
    endpoint: ["https://fallback.example.com"]
configs:
  "127.0.0.1:5000":
    tls:
      insecure_skip_verify: true
    auth:
      username: alice
      password: "p\\"w"
  "secure.example.com":
    tls:
      ca_file: /etc/ssl/ca.pem
      cert_file: /etc/ssl/c.pem
      key_file: /etc/ssl/k.pem
`;

describe('registries.yaml', () => {
  it('parses k3s format and writes one hosts.toml per registry', () => {
    const reg = parseRegistries(K3S_EXAMPLE);
    assert.deepEqual(reg.mirrors['docker.io'].endpoint, ['http://127.0.0.1:5000', 'https://mirror.example.com/v2-root']);
    const files = hostsFiles(reg);
    assert.deepEqual([...files.keys()].sort(), ['127.0.0.1:5000', '_default', 'docker.io', 'secure.example.com']);
    // A loopback registry stays plain HTTP, as containerd treats it without a hosts.toml.
    assert.equal(files.get('127.0.0.1:5000'), 'server = "http://127.0.0.1:5000"\n');
    const remote = hostsFiles(parseRegistries('configs:\n  reg.example.com:\n    tls: {insecure_skip_verify: true}\n')).get('reg.example.com')!;
    assert.equal(remote, 'server = "https://reg.example.com"\n\n[host."https://reg.example.com"]\n  capabilities = ["pull", "resolve", "push"]\n  skip_verify = true\n');
    assert.match(files.get('secure.example.com')!, /ca = "\/etc\/ssl\/ca.pem"\n {2}client = \[\["\/etc\/ssl\/c.pem", "\/etc\/ssl\/k.pem"\]\]/);
    assert.doesNotMatch(files.get('_default')!, /^server/m);
  });

  it('puts credentials in the CRI registry configs, quoted', () => {
    const toml = criRegistryToml('/d/certs.d', parseRegistries(K3S_EXAMPLE));
    assert.equal(
      toml,
      '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/d/certs.d"\n\n' +
        '[plugins."io.containerd.grpc.v1.cri".registry.configs."127.0.0.1:5000".auth]\n  username = "alice"\n  password = "p\\"w"\n',
    );
  });

  it('replaces the hosts directory on every write', () => {
    const dir = mkdtempSync('/tmp/k8ts-reg-');
    try {
      writeHostsDir(join(dir, 'certs.d'), parseRegistries(K3S_EXAMPLE));
      assert.ok(readFileSync(join(dir, 'certs.d', 'docker.io', 'hosts.toml'), 'utf8').includes('127.0.0.1:5000'));
      writeHostsDir(join(dir, 'certs.d'), undefined);
      assert.deepEqual(readdirSync(join(dir, 'certs.d')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed files with the offending key', () => {
    assert.throws(() => parseRegistries('mirrors: [1]'), /mirrors: expected a mapping/);
    assert.throws(() => parseRegistries('mirrors:\n  docker.io:\n    endpoint: "http://x"'), /mirrors.docker.io.endpoint: expected a list/);
    assert.throws(() => parseRegistries('mirrors:\n  docker.io:\n    endpoint: ["ftp://x"]'), /must be http:\/\/ or https:\/\//);
    assert.throws(() => parseRegistries('configs:\n  r:\n    tls:\n      insecure_skip_verify: "yes"'), /insecure_skip_verify: expected true or false/);
    assert.throws(() => parseRegistries('mirrors: {a: [}'), /registries.yaml: /);
    assert.deepEqual(parseRegistries(''), { mirrors: {}, configs: {} });
  });
});
