// The real container runtime driver: CRI `runtime.v1` over gRPC to containerd (or any CRI
// runtime) on a unix socket. It knows nothing about who started the runtime, so the agent can
// point it at its own supervised containerd or at `--container-runtime-endpoint`.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
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

/** The CRI API version k8ts speaks (sent in VersionRequest, as the kubelet does). */
export const CRI_API_VERSION = 'v1';

const MINUTE = 60_000;
const DEFAULT_TIMEOUT_MS = 2 * MINUTE;
/** Pulls of large images over slow links take long; upstream's kubelet has no deadline at all. */
const PULL_TIMEOUT_MS = 10 * MINUTE;
/** Upstream's kubelet raises the gRPC limit to 16 MiB (ListContainers on busy nodes). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

// The compiled file lives in dist/kubelet/cri/; the .proto stays in src/ (tsc does not copy it).
// A copy next to the compiled file wins, so a packaged build may ship it there instead.
function protoPath(): string {
  const beside = fileURLToPath(new URL('./api.proto', import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL('../../../src/kubelet/cri/api.proto', import.meta.url));
}

type ServiceCtor = grpc.ServiceClientConstructor;
let services: { runtime: ServiceCtor; image: ServiceCtor } | undefined;

function loadServices(): { runtime: ServiceCtor; image: ServiceCtor } {
  if (!services) {
    const def = protoLoader.loadSync(protoPath(), {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      runtime: { v1: { RuntimeService: ServiceCtor; ImageService: ServiceCtor } };
    };
    services = { runtime: pkg.runtime.v1.RuntimeService, image: pkg.runtime.v1.ImageService };
  }
  return services;
}

/** `unix:///run/x.sock`, `unix:/run/x.sock` or a bare path → the gRPC target. */
export function criTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint;
  if (endpoint.startsWith('unix:')) return `unix://${endpoint.slice('unix:'.length)}`;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  throw new Error(`unsupported container runtime endpoint ${JSON.stringify(endpoint)} (want unix:///path/to/socket)`);
}

export interface CriRuntimeOptions {
  /** unix:///path/to/containerd.sock (or a bare socket path). */
  endpoint: string;
  /** Deadline of ordinary calls (default 2 minutes). */
  timeoutMs?: number;
  /** Deadline of PullImage (default 10 minutes). */
  pullTimeoutMs?: number;
}

type Callback = (err: grpc.ServiceError | null, res: any) => void;

export class CriRuntime implements ContainerRuntime {
  readonly endpoint: string;
  private readonly runtimeClient: grpc.Client;
  private readonly imageClient: grpc.Client;
  private readonly timeoutMs: number;
  private readonly pullTimeoutMs: number;

  constructor(opts: CriRuntimeOptions) {
    this.endpoint = criTarget(opts.endpoint);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.pullTimeoutMs = opts.pullTimeoutMs ?? PULL_TIMEOUT_MS;
    const { runtime, image } = loadServices();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // After a containerd restart the channel should come back within a second or two, not
      // after grpc's default backoff of up to two minutes.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
    const creds = grpc.credentials.createInsecure();
    this.runtimeClient = new runtime(this.endpoint, creds, channelOptions);
    // A second channel to the same socket would double the connections; share the first.
    this.imageClient = new image(this.endpoint, creds, { ...channelOptions, channelOverride: this.runtimeClient.getChannel() });
  }

