// Pod lifecycle on a real node: crash loops with growing back-off and --previous logs, OOMKilled,
// liveness restarts, readiness and Service endpoints, image pull errors, graceful deletion with
// preStop, and config errors.

import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';
import { BUSYBOX } from './streaming.js';

const yaml = (o: unknown) => JSON.stringify(o);

function pod(name: string, spec: Record<string, unknown>, labels?: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, ...(labels ? { labels } : {}) }, spec };
}

export function lifecycle(srv: () => K8tsServer, ns: string, hostDir: string): void {
  const k = kubectlOf(srv);
  const getPod = async (name: string) => JSON.parse(await k(['get', 'pod', name, '-n', ns, '-o', 'json']));
  const apply = (o: unknown) => k(['apply', '-n', ns, '-f', '-'], { input: yaml(o) });
  before(async () => {
    await k(['create', 'namespace', ns]);
  });

  it('a container that exits 1 goes to CrashLoopBackOff with growing back-off; logs --previous shows the last run', async () => {
    await apply(pod('crash', { containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'echo "run $RANDOM"; exit 1'] }] }));
    const p = await eventually(async () => {
      const p = await getPod('crash');
      const cs = p.status?.containerStatuses?.[0];
      return cs?.restartCount >= 2 && cs?.state?.waiting?.reason === 'CrashLoopBackOff' ? p : undefined;
    }, 'two restarts and CrashLoopBackOff', 60_000);
    const cs = p.status.containerStatuses[0];
    assert.match(cs.state.waiting.message, /^back-off (10|20)s restarting failed container=c pod=crash_/);
    assert.equal(cs.lastState.terminated.exitCode, 1);
    assert.equal(cs.lastState.terminated.reason, 'Error');
    assert.equal(p.status.phase, 'Running');
    const prev = await k(['logs', '-n', ns, 'crash', '--previous']);
    assert.match(prev, /^run \d+\n$/);
    const events = await k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=crash,reason=BackOff', '-o', 'jsonpath={.items[*].message}']);
    assert.match(events, /Back-off restarting failed container c in pod crash_/);
    // Back-off grows: the third start comes at least 20 s after the second failure.
    const describe = await k(['describe', 'pod', 'crash', '-n', ns]);
    assert.match(describe, /CrashLoopBackOff/);
    await k(['delete', 'pod', 'crash', '-n', ns, '--wait=false']);
  });

  it('a container over its memory limit is OOMKilled', async () => {
    await apply(pod('oom', { restartPolicy: 'Never', containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'head -c 200m /dev/zero | tail'], resources: { limits: { memory: '20Mi' } } }] }));
    const p = await eventually(async () => {
      const p = await getPod('oom');
      return p.status?.phase === 'Failed' ? p : undefined;
    }, 'the pod to fail', 60_000);
    const t = p.status.containerStatuses[0].state.terminated;
    assert.equal(t.reason, 'OOMKilled');
    assert.equal(t.exitCode, 137);
    const wide = await k(['get', 'pod', 'oom', '-n', ns]);
    assert.match(wide, /OOMKilled/);
  });

  it('a failing liveness probe restarts the container with the upstream event', async () => {
    await apply(
      pod('live', {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'touch /tmp/alive; sleep 100000'], livenessProbe: { exec: { command: ['cat', '/tmp/alive'] }, periodSeconds: 1, failureThreshold: 2 } }],
      }),
    );
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/live', '--timeout=60s'], { timeoutMs: 70_000 });
    await k(['exec', '-n', ns, 'live', '--', 'rm', '/tmp/alive']);
    await eventually(async () => (await getPod('live')).status?.containerStatuses?.[0]?.restartCount >= 1, 'a restart', 60_000);
    const events = await k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=live', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /Unhealthy: Liveness probe failed: cat: can't open '\/tmp\/alive': No such file or directory/);
    assert.match(events, /Killing: Container c failed liveness probe, will be restarted/);
  });

  it('a pod failing readiness is not Ready and leaves the Service endpoints', async () => {
    await apply(pod('ready', { containers: [{ name: 'c', image: BUSYBOX, command: ['sh', '-c', 'echo ok > /index.html; exec httpd -f -p 8080'], readinessProbe: { httpGet: { path: '/index.html', port: 8080 }, periodSeconds: 1 } }] }, { app: 'ready' }));
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ready' }, spec: { selector: { app: 'ready' }, ports: [{ port: 80, targetPort: 8080 }] } });
    const ip = await eventually(async () => {
      const p = await getPod('ready');
      return p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True' ? p.status.podIP : undefined;
    }, 'Ready', 60_000);
    await eventually(async () => (await k(['get', 'endpoints', 'ready', '-n', ns, '-o', 'jsonpath={.subsets[*].addresses[*].ip}'])) === ip, 'the pod in the endpoints');
    await k(['exec', '-n', ns, 'ready', '--', 'rm', '/index.html']);
    await eventually(async () => {
      const p = await getPod('ready');
      const ready = p.status.conditions.find((c: any) => c.type === 'Ready');
      return ready.status === 'False' && ready.reason === 'ContainersNotReady' && p.status.containerStatuses[0].ready === false;
    }, 'not Ready', 30_000);
    await eventually(async () => (await k(['get', 'endpoints', 'ready', '-n', ns, '-o', 'jsonpath={.subsets[*].notReadyAddresses[*].ip}'])) === ip, 'the pod among notReadyAddresses');
    assert.equal(await k(['get', 'endpoints', 'ready', '-n', ns, '-o', 'jsonpath={.subsets[*].addresses[*].ip}']), '');
  });

  it('an image that does not exist gives ErrImagePull, then ImagePullBackOff', async () => {
    // A registry address on loopback where nothing listens: no traffic leaves the machine.
    await apply(pod('noimage', { containers: [{ name: 'c', image: '127.0.0.1:9/nope:1' }] }));
    const reasons = new Set<string>();
    await eventually(async () => {
      const r = (await getPod('noimage')).status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (r) reasons.add(r);
      return reasons.has('ImagePullBackOff');
    }, 'ImagePullBackOff', 60_000);
    const events = await k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=noimage', '-o', 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']);
    assert.match(events, /Failed: Failed to pull image "127.0.0.1:9\/nope:1"/);
    assert.match(events, /Failed: Error: ErrImagePull/);
    assert.match(events, /BackOff: Back-off pulling image "127.0.0.1:9\/nope:1"/);
  });

  it('a missing ConfigMap key is CreateContainerConfigError; a missing command fails the container', async () => {
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1' } });
    await apply(pod('badenv', { containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '1000'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'missing' } } }] }] }));
    const w = await eventually(async () => (await getPod('badenv')).status?.containerStatuses?.[0]?.state?.waiting, 'waiting', 30_000);
    await eventually(async () => (await getPod('badenv')).status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError', `CreateContainerConfigError (was ${JSON.stringify(w)})`, 30_000);
    assert.equal((await getPod('badenv')).status.containerStatuses[0].state.waiting.message, `couldn't find key missing in ConfigMap ${ns}/cfg`);
    await apply(pod('nocmd', { restartPolicy: 'Never', containers: [{ name: 'c', image: BUSYBOX, command: ['/no/such/binary'] }] }));
    const t = await eventually(async () => (await getPod('nocmd')).status?.containerStatuses?.[0]?.state?.terminated, 'terminated', 30_000);
    assert.notEqual(t.exitCode, 0);
    assert.match(t.message ?? t.reason, /no such file or directory|StartError|ContainerCannotRun/);
    // The node keeps serving the other pods.
    assert.equal((await getPod('ready')).status.phase, 'Running');
  });

  it('securityContext: user and group, read-only root filesystem, dropped capabilities, host namespaces', async () => {
    await apply(
      pod('secure', {
        securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000] },
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            command: ['sleep', '100000'],
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      }),
    );
    await apply(pod('hostnet', { hostNetwork: true, hostPID: true, containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '100000'] }] }));
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/secure', 'pod/hostnet', '--timeout=60s'], { timeoutMs: 70_000 });
    assert.equal(await k(['exec', '-n', ns, 'secure', '--', 'id', '-u']), '1000\n');
    assert.equal(await k(['exec', '-n', ns, 'secure', '--', 'id', '-g']), '3000\n');
    assert.match(await k(['exec', '-n', ns, 'secure', '--', 'id', '-G']), /\b4000\b/);
    const touch = await srv().kubectl(['exec', '-n', ns, 'secure', '--', 'touch', '/x']);
    assert.notEqual(touch.code, 0);
    assert.match(touch.stderr, /Read-only file system/);
    const caps = await k(['exec', '-n', ns, 'secure', '--', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(caps, /CapEff:\s+0000000000000000/);
    assert.match(await k(['exec', '-n', ns, 'secure', '--', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
    // hostNetwork: the pod IP is the node's; hostPID: the host's processes are visible.
    assert.equal(await k(['get', 'pod', 'hostnet', '-n', ns, '-o', 'jsonpath={.status.podIP}']), '127.0.0.1');
    const ps = await k(['exec', '-n', ns, 'hostnet', '--', 'sh', '-c', 'ls /proc | grep -c "^[0-9]"']);
    assert.ok(Number(ps) > 20, `host processes visible (${ps.trim()})`);
    await k(['delete', 'pod', 'secure', 'hostnet', '-n', ns, '--grace-period=1', '--wait=false']);
  });

  it('volumes that cannot be set up leave the pod ContainerCreating with FailedMount events', async () => {
    await apply(pod('badvol', {
      containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '1000'], volumeMounts: [{ name: 'cm', mountPath: '/cm' }, { name: 'h', mountPath: '/h' }] }],
      volumes: [{ name: 'cm', configMap: { name: 'missing' } }, { name: 'h', hostPath: { path: '/etc/hostname', type: 'Directory' } }],
    }));
    await eventually(async () => {
      const ev = await k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=badvol,reason=FailedMount', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}']);
      return /configmap "missing" not found/.test(ev) && /hostPath type check failed: \/etc\/hostname is not a directory/.test(ev);
    }, 'FailedMount events for both volumes', 30_000);
    const w = JSON.parse(await k(['get', 'pod', 'badvol', '-n', ns, '-o', 'json'])).status.containerStatuses[0].state.waiting;
    assert.equal(w.reason, 'ContainerCreating');
    await k(['delete', 'pod', 'badvol', '-n', ns, '--grace-period=1', '--wait=false']);
  });

  it('kubectl delete runs preStop, sends SIGTERM, and gives the process its grace period', async () => {
    await apply(
      pod('grace', {
        terminationGracePeriodSeconds: 20,
        volumes: [{ name: 'out', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } }],
        containers: [
          {
            name: 'c',
            image: BUSYBOX,
            volumeMounts: [{ name: 'out', mountPath: '/out' }],
            command: ['sh', '-c', "trap 'echo term $(date +%s) >> /out/log; sleep 3; echo done $(date +%s) >> /out/log; exit 0' TERM; while true; do sleep 0.2; done"],
            lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop $(date +%s) >> /out/log'] } } },
          },
        ],
      }),
    );
    await k(['wait', '-n', ns, '--for=condition=Ready', 'pod/grace', '--timeout=60s'], { timeoutMs: 70_000 });
    const started = Date.now();
    await k(['delete', 'pod', 'grace', '-n', ns], { timeoutMs: 60_000 });
    const took = Date.now() - started;
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(`${hostDir}/log`, 'utf8').trim().split('\n');
    assert.deepEqual(log.map((l) => l.split(' ')[0]), ['prestop', 'term', 'done'], log.join('\n'));
    assert.ok(took >= 3000, `deletion waited for the process (${took} ms)`);
    assert.ok(took < 20_000, `deletion did not wait the whole grace period once the process exited (${took} ms)`);
  });
}
