// A container's CRI mounts: its volumeMounts (readOnly, subPath, subPathExpr, mountPropagation)
// and the per-pod files (/etc/hosts, the termination message file), as upstream's makeMounts.

import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import type { KubeObject } from '../../api/meta/v1.js';
import { ContainerConfigError } from '../env/container-env.js';
import { expand } from '../env/expansion.js';
import type { KubeletPaths } from '../paths.js';
import { ensureHostsFile, ETC_HOSTS, type HostsFileOptions } from '../pod-files/hosts-file.js';
import { prepareTerminationMessageFile } from '../pod-files/termination-message.js';
import type { KeyValue, Mount } from '../runtime/runtime.js';
import type { PodVolumes } from './volume-manager.js';

const PROPAGATION: Record<string, string> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

export interface ContainerMountOptions {
  /** The container's environment, for subPathExpr. */
  env?: KeyValue[];
  /** For the managed /etc/hosts; without IPs no hosts file is mounted. */
  hosts?: HostsFileOptions;
  /** Create and mount the termination message file (default true). */
  terminationMessage?: boolean;
}

function expandSubPathExpr(expr: string, env: KeyValue[]): string {
  const map = new Map(env.map((kv) => [kv.key, kv.value]));
  const missing = new Set<string>();
  const out = expand(expr, (name) => {
    const v = map.get(name);
    if (!v) missing.add(name);
    return v ?? '';
  });
  if (missing.size) throw new ContainerConfigError(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

/** Resolves a subPath inside the volume, creating it as a folder if missing; refuses escapes through symlinks. */
function resolveSubPath(volumePath: string, subPath: string): string {
  if (isAbsolute(subPath)) throw new ContainerConfigError(`error SubPath \`${subPath}\` must not be an absolute path`);
  if (subPath.split('/').includes('..')) throw new ContainerConfigError(`unable to provision SubPath \`${subPath}\`: must not contain '..'`);
  let root: string;
  try {
    root = realpathSync(volumePath);
  } catch (e) {
    throw new ContainerConfigError(`failed to resolve volume path ${volumePath}: ${(e as Error).message}`);
  }
  const full = join(root, subPath);
  if (!existsSync(full)) {
    try {
      // Upstream makes the folder with the volume's own mode.
      mkdirSync(full, { recursive: true, mode: statSync(root).mode & 0o7777 });
    } catch (e) {
      throw new ContainerConfigError(`failed to mkdir "${subPath}": ${(e as Error).message}`);
    }
  }
  const real = realpathSync(full);
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) throw new ContainerConfigError(`subpath "${real}" not within volume path "${root}"`);
  // The resolved path: a later change of the symlink (e.g. a ConfigMap update) does not reach
  // this mount, as upstream.
  return real;
}

export function containerMounts(paths: KubeletPaths, pod: KubeObject, container: KubeObject['spec'], volumes: PodVolumes, opts: ContainerMountOptions = {}): Mount[] {
  const mounts: Mount[] = [];
  const privileged = !!container?.securityContext?.privileged;
  for (const vm of container?.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) throw new ContainerConfigError(`cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    let hostPath = vol.hostPath;
    let subPath: string = vm.subPath ?? '';
    if (vm.subPathExpr) subPath = expandSubPathExpr(vm.subPathExpr, opts.env ?? []);
    if (subPath) hostPath = resolveSubPath(vol.hostPath, subPath);
    const propagation = PROPAGATION[vm.mountPropagation ?? 'None'];
    if (!propagation) throw new ContainerConfigError(`invalid mount propagation mode ${JSON.stringify(vm.mountPropagation)}`);
    if (vm.mountPropagation === 'Bidirectional' && !privileged) throw new ContainerConfigError('Bidirectional mount propagation is available only to privileged containers');
    mounts.push({ container_path: vm.mountPath, host_path: hostPath, readonly: !!vm.readOnly || vol.readOnly, selinux_relabel: false, propagation });
  }
  if (opts.hosts && !mounts.some((m) => m.container_path === ETC_HOSTS)) {
    const m = ensureHostsFile(paths, pod, opts.hosts);
    if (m) mounts.push(m);
  }
  if (opts.terminationMessage !== false) {
    const m = prepareTerminationMessageFile(paths, pod, container);
    if (m) mounts.push(m);
  }
  return mounts;
}
