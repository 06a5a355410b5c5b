// The container runtime contract the node agent programs against. It is the CRI `runtime.v1`
// RuntimeService and ImageService, message for message, with the proto's field names
// (snake_case, as @grpc/proto-loader gives them with keepCase). `cri/` implements it over gRPC
// to containerd (or any CRI runtime); tests may implement it in memory. Only the fields k8ts uses
// are declared; 64-bit integers are strings (proto-loader `longs: String`), enums are their
// names (`enums: String`).

export type Int64 = string;

export interface KeyValue {
  key: string;
  value: string;
}

export interface Mount {
  container_path: string;
  host_path: string;
  readonly?: boolean;
  selinux_relabel?: boolean;
  /** PROPAGATION_PRIVATE | PROPAGATION_HOST_TO_CONTAINER | PROPAGATION_BIDIRECTIONAL */
  propagation?: string;
}

export interface PortMapping {
  /** TCP | UDP | SCTP */
  protocol?: string;
  container_port: number;
  host_port?: number;
  host_ip?: string;
}

export interface DNSConfig {
  servers: string[];
  searches: string[];
  options: string[];
}

/** POD | CONTAINER | NODE | TARGET */
export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  target_id?: string;
}

export interface Int64Value {
  value: Int64;
}

export interface SecurityProfile {
  /** RuntimeDefault | Unconfined | Localhost */
  profile_type: string;
  localhost_ref?: string;
}

export interface LinuxSandboxSecurityContext {
  namespace_options?: NamespaceOption;
  run_as_user?: Int64Value;
  run_as_group?: Int64Value;
  readonly_rootfs?: boolean;
  supplemental_groups?: Int64[];
  privileged?: boolean;
  seccomp?: SecurityProfile;
}

export interface LinuxPodSandboxConfig {
  cgroup_parent?: string;
  security_context?: LinuxSandboxSecurityContext;
  sysctls?: Record<string, string>;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  dns_config?: DNSConfig;
  port_mappings?: PortMapping[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: LinuxPodSandboxConfig;
}

/** SANDBOX_READY | SANDBOX_NOTREADY */
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  /** Nanoseconds since the epoch. */
  created_at: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler?: string;
}

export interface PodSandboxStatus extends PodSandbox {
  network?: { ip: string; additional_ips?: { ip: string }[] };
  linux?: { namespaces?: { options?: NamespaceOption } };
}

export interface PodSandboxFilter {
  id?: string;
  state?: { state: PodSandboxState };
  label_selector?: Record<string, string>;
}

export interface ContainerMetadata {
  name: string;
  attempt: number;
}

export interface ImageSpec {
  image: string;
  annotations?: Record<string, string>;
}

export interface Capability {
  add_capabilities?: string[];
  drop_capabilities?: string[];
}

export interface LinuxContainerResources {
  cpu_period?: Int64;
  cpu_quota?: Int64;
  cpu_shares?: Int64;
  memory_limit_in_bytes?: Int64;
  oom_score_adj?: Int64;
  cpuset_cpus?: string;
  cpuset_mems?: string;
}

export interface LinuxContainerSecurityContext {
  capabilities?: Capability;
  privileged?: boolean;
  namespace_options?: NamespaceOption;
  run_as_user?: Int64Value;
  run_as_group?: Int64Value;
  run_as_username?: string;
  readonly_rootfs?: boolean;
  supplemental_groups?: Int64[];
  no_new_privs?: boolean;
  masked_paths?: string[];
  readonly_paths?: string[];
  seccomp?: SecurityProfile;
}

export interface LinuxContainerConfig {
  resources?: LinuxContainerResources;
  security_context?: LinuxContainerSecurityContext;
}

