// An in-memory container runtime behind the same CRI contract as containerd: sandboxes get IPs,
// containers move through created → running → exited, images are "pulled" by name. No process
// runs. It lets the node agent's own logic (pod sync, back-off, status) be exercised quickly and
// deterministically, and it passes the runtime conformance suite where behaviour overlaps.
//
// A container's environment steers it, so tests can script crashes:
//   SIM_EXIT_AFTER_MS=500  the container exits this long after starting
//   SIM_EXIT_CODE=1        with this exit code (default 0)
//   SIM_OOM=1              and is reported OOMKilled (exit code 137)

import { randomBytes } from 'node:crypto';
import {
  RuntimeError,
  type AuthConfig,
  type Container,
  type ContainerConfig,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerStats,
  type ContainerStatus,
  type ExecSyncResponse,
  type FilesystemUsage,
  type Image,
  type ImageSpec,
  type LinuxContainerResources,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  type RuntimeCondition,
  type RuntimeVersion,
  type StreamRequest,
} from '../runtime/runtime.js';

const nowNs = () => (BigInt(Date.now()) * 1_000_000n).toString();
const newId = () => randomBytes(32).toString('hex');

interface SimSandbox {
  sandbox: PodSandbox;
  config: PodSandboxConfig;
  ip: string;
}

interface SimContainer {
  status: ContainerStatus;
  sandboxId: string;
  config: ContainerConfig;
  timer?: NodeJS.Timeout;
}

