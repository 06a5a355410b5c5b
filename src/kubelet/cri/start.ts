// What the node agent calls at start to get a container runtime:
//   - no endpoint: start and supervise its own containerd under `<agent>/containerd`
//     (registries.yaml applied, sandbox image = the built-in pause image);
//   - `--container-runtime-endpoint`: connect to a runtime someone else runs.
// Either way the built-in images and the archives in `<agent>/images/` are imported when the
// runtime is containerd (ctr talks to its socket).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeletPaths } from '../paths.js';
import { ensureBuiltinImages, PAUSE_IMAGE, BUSYBOX_IMAGE, type BuiltinImages } from '../images/builtin-images.js';
import { importImageDir } from '../images/image-dir.js';
import type { Logger } from '../../machinery/logger.js';
import { Containerd } from './containerd.js';
import { CriRuntime, criTarget } from './cri-runtime.js';
import { loadRegistriesFile } from './registries.js';

export interface StartRuntimeOptions {
  paths: KubeletPaths;
  /** unix:///path: use this CRI runtime instead of starting containerd. */
  endpoint?: string;
  /** k3s-format registries.yaml (default `<agent>/registries.yaml` when it exists). */
  registriesFile?: string;
  /** Where the CNI conflist is (default `<agent>/cni/net.d`); the network code writes it. */
  cniConfDir?: string;
  cniBinDir?: string;
  log: Logger;
}

export interface StartedRuntime {
  runtime: CriRuntime;
  /** Present when k8ts supervises containerd itself. */
  containerd?: Containerd;
  images: BuiltinImages;
  /** containerd's socket, for `ctr` imports; undefined when the runtime is not containerd. */
  ctrSocket?: string;
  /** Closes the client and stops a supervised containerd; running containers keep running. */
  stop(): Promise<void>;
}

export function defaultCniConfDir(paths: KubeletPaths): string {
  return join(paths.agentDir, 'cni', 'net.d');
}

async function waitForRuntime(runtime: CriRuntime, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return (await runtime.version()).runtime_name;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`container runtime at ${runtime.endpoint} is not answering: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function startRuntime(opts: StartRuntimeOptions): Promise<StartedRuntime> {
  const { paths, log } = opts;
  const builtinCache = join(paths.agentDir, 'builtin-images');
  let containerd: Containerd | undefined;
  let runtime: CriRuntime | undefined;
  try {
    let ctrSocket: string | undefined;
    if (opts.endpoint) {
      runtime = new CriRuntime({ endpoint: opts.endpoint });
      const name = await waitForRuntime(runtime, 60_000);
      // ctr only speaks to containerd; other runtimes bring their own images.
      if (name === 'containerd') ctrSocket = criTarget(opts.endpoint).slice('unix://'.length);
      else log.warn({ runtime: name }, 'not containerd: built-in images and <agent>/images archives are not imported');
    } else {
      const registriesFile = opts.registriesFile ?? (existsSync(join(paths.agentDir, 'registries.yaml')) ? join(paths.agentDir, 'registries.yaml') : undefined);
      const registries = registriesFile ? loadRegistriesFile(registriesFile) : undefined;
      containerd = new Containerd({
        dir: paths.containerdDir,
        cniConfDir: opts.cniConfDir ?? defaultCniConfDir(paths),
        cniBinDir: opts.cniBinDir,
        sandboxImage: PAUSE_IMAGE,
        registries,
        log,
      });
      await containerd.start();
      runtime = new CriRuntime({ endpoint: containerd.endpoint });
      ctrSocket = containerd.socketPath;
    }
    let images: BuiltinImages = { pause: PAUSE_IMAGE, busybox: BUSYBOX_IMAGE };
    if (ctrSocket) {
      images = await ensureBuiltinImages({ runtime, ctrSocket, cacheDir: builtinCache, log });
      await importImageDir(paths, ctrSocket, log);
    }
    const rt = runtime;
    const cd = containerd;
    return {
      runtime: rt,
      containerd: cd,
      images,
      ctrSocket,
      async stop() {
        rt.close();
        await cd?.stop();
      },
    };
  } catch (e) {
    runtime?.close();
    await containerd?.stop().catch(() => undefined);
    throw e;
  }
}
