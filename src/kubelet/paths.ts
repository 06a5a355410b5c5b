// Where the node agent keeps things, all under one root (`<data-dir>/agent/`), like k3s:
//   containerd/            containerd's own root, state, config and socket
//   kubelet/pods/<uid>/volumes/<plugin>/<volume>   volume directories of each pod
//   kubelet/pods/<uid>/containers/<name>/<id>      termination-message files
//   logs/pods/<ns>_<name>_<uid>/<container>/<restartCount>.log   CRI log files (upstream /var/log/pods)
//   images/                tars imported at start (air-gapped use)
//   storage/               local-path volumes (k8ts.io/local-path provisioner)
//   tls/                   the agent's client and serving certificates

import { join, resolve } from 'node:path';

export class KubeletPaths {
  /** Always absolute: containerd's config and the CRI need absolute paths. */
  readonly agentDir: string;

  constructor(agentDir: string) {
    this.agentDir = resolve(agentDir);
  }

  get containerdDir(): string {
    return join(this.agentDir, 'containerd');
  }
  get kubeletDir(): string {
    return join(this.agentDir, 'kubelet');
  }
  get podsDir(): string {
    return join(this.kubeletDir, 'pods');
  }
  podDir(uid: string): string {
    return join(this.podsDir, uid);
  }
  /** `plugin` as upstream escapes it: kubernetes.io~empty-dir, kubernetes.io~configmap, ... */
  podVolumeDir(uid: string, plugin: string, volume: string): string {
    return join(this.podDir(uid), 'volumes', plugin, volume);
  }
  podContainerDir(uid: string, container: string): string {
    return join(this.podDir(uid), 'containers', container);
  }
  get logsDir(): string {
    return join(this.agentDir, 'logs', 'pods');
  }
  /** The sandbox log_directory. */
  podLogDir(namespace: string, name: string, uid: string): string {
    return join(this.logsDir, `${namespace}_${name}_${uid}`);
  }
  /** Relative to podLogDir: the container's CRI log_path. */
  containerLogPath(container: string, restartCount: number): string {
    return join(container, `${restartCount}.log`);
  }
  get imagesDir(): string {
    return join(this.agentDir, 'images');
  }
  get storageDir(): string {
    return join(this.agentDir, 'storage');
  }
  get tlsDir(): string {
    return join(this.agentDir, 'tls');
  }
}
