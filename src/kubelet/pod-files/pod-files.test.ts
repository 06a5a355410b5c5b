import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { KubeletPaths } from '../paths.js';
import { ensureHostsFile, podHostnameAndDomain } from './hosts-file.js';
import { prepareTerminationMessageFile, readTerminationMessage, terminationMessageHostFile } from './termination-message.js';

const HEADER = '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n';

const pod = (spec: Record<string, unknown> = {}, name = 'web-0'): KubeObject => ({
  metadata: { name, namespace: 'shop', uid: `uid-${name}-${Math.random().toString(36).slice(2)}` },
  spec: { containers: [{ name: 'app' }], ...spec },
});

describe('per-pod files', () => {
  const root = mkdtempSync(join(tmpdir(), 'k8ts-podfiles-'));
  const paths = new KubeletPaths(root);
  after(() => rmSync(root, { recursive: true, force: true }));

  test('/etc/hosts: managed content, subdomain FQDN, hostAliases', () => {
    const p = pod({ hostname: 'db', subdomain: 'cluster', hostAliases: [{ ip: '10.1.2.3', hostnames: ['foo.remote', 'bar.remote'] }, { ip: '127.0.0.1', hostnames: ['foo.local'] }] });
    const m = ensureHostsFile(paths, p, { podIPs: ['10.42.0.5', 'fd00::5'] })!;
    assert.deepEqual(m, { container_path: '/etc/hosts', host_path: join(paths.podDir(p.metadata.uid!), 'etc-hosts'), readonly: false, selinux_relabel: true });
    assert.equal(
      readFileSync(m.host_path, 'utf8'),
      HEADER +
        '10.42.0.5\tdb.cluster.shop.svc.cluster.local\tdb\nfd00::5\tdb.cluster.shop.svc.cluster.local\tdb\n' +
        '\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n127.0.0.1\tfoo.local\n',
    );
    const plain = pod();
    assert.equal(readFileSync(ensureHostsFile(paths, plain, { podIPs: ['10.42.0.6'] })!.host_path, 'utf8'), HEADER + '10.42.0.6\tweb-0\n');
    assert.equal(ensureHostsFile(paths, pod(), { podIPs: [] }), undefined, 'no IP yet: no file');
    assert.equal(podHostnameAndDomain(pod({ subdomain: 's' }), 'example.org').domain, 's.shop.svc.example.org');
    assert.equal(podHostnameAndDomain(pod({}, 'a'.repeat(62) + '-bc')).hostname, 'a'.repeat(62), 'cut at 63, trailing dash trimmed');
  });

  test('/etc/hosts for hostNetwork pods: the node file plus aliases', () => {
    const nodeHosts = join(root, 'node-hosts');
    writeFileSync(nodeHosts, '127.0.0.1 localhost\n192.168.1.5 node-a\n');
    const p = pod({ hostNetwork: true, hostAliases: [{ ip: '10.9.9.9', hostnames: ['x'] }] });
    const m = ensureHostsFile(paths, p, { podIPs: ['192.168.1.5'], nodeHostsFile: nodeHosts })!;
    assert.equal(readFileSync(m.host_path, 'utf8'), '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.5 node-a\n\n# Entries added by HostAliases.\n10.9.9.9\tx\n');
  });

  test('termination message: the file, its cap, and FallbackToLogsOnError', async () => {
    const p = pod();
    const c = { name: 'app', terminationMessagePath: '/tmp/msg' };
    const m = prepareTerminationMessageFile(paths, p, c)!;
    assert.equal(m.container_path, '/tmp/msg');
    assert.equal(terminationMessageHostFile(c, [m]), m.host_path);
    const m2 = prepareTerminationMessageFile(paths, p, { name: 'app' })!;
    assert.equal(m2.container_path, '/dev/termination-log');
    assert.notEqual(m2.host_path, m.host_path, 'a new file per start');

    const log = join(root, '0.log');
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) lines.push(`2026-11-25T10:00:00.${String(i).padStart(9, '0')}Z stdout F line ${i}`);
    lines.push('2026-11-25T10:00:01.000000000Z stderr P partial-');
    lines.push('2026-11-25T10:00:01.000000001Z stderr F end');
    writeFileSync(log, lines.join('\n') + '\n');

    // Empty file, failed, FallbackToLogsOnError: the log's last 80 lines, at most 2048 bytes.
    const fromLogs = await readTerminationMessage(p, c, { hostFile: m.host_path, logPath: log, exitCode: 1, policy: 'FallbackToLogsOnError' });
    assert.ok(fromLogs.endsWith('line 99\npartial-end\n'), fromLogs.slice(-40));
    assert.ok(!fromLogs.includes('line 21\n'), 'only the last 80 log lines (the partial and its end are two)');
    assert.ok(fromLogs.startsWith('line 22\n'), fromLogs.slice(0, 20));
    // Succeeded, or policy File: no fallback.
    assert.equal(await readTerminationMessage(p, c, { hostFile: m.host_path, logPath: log, exitCode: 0, policy: 'FallbackToLogsOnError' }), '');
    assert.equal(await readTerminationMessage(p, c, { hostFile: m.host_path, logPath: log, exitCode: 1 }), '');

    writeFileSync(m.host_path, 'x'.repeat(5000) + 'THE END');
    const msg = await readTerminationMessage(p, { ...c, terminationMessagePolicy: 'FallbackToLogsOnError' }, { hostFile: m.host_path, logPath: log, exitCode: 1 });
    assert.equal(Buffer.byteLength(msg), 4096, 'capped at 4096 bytes');
    assert.ok(msg.endsWith('THE END'), 'the file wins over the logs; its end is kept');

    // Long log lines: 2048 bytes at most, from the end.
    const longLog = join(root, '1.log');
    writeFileSync(longLog, `2026-11-25T10:00:00.000000000Z stdout F ${'y'.repeat(3000)}\n2026-11-25T10:00:00.100000000Z stdout F boom\n`);
    const tail = await readTerminationMessage(p, c, { hostFile: m2.host_path, logPath: longLog, exitCode: 2, policy: 'FallbackToLogsOnError' });
    assert.equal(Buffer.byteLength(tail), 2048);
    assert.ok(tail.endsWith('y\nboom\n'));
    assert.equal(await readTerminationMessage(p, c, { hostFile: join(root, 'gone'), logPath: join(root, 'gone.log'), exitCode: 1, policy: 'FallbackToLogsOnError' }), '');
  });
});