function matches(labels: Record<string, string>, selector?: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

export class SimulatedRuntime implements ContainerRuntime {
  private readonly sandboxes = new Map<string, SimSandbox>();
  private readonly containers = new Map<string, SimContainer>();
  private readonly images = new Map<string, Image>();
  private nextIP = 2;
  /** Set to make every call fail as a runtime that is down would. */
  down = false;
  /** Image names that "do not exist" in any registry. */
  readonly missingImages = new Set<string>();

  constructor(readonly podCIDRPrefix = '10.244.0.') {}

  private check(method: string): void {
    if (this.down) throw new RuntimeError(14, 'connection refused', method);
  }

  private sandboxOf(id: string, method: string): SimSandbox {
    const s = this.sandboxes.get(id);
    if (!s) throw new RuntimeError(5, `an error occurred when try to find sandbox "${id}": not found`, method);
    return s;
  }

  private containerOf(id: string, method: string): SimContainer {
    const c = this.containers.get(id);
    if (!c) throw new RuntimeError(5, `an error occurred when try to find container "${id}": not found`, method);
    return c;
  }

  async version(): Promise<RuntimeVersion> {
    this.check('Version');
    return { version: '0.1.0', runtime_name: 'simulated', runtime_version: '1.0.0', runtime_api_version: 'v1' };
  }

  async status(): Promise<{ conditions: RuntimeCondition[] }> {
    this.check('Status');
    return {
      conditions: [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        { type: 'NetworkReady', status: true, reason: '', message: '' },
      ],
    };
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    this.check('RunPodSandbox');
    const id = newId();
    const hostNet = config.linux?.security_context?.namespace_options?.network === 'NODE';
    this.sandboxes.set(id, {
      config,
      ip: hostNet ? '' : `${this.podCIDRPrefix}${this.nextIP++}`,
      sandbox: { id, metadata: config.metadata, state: 'SANDBOX_READY', created_at: nowNs(), labels: { ...(config.labels ?? {}) }, annotations: { ...(config.annotations ?? {}) } },
    });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    this.check('StopPodSandbox');
    const s = this.sandboxes.get(id);
    if (!s) return;
    for (const [cid, c] of this.containers) if (c.sandboxId === id && c.status.state === 'CONTAINER_RUNNING') this.exit(cid, 137, 'Error');
    s.sandbox.state = 'SANDBOX_NOTREADY';
  }

  async removePodSandbox(id: string): Promise<void> {
    this.check('RemovePodSandbox');
    for (const [cid, c] of this.containers) if (c.sandboxId === id) await this.removeContainer(cid);
    this.sandboxes.delete(id);
  }

  async podSandboxStatus(id: string): Promise<{ status: PodSandboxStatus; info?: Record<string, string> }> {
    this.check('PodSandboxStatus');
    const s = this.sandboxOf(id, 'PodSandboxStatus');
    return { status: { ...s.sandbox, network: { ip: s.ip } } };
  }

  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    this.check('ListPodSandbox');
    return [...this.sandboxes.values()]
      .map((s) => s.sandbox)
      .filter((s) => (!filter?.id || s.id === filter.id) && (!filter?.state || s.state === filter.state.state) && matches(s.labels, filter?.label_selector))
      .map((s) => ({ ...s }));
  }

  async createContainer(sandboxId: string, config: ContainerConfig): Promise<string> {
    this.check('CreateContainer');
    const s = this.sandboxOf(sandboxId, 'CreateContainer');
    if (s.sandbox.state !== 'SANDBOX_READY') throw new RuntimeError(2, `sandbox container "${sandboxId}" is not running`, 'CreateContainer');
    const image = this.images.get(config.image.image) ?? [...this.images.values()].find((i) => i.id === config.image.image);
    if (!image) throw new RuntimeError(2, `failed to create containerd container: image "${config.image.image}": not found`, 'CreateContainer');
    const id = newId();
    this.containers.set(id, {
      sandboxId,
      config,
      status: {
        id,
        metadata: config.metadata,
        state: 'CONTAINER_CREATED',
        created_at: nowNs(),
        started_at: '0',
        finished_at: '0',
        exit_code: 0,
        image: config.image,
        image_ref: image.id,
        reason: '',
        message: '',
        labels: { ...(config.labels ?? {}) },
        annotations: { ...(config.annotations ?? {}) },
        mounts: config.mounts ?? [],
        log_path: `${s.config.log_directory ?? ''}/${config.log_path ?? ''}`,
      },
    });
    return id;
  }

  private exit(id: string, code: number, reason: string): void {
    const c = this.containers.get(id);
    if (!c || c.status.state !== 'CONTAINER_RUNNING') return;
    clearTimeout(c.timer);
    c.status = { ...c.status, state: 'CONTAINER_EXITED', exit_code: code, reason, finished_at: nowNs() };
  }

  async startContainer(id: string): Promise<void> {
    this.check('StartContainer');
    const c = this.containerOf(id, 'StartContainer');
    if (c.status.state !== 'CONTAINER_CREATED') throw new RuntimeError(9, `container ${id} is not in created state: ${c.status.state}`, 'StartContainer');
    c.status = { ...c.status, state: 'CONTAINER_RUNNING', started_at: nowNs() };
    const env = new Map((c.config.envs ?? []).map((e) => [e.key, e.value]));
    const after = env.get('SIM_EXIT_AFTER_MS');
    if (after !== undefined) {
      const code = env.get('SIM_OOM') ? 137 : Number(env.get('SIM_EXIT_CODE') ?? '0');
      const reason = env.get('SIM_OOM') ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error';
      c.timer = setTimeout(() => this.exit(id, code, reason), Number(after));
      c.timer.unref?.();
    }
  }

  async stopContainer(id: string): Promise<void> {
    this.check('StopContainer');
    const c = this.containers.get(id);
    if (!c) return;
    if (c.status.state === 'CONTAINER_CREATED') c.status = { ...c.status, state: 'CONTAINER_EXITED', finished_at: nowNs(), exit_code: 0, reason: 'Completed' };
    // A stopped process exits from SIGTERM: 128 + 15, as a shell would.
    this.exit(id, 143, 'Error');
  }

  async removeContainer(id: string): Promise<void> {
    this.check('RemoveContainer');
    const c = this.containers.get(id);
    if (c) clearTimeout(c.timer);
    this.containers.delete(id);
  }

  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    this.check('ListContainers');
    return [...this.containers.values()]
      .filter((c) => (!filter?.id || c.status.id === filter.id) && (!filter?.pod_sandbox_id || c.sandboxId === filter.pod_sandbox_id) && (!filter?.state || c.status.state === filter.state.state) && matches(c.status.labels, filter?.label_selector))
      .map((c) => ({
        id: c.status.id,
        pod_sandbox_id: c.sandboxId,
        metadata: c.status.metadata,
        image: c.status.image,
        image_ref: c.status.image_ref,
        state: c.status.state,
        created_at: c.status.created_at,
        labels: c.status.labels,
        annotations: c.status.annotations,
      }));
  }

  async containerStatus(id: string): Promise<{ status: ContainerStatus; info?: Record<string, string> }> {
    this.check('ContainerStatus');
    return { status: { ...this.containerOf(id, 'ContainerStatus').status } };
  }

  async updateContainerResources(id: string, linux: LinuxContainerResources): Promise<void> {
    this.check('UpdateContainerResources');
    const c = this.containerOf(id, 'UpdateContainerResources');
    c.config = { ...c.config, linux: { ...c.config.linux, resources: linux } };
  }

  async reopenContainerLog(id: string): Promise<void> {
    this.containerOf(id, 'ReopenContainerLog');
  }

  async execSync(id: string, cmd: string[]): Promise<ExecSyncResponse> {
    this.check('ExecSync');
    const c = this.containerOf(id, 'ExecSync');
    if (c.status.state !== 'CONTAINER_RUNNING') throw new RuntimeError(9, `container ${id} is not running`, 'ExecSync');
    // Only `true`, `false` and `echo` are understood: enough for probes in tests.
    if (cmd[0] === 'false') return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit_code: 1 };
    if (cmd[0] === 'echo') return { stdout: Buffer.from(cmd.slice(1).join(' ') + '\n'), stderr: Buffer.alloc(0), exit_code: 0 };
    return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit_code: 0 };
  }

  async exec(_req: StreamRequest): Promise<string> {
    throw new RuntimeError(12, 'the simulated runtime has no streaming server', 'Exec');
  }

  async attach(_req: StreamRequest): Promise<string> {
    throw new RuntimeError(12, 'the simulated runtime has no streaming server', 'Attach');
  }

  async portForward(): Promise<string> {
    throw new RuntimeError(12, 'the simulated runtime has no streaming server', 'PortForward');
  }

  async containerStats(id: string): Promise<ContainerStats | undefined> {
    const c = this.containerOf(id, 'ContainerStats');
    return { attributes: { id, metadata: c.status.metadata, labels: c.status.labels, annotations: c.status.annotations } };
  }

  async listContainerStats(): Promise<ContainerStats[]> {
    return [...this.containers.values()].filter((c) => c.status.state === 'CONTAINER_RUNNING').map((c) => ({ attributes: { id: c.status.id, metadata: c.status.metadata, labels: c.status.labels, annotations: c.status.annotations } }));
  }

  async listImages(): Promise<Image[]> {
    this.check('ListImages');
    return [...new Set(this.images.values())];
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    this.check('ImageStatus');
    return this.images.get(image.image);
  }

  async pullImage(image: ImageSpec, _auth?: AuthConfig): Promise<string> {
    this.check('PullImage');
    if (this.missingImages.has(image.image)) {
      throw new RuntimeError(2, `failed to pull and unpack image "${image.image}": failed to resolve reference "${image.image}": not found`, 'PullImage');
    }
    const id = `sha256:${randomBytes(32).toString('hex')}`;
    const img: Image = { id, repo_tags: [image.image], repo_digests: [], size: '1000000' };
    this.images.set(image.image, img);
    this.images.set(id, img);
    return id;
  }

  async removeImage(image: ImageSpec): Promise<void> {
    const img = this.images.get(image.image);
    if (!img) return;
    for (const [k, v] of this.images) if (v === img) this.images.delete(k);
  }

  async imageFsInfo(): Promise<{ image_filesystems: FilesystemUsage[] }> {
    return { image_filesystems: [{ timestamp: nowNs(), fs_id: { mountpoint: '/sim' }, used_bytes: { value: String(this.images.size * 1_000_000) } }] };
  }

  close(): void {
    for (const c of this.containers.values()) clearTimeout(c.timer);
  }
}
