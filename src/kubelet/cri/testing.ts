// A real containerd for tests: its own short temp directory under /tmp, a private CNI network
// (unique bridge, a random 10.x.y.0/24, host-local state in the temp dir), the built-in images
// imported. stop() removes everything it made — pods, shims and their containers, mounts,
// the bridge, cgroups, files — and so does a start that fails half-way.
//
//   const t = await startTestContainerd();
//   after(() => t.stop());
//   const id = await t.runtime.runPodSandbox(t.sandboxConfig('p1'));

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeletPaths } from '../paths.js';
import type { PodSandboxConfig } from '../runtime/runtime.js';
import { ensureBuiltinImages, PAUSE_IMAGE } from '../images/builtin-images.js';
import { bridgeConflist } from './cni-config.js';
import type { Logger } from '../../machinery/logger.js';
import { Containerd } from './containerd.js';
import { CriRuntime } from './cri-runtime.js';
import type { RegistriesConfig } from './registries.js';
import { killShims, killShimsAndUnmountSync, removeCgroups, removeCniIptablesRules, unmountUnder } from './teardown.js';

const execFileP = promisify(execFile);

export interface TestContainerd {
  runtime: CriRuntime;
  containerd: Containerd;
  paths: KubeletPaths;
  images: { busybox: string; pause: string };
  /** The CNI network: bridge device, subnet (e.g. 10.213.7.0/24), conflist dir. */
  network: { bridge: string; subnet: string; gateway: string; name: string; confDir: string };
  /** Put sandboxes under this cgroup parent; stop() removes it in every hierarchy. */
  cgroupParent: string;
  /** A sandbox config with a log directory under the temp dir and the test cgroup parent. */
  sandboxConfig(name: string, overrides?: Partial<PodSandboxConfig>): PodSandboxConfig;
  stop(): Promise<void>;
}

export interface TestContainerdOptions {
  registries?: RegistriesConfig;
  log?: Logger;
}

const quiet: Logger = { info() {}, warn() {}, error() {}, debug() {} };

// Built archives are the same for every test on this machine; keep them between runs.
const IMAGE_CACHE = '/tmp/k8ts-test-builtin-images';

function randomSubnet(): { subnet: string; gateway: string } {
  // 10.200.0.0/13 is rarely used by anything else on a test machine.
  const b = 200 + (randomBytes(1)[0] % 8);
  const c = randomBytes(1)[0];
  return { subnet: `10.${b}.${c}.0/24`, gateway: `10.${b}.${c}.1` };
}

export async function startTestContainerd(opts: TestContainerdOptions = {}): Promise<TestContainerd> {
  const log = opts.log ?? quiet;
  const dir = mkdtempSync('/tmp/k8c-');
  const id = dir.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, '0');
  const paths = new KubeletPaths(dir);
  const bridge = `k8t${id}`;
  const name = `k8ts-test-${id}`;
  const { subnet, gateway } = randomSubnet();
  const confDir = join(dir, 'cni', 'net.d');
  const cgroupParent = `/k8ts-test-${id}`;
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(confDir, '10-test.conflist'), bridgeConflist({ name, bridge, subnet, gateway, ipamDataDir: join(dir, 'cni', 'ipam') }));

  const containerd = new Containerd({ dir: paths.containerdDir, cniConfDir: confDir, sandboxImage: PAUSE_IMAGE, registries: opts.registries, log });
  let runtime: CriRuntime | undefined;
  let stopped = false;

  // A test file that ends without calling stop() (a crash, a forgotten after()) still leaves
  // nothing behind: containerd runs in its own process group and would outlive the test.
  const onExit = () => {
    if (stopped) return;
    stopped = true;
    const pid = containerd.pid;
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    killShimsAndUnmountSync(containerd.socketPath, dir);
    spawnSync('ip', ['link', 'del', bridge]);
    removeCniIptablesRules(name);
    removeCgroups(cgroupParent);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    // Stopping each sandbox through the CRI tears down its network (CNI DEL: veth, iptables).
    if (runtime && containerd.pid) {
      try {
        for (const c of await runtime.listContainers()) await runtime.removeContainer(c.id).catch(() => undefined);
        for (const s of await runtime.listPodSandbox()) {
          await runtime.stopPodSandbox(s.id).catch(() => undefined);
          await runtime.removePodSandbox(s.id).catch(() => undefined);
        }
      } catch {
        // containerd not answering: the rest still cleans up
      }
    }
    runtime?.close();
    await containerd.stop().catch(() => undefined);
    await killShims(containerd.socketPath);
    await unmountUnder(dir);
    await execFileP('ip', ['link', 'del', bridge]).catch(() => undefined);
    removeCniIptablesRules(name);
    removeCgroups(cgroupParent);
    removeCniCache(name);
    rmSync(dir, { recursive: true, force: true });
    if (!containerd.socketPath.startsWith(dir)) rmSync(join(containerd.socketPath, '..'), { recursive: true, force: true });
  };

  try {
    await containerd.start();
    runtime = new CriRuntime({ endpoint: containerd.endpoint });
    const images = await ensureBuiltinImages({ runtime, ctrSocket: containerd.socketPath, cacheDir: IMAGE_CACHE, log });
    const sandboxConfig = (podName: string, overrides: Partial<PodSandboxConfig> = {}): PodSandboxConfig => {
      const uid = `${podName}-${randomBytes(4).toString('hex')}`;
      return {
        metadata: { name: podName, namespace: 'default', uid, attempt: 0 },
        hostname: podName,
        log_directory: paths.podLogDir('default', podName, uid),
        labels: { 'io.kubernetes.pod.name': podName, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
        linux: { cgroup_parent: `${cgroupParent}/pod${uid}`, security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
        ...overrides,
      };
    };
    return { runtime, containerd, paths, images, network: { bridge, subnet, gateway, name, confDir }, cgroupParent, sandboxConfig, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** libcni's result cache under /var/lib/cni for our network (normally gone after CNI DEL). */
function removeCniCache(network: string): void {
  for (const sub of ['results']) {
    const d = join('/var/lib/cni', sub);
    try {
      for (const f of readdirSync(d)) if (f.startsWith(`${network}-`)) rmSync(join(d, f), { force: true });
    } catch {
      // no cache
    }
  }
}

/** A free TCP port on 127.0.0.1 (for a registry whose address must be known before containerd starts). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  /** Pushes an OCI archive with one image to `<host>/<repoTag>` (skopeo). */
  pushArchive(file: string, repoTag: string): Promise<void>;
  stop(): Promise<void>;
}

/** Debian's docker-registry on 127.0.0.1 with storage in a temp dir (plain HTTP, no auth). */
export async function startTestRegistry(port?: number): Promise<TestRegistry> {
  const { spawn } = await import('node:child_process');
  const p = port ?? (await freePort());
  const dir = mkdtempSync('/tmp/k8r-');
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${p}\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${p}/v2/`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('docker-registry did not answer within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const host = `127.0.0.1:${p}`;
  return {
    host,
    async pushArchive(file, repoTag) {
      await execFileP('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${file}`, `docker://${host}/${repoTag}`], { timeout: 120_000 });
    },
    stop,
  };
}
