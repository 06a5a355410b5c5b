// The runtime conformance suite: what the node agent relies on from any ContainerRuntime, run
// against containerd (through the CRI) and the simulated runtime alike. Containers are scripted
// so both understand them: a shell command for a real runtime, SIM_* variables for the simulated
// one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LABEL_POD_UID, RuntimeError, type ContainerConfig, type ContainerRuntime, type PodSandboxConfig } from './runtime.js';

export interface ConformanceTarget {
  runtime: ContainerRuntime;
  /** An image present on the runtime that has `sh`, `sleep` and `echo`. */
  image: string;
  /** A directory for sandbox logs. */
  logDir: string;
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function describeRuntimeConformance(name: string, target: () => ConformanceTarget): void {
  let n = 0;
  const sandboxConfig = (t: ConformanceTarget): PodSandboxConfig => {
    const uid = `conformance-${process.pid}-${++n}`;
    return {
      metadata: { name: `c${n}`, uid, namespace: 'conformance', attempt: 0 },
      hostname: `c${n}`,
      log_directory: `${t.logDir}/${uid}`,
      labels: { [LABEL_POD_UID]: uid },
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
  };
  const container = (t: ConformanceTarget, cname: string, command: string[], env: Record<string, string> = {}): ContainerConfig => ({
    metadata: { name: cname, attempt: 0 },
    image: { image: t.image },
    command,
    envs: Object.entries(env).map(([key, value]) => ({ key, value })),
    labels: { 'io.kubernetes.container.name': cname },
    log_path: `${cname}/0.log`,
  });

  describe(`runtime conformance: ${name}`, () => {
    it('reports its version and that it is ready', async () => {
      const t = target();
      const v = await t.runtime.version();
      assert.ok(v.runtime_name && v.runtime_version);
      const st = await t.runtime.status();
      assert.equal(st.conditions.find((c) => c.type === 'RuntimeReady')?.status, true);
    });

    it('runs, lists, stops and removes a sandbox; stop and remove are idempotent', async () => {
      const t = target();
      const cfg = sandboxConfig(t);
      const id = await t.runtime.runPodSandbox(cfg);
      const listed = await t.runtime.listPodSandbox({ label_selector: { [LABEL_POD_UID]: cfg.metadata.uid } });
      assert.deepEqual(listed.map((s) => s.id), [id]);
      assert.equal(listed[0].state, 'SANDBOX_READY');
      assert.equal(listed[0].metadata.uid, cfg.metadata.uid);
      const st = await t.runtime.podSandboxStatus(id);
      assert.match(st.status.network?.ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);
      await t.runtime.stopPodSandbox(id);
      await t.runtime.stopPodSandbox(id);
      assert.equal((await t.runtime.listPodSandbox({ id }))[0].state, 'SANDBOX_NOTREADY');
      await t.runtime.removePodSandbox(id);
      await t.runtime.removePodSandbox(id);
      assert.deepEqual(await t.runtime.listPodSandbox({ id }), []);
    });

    it('moves a container through created, running and exited, with its exit code', async () => {
      const t = target();
      const cfg = sandboxConfig(t);
      const sb = await t.runtime.runPodSandbox(cfg);
      try {
        const id = await t.runtime.createContainer(sb, container(t, 'main', ['sh', '-c', 'sleep 1; exit 3'], { SIM_EXIT_AFTER_MS: '1000', SIM_EXIT_CODE: '3' }), cfg);
        assert.equal((await t.runtime.containerStatus(id)).status.state, 'CONTAINER_CREATED');
        await t.runtime.startContainer(id);
        const running = (await t.runtime.containerStatus(id)).status;
        assert.equal(running.state, 'CONTAINER_RUNNING');
        assert.ok(BigInt(running.started_at) > 0n);
        const exited = await until(async () => {
          const s = (await t.runtime.containerStatus(id)).status;
          return s.state === 'CONTAINER_EXITED' ? s : undefined;
        });
        assert.equal(exited.exit_code, 3);
        assert.ok(BigInt(exited.finished_at) >= BigInt(exited.started_at));
        const listed = await t.runtime.listContainers({ pod_sandbox_id: sb });
        assert.deepEqual(listed.map((c) => c.id), [id]);
        assert.equal(listed[0].labels['io.kubernetes.container.name'], 'main');
      } finally {
        await t.runtime.stopPodSandbox(sb);
        await t.runtime.removePodSandbox(sb);
      }
    });

    it('stops a running container within the timeout, and runs exec in it while it runs', async () => {
      const t = target();
      const cfg = sandboxConfig(t);
      const sb = await t.runtime.runPodSandbox(cfg);
      try {
        const id = await t.runtime.createContainer(sb, container(t, 'sleeper', ['sleep', '1000']), cfg);
        await t.runtime.startContainer(id);
        const echo = await t.runtime.execSync(id, ['echo', 'hi'], 10);
        assert.equal(echo.stdout.toString(), 'hi\n');
        assert.equal(echo.exit_code, 0);
        assert.equal((await t.runtime.execSync(id, ['false'], 10)).exit_code, 1);
        await t.runtime.stopContainer(id, 1);
        const s = (await t.runtime.containerStatus(id)).status;
        assert.equal(s.state, 'CONTAINER_EXITED');
        assert.notEqual(s.exit_code, 0);
        await t.runtime.stopContainer(id, 1); // idempotent
        await t.runtime.removeContainer(id);
        await t.runtime.removeContainer(id);
        assert.deepEqual(await t.runtime.listContainers({ id }), []);
      } finally {
        await t.runtime.stopPodSandbox(sb);
        await t.runtime.removePodSandbox(sb);
      }
    });

    it('answers NotFound for unknown containers and sandboxes', async () => {
      const t = target();
      const missing = 'f'.repeat(64);
      await assert.rejects(t.runtime.containerStatus(missing), (e: unknown) => e instanceof RuntimeError && e.notFound);
      await assert.rejects(t.runtime.podSandboxStatus(missing), (e: unknown) => e instanceof RuntimeError && e.notFound);
    });

    it('removing a sandbox removes its containers', async () => {
      const t = target();
      const cfg = sandboxConfig(t);
      const sb = await t.runtime.runPodSandbox(cfg);
      const id = await t.runtime.createContainer(sb, container(t, 'x', ['sleep', '1000']), cfg);
      await t.runtime.startContainer(id);
      await t.runtime.stopPodSandbox(sb);
      assert.equal((await t.runtime.containerStatus(id)).status.state, 'CONTAINER_EXITED');
      await t.runtime.removePodSandbox(sb);
      assert.deepEqual(await t.runtime.listContainers({ id }), []);
    });
  });
}