export interface Device {
  container_path: string;
  host_path: string;
  permissions: string;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: KeyValue[];
  mounts?: Mount[];
  devices?: Device[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Relative to the sandbox's log_directory. */
  log_path?: string;
  stdin?: boolean;
  stdin_once?: boolean;
  tty?: boolean;
  linux?: LinuxContainerConfig;
}

/** CONTAINER_CREATED | CONTAINER_RUNNING | CONTAINER_EXITED | CONTAINER_UNKNOWN */
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: ContainerMetadata;
  image: ImageSpec;
  image_ref: string;
  state: ContainerState;
  created_at: Int64;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerStatus {
  id: string;
  metadata: ContainerMetadata;
  state: ContainerState;
  /** Nanoseconds since the epoch; "0" when not reached. */
  created_at: Int64;
  started_at: Int64;
  finished_at: Int64;
  exit_code: number;
  image: ImageSpec;
  image_ref: string;
  /** e.g. "OOMKilled", "Error", "Completed". */
  reason: string;
  message: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  mounts: Mount[];
  log_path: string;
}

export interface ContainerFilter {
  id?: string;
  state?: { state: ContainerState };
  pod_sandbox_id?: string;
  label_selector?: Record<string, string>;
}

export interface ExecSyncResponse {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}

export interface StreamRequest {
  container_id: string;
  cmd?: string[];
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export interface UInt64Value {
  value: Int64;
}

export interface CpuUsage {
  timestamp: Int64;
  usage_core_nano_seconds?: UInt64Value;
  usage_nano_cores?: UInt64Value;
}

export interface MemoryUsage {
  timestamp: Int64;
  working_set_bytes?: UInt64Value;
  available_bytes?: UInt64Value;
  usage_bytes?: UInt64Value;
  rss_bytes?: UInt64Value;
  page_faults?: UInt64Value;
  major_page_faults?: UInt64Value;
}

export interface FilesystemUsage {
  timestamp: Int64;
  fs_id?: { mountpoint: string };
  used_bytes?: UInt64Value;
  inodes_used?: UInt64Value;
}

export interface ContainerStats {
  attributes: { id: string; metadata: ContainerMetadata; labels: Record<string, string>; annotations: Record<string, string> };
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  writable_layer?: FilesystemUsage;
}

export interface RuntimeCondition {
  /** RuntimeReady | NetworkReady */
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface RuntimeVersion {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: Int64;
  uid?: Int64Value;
  username?: string;
  spec?: ImageSpec;
  pinned?: boolean;
}

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  server_address?: string;
  identity_token?: string;
  registry_token?: string;
}

/**
 * The CRI RuntimeService and ImageService. Errors are thrown as `RuntimeError` (gRPC status code
 * and message), so callers can tell NotFound from a runtime that is down.
 */
export interface ContainerRuntime {
  version(): Promise<RuntimeVersion>;
  status(): Promise<{ conditions: RuntimeCondition[] }>;

  runPodSandbox(config: PodSandboxConfig, runtimeHandler?: string): Promise<string>;
  stopPodSandbox(podSandboxId: string): Promise<void>;
  removePodSandbox(podSandboxId: string): Promise<void>;
  podSandboxStatus(podSandboxId: string, verbose?: boolean): Promise<{ status: PodSandboxStatus; info?: Record<string, string> }>;
  listPodSandbox(filter?: PodSandboxFilter): Promise<PodSandbox[]>;

  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** Sends the stop signal, then SIGKILL after `timeoutSeconds`. */
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  listContainers(filter?: ContainerFilter): Promise<Container[]>;
  containerStatus(containerId: string, verbose?: boolean): Promise<{ status: ContainerStatus; info?: Record<string, string> }>;
  updateContainerResources(containerId: string, linux: LinuxContainerResources): Promise<void>;
  reopenContainerLog(containerId: string): Promise<void>;

  execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResponse>;
  /** Streaming endpoints: the runtime returns a URL of its streaming server (SPDY/WebSocket). */
  exec(req: StreamRequest): Promise<string>;
  attach(req: StreamRequest): Promise<string>;
  portForward(podSandboxId: string, ports: number[]): Promise<string>;

  containerStats(containerId: string): Promise<ContainerStats | undefined>;
  listContainerStats(filter?: { id?: string; pod_sandbox_id?: string; label_selector?: Record<string, string> }): Promise<ContainerStats[]>;

  listImages(filter?: { image?: ImageSpec }): Promise<Image[]>;
  /** undefined when the image is not present. */
  imageStatus(image: ImageSpec): Promise<Image | undefined>;
  /** Returns the image reference (digest or ID) the runtime pulled. */
  pullImage(image: ImageSpec, auth?: AuthConfig, sandboxConfig?: PodSandboxConfig): Promise<string>;
  removeImage(image: ImageSpec): Promise<void>;
  imageFsInfo(): Promise<{ image_filesystems: FilesystemUsage[]; container_filesystems?: FilesystemUsage[] }>;

  close(): void;
}

/** A runtime call that failed: gRPC status code (5 NotFound, 14 Unavailable, ...) and message. */
export class RuntimeError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly method: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
  get notFound(): boolean {
    return this.code === 5;
  }
  get unavailable(): boolean {
    return this.code === 14 || this.code === 4;
  }
}

export const isRuntimeNotFound = (err: unknown): boolean => err instanceof RuntimeError && err.notFound;

// Labels k8ts puts on sandboxes and containers, so that a restarted agent can find its pods again
// (upstream's names).
export const LABEL_POD_NAME = 'io.kubernetes.pod.name';
export const LABEL_POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_POD_UID = 'io.kubernetes.pod.uid';
export const LABEL_CONTAINER_NAME = 'io.kubernetes.container.name';
/** Annotations on containers that the status code reads back after a restart. */
export const ANNOTATION_CONTAINER_HASH = 'io.kubernetes.container.hash';
export const ANNOTATION_RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const ANNOTATION_TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';
export const ANNOTATION_TERMINATION_MESSAGE_POLICY = 'io.kubernetes.container.terminationMessagePolicy';
export const ANNOTATION_PRESTOP_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