  private call<T = any>(client: grpc.Client, method: string, req: object, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: object, md: grpc.Metadata, o: grpc.CallOptions, cb: Callback) => void>)[method];
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new RuntimeError(err.code ?? grpc.status.UNKNOWN, err.details || err.message, method));
        else resolve(res as T);
      });
    });
  }

  private rt<T = any>(method: string, req: object, timeoutMs?: number): Promise<T> {
    return this.call<T>(this.runtimeClient, method, req, timeoutMs);
  }

  private img<T = any>(method: string, req: object, timeoutMs?: number): Promise<T> {
    return this.call<T>(this.imageClient, method, req, timeoutMs);
  }

  // ---- runtime ----

  async version(): Promise<RuntimeVersion> {
    return this.rt<RuntimeVersion>('Version', { version: CRI_API_VERSION });
  }

  async status(): Promise<{ conditions: RuntimeCondition[] }> {
    const res = await this.rt('Status', { verbose: false });
    return { conditions: res.status?.conditions ?? [] };
  }

  /** Hands the node's pod CIDR to the runtime (used by runtimes that template their CNI config). */
  async updateRuntimeConfig(podCidr: string): Promise<void> {
    await this.rt('UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: podCidr } } });
  }

  // ---- sandboxes ----

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    // Sandbox creation includes CNI setup, which the kubelet allows 4 minutes.
    const res = await this.rt('RunPodSandbox', { config, runtime_handler: runtimeHandler }, Math.max(this.timeoutMs, 4 * MINUTE));
    return res.pod_sandbox_id;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.rt('StopPodSandbox', { pod_sandbox_id: podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.rt('RemovePodSandbox', { pod_sandbox_id: podSandboxId });
  }

  async podSandboxStatus(podSandboxId: string, verbose = false): Promise<{ status: PodSandboxStatus; info?: Record<string, string> }> {
    const res = await this.rt('PodSandboxStatus', { pod_sandbox_id: podSandboxId, verbose });
    if (!res.status) throw new RuntimeError(grpc.status.NOT_FOUND, `pod sandbox ${podSandboxId} has no status`, 'PodSandboxStatus');
    return { status: res.status, ...(verbose ? { info: res.info ?? {} } : {}) };
  }

  async listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]> {
    const res = await this.rt('ListPodSandbox', filter ? { filter } : {});
    return res.items ?? [];
  }

  // ---- containers ----

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const res = await this.rt('CreateContainer', { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig });
    return res.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.rt('StartContainer', { container_id: containerId });
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    const timeout = Math.max(0, Math.floor(timeoutSeconds));
    // The runtime itself waits `timeout` before SIGKILL; give it room to finish after that.
    await this.rt('StopContainer', { container_id: containerId, timeout: String(timeout) }, timeout * 1000 + 30_000);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.rt('RemoveContainer', { container_id: containerId });
  }

  async listContainers(filter?: ContainerFilter): Promise<Container[]> {
    const res = await this.rt('ListContainers', filter ? { filter } : {});
    return res.containers ?? [];
  }

  async containerStatus(containerId: string, verbose = false): Promise<{ status: ContainerStatus; info?: Record<string, string> }> {
    const res = await this.rt('ContainerStatus', { container_id: containerId, verbose });
    if (!res.status) throw new RuntimeError(grpc.status.NOT_FOUND, `container ${containerId} has no status`, 'ContainerStatus');
    return { status: res.status, ...(verbose ? { info: res.info ?? {} } : {}) };
  }

  async updateContainerResources(containerId: string, linux: LinuxContainerResources): Promise<void> {
    await this.rt('UpdateContainerResources', { container_id: containerId, linux });
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    await this.rt('ReopenContainerLog', { container_id: containerId });
  }

  // ---- exec, attach, port-forward ----

  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResponse> {
    const timeout = Math.max(0, Math.floor(timeoutSeconds));
    // 0 means "no timeout" to the runtime; the call still needs a deadline of its own.
    const deadline = timeout > 0 ? timeout * 1000 + 2_000 : this.timeoutMs;
    const res = await this.rt('ExecSync', { container_id: containerId, cmd, timeout: String(timeout) }, deadline);
    return { stdout: res.stdout ?? Buffer.alloc(0), stderr: res.stderr ?? Buffer.alloc(0), exit_code: res.exit_code ?? 0 };
  }

  async exec(req: StreamRequest): Promise<string> {
    const res = await this.rt('Exec', {
      container_id: req.container_id,
      cmd: req.cmd ?? [],
      tty: !!req.tty,
      stdin: !!req.stdin,
      stdout: req.stdout ?? true,
      stderr: req.stderr ?? !req.tty,
    });
    return res.url;
  }

  async attach(req: StreamRequest): Promise<string> {
    const res = await this.rt('Attach', {
      container_id: req.container_id,
      tty: !!req.tty,
      stdin: !!req.stdin,
      stdout: req.stdout ?? true,
      stderr: req.stderr ?? !req.tty,
    });
    return res.url;
  }

  async portForward(podSandboxId: string, ports: number[]): Promise<string> {
    const res = await this.rt('PortForward', { pod_sandbox_id: podSandboxId, port: ports });
    return res.url;
  }

  // ---- stats ----

  async containerStats(containerId: string): Promise<ContainerStats | undefined> {
    const res = await this.rt('ContainerStats', { container_id: containerId });
    return res.stats ?? undefined;
  }

  async listContainerStats(filter?: { id?: string; pod_sandbox_id?: string; label_selector?: Record<string, string> }): Promise<ContainerStats[]> {
    const res = await this.rt('ListContainerStats', filter ? { filter } : {});
    return res.stats ?? [];
  }

  // ---- images ----

  async listImages(filter?: { image?: ImageSpec }): Promise<Image[]> {
    const res = await this.img('ListImages', filter ? { filter } : {});
    return res.images ?? [];
  }

  async imageStatus(image: ImageSpec): Promise<Image | undefined> {
    const res = await this.img('ImageStatus', { image, verbose: false });
    // An absent image is an empty response, not NotFound; some runtimes send an empty id instead.
    return res.image && res.image.id ? res.image : undefined;
  }

  async pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const req: Record<string, unknown> = { image };
    if (auth) req.auth = auth;
    if (sandboxConfig) req.sandbox_config = sandboxConfig;
    const res = await this.img('PullImage', req, this.pullTimeoutMs);
    return res.image_ref;
  }

  async removeImage(image: ImageSpec): Promise<void> {
    await this.img('RemoveImage', { image });
  }

  async imageFsInfo(): Promise<{ image_filesystems: FilesystemUsage[]; container_filesystems?: FilesystemUsage[] }> {
    const res = await this.img('ImageFsInfo', {});
    return { image_filesystems: res.image_filesystems ?? [], container_filesystems: res.container_filesystems ?? [] };
  }

  close(): void {
    this.imageClient.close();
    this.runtimeClient.close();
  }
}
