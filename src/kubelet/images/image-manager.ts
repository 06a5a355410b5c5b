// Makes sure a container's image is on the node before the container is created, with upstream
// kubelet semantics (pkg/kubelet/images): pull policies, Pulling/Pulled/Failed/BackOff events with
// upstream texts, a per-pod-and-image pull back-off (10 s doubling to 5 min), pull secrets, and
// image garbage collection by disk usage thresholds, least recently used first.
// https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy

import { statfs } from 'node:fs/promises';
import type { KubeObject } from '../../api/meta/v1.js';
import { RuntimeError, type AuthConfig, type ContainerRuntime, type Image, type PodSandboxConfig } from '../runtime/runtime.js';
import { credentialsForImage } from './pull-secrets.js';
import { BUILTIN_IMAGE_NAMES } from './builtin-images.js';
import { applyDefaultImageTag, InvalidReferenceError, normalizeImageName, parseImageReference } from './reference.js';
import type { Logger } from '../../machinery/logger.js';

export type ImagePullReason = 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName' | 'ImageInspectError';

/** Why an image is not available; `reason` becomes the container's waiting reason. */
export class ImagePullError extends Error {
  constructor(
    readonly reason: ImagePullReason,
    message: string,
  ) {
    super(message);
    this.name = 'ImagePullError';
  }
}

export interface ImageEventRecorder {
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

type ImageLog = Pick<Logger, 'info' | 'warn' | 'debug'>;

export interface ImageContainer {
  name: string;
  image?: string;
  imagePullPolicy?: string;
}

export interface ImageManagerOptions {
  runtime: ContainerRuntime;
  recorder?: ImageEventRecorder;
  log: ImageLog;
  /** Never garbage-collected (the pause image). */
  sandboxImage?: string;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number;
  /** Pull back-off (upstream: 10 s, doubling up to 300 s). */
  backOffInitialMs?: number;
  backOffMaxMs?: number;
  /**
   * Images the node provides itself (default: the built-in pause and busybox names). When present
   * they are not pulled even with policy Always, so `--image=busybox` works without a registry.
   */
  localImages?: readonly string[];
  /** Filesystem size for GC: defaults to statfs of the image filesystem's mount point. */
  fsStats?: (mountpoint: string) => Promise<{ capacityBytes: number; availableBytes: number }>;
}

export interface GarbageCollectOptions {
  highThresholdPercent?: number;
  lowThresholdPercent?: number;
  /** Images first seen less than this long ago are kept (upstream ImageMinimumGCAge: 2 min). */
  minAgeMs?: number;
}

export interface GarbageCollectResult {
  usagePercent: number;
  freedBytes: number;
  removed: string[];
}

// Upstream event reasons (pkg/kubelet/events).
const EV_PULLING = 'Pulling';
const EV_PULLED = 'Pulled';
const EV_FAILED = 'Failed';
const EV_BACKOFF = 'BackOff';
const EV_INSPECT_FAILED = 'InspectFailed';
const EV_NEVER_PULL = 'ErrImageNeverPull';

const GRPC_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss',
  'Unauthenticated',
];

/** An error as the kubelet prints a CRI error: `rpc error: code = NotFound desc = ...`. */
export function criErrorText(err: unknown): string {
  if (err instanceof RuntimeError) return `rpc error: code = ${GRPC_CODE_NAMES[err.code] ?? `Code(${err.code})`} desc = ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** Go's time.Duration formatting of a duration truncated to milliseconds ("313ms", "1.5s", "2m3.1s"). */
export function formatDuration(ms: number): string {
  ms = Math.max(0, Math.floor(ms));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const trim = (n: number) => n.toFixed(3).replace(/\.?0+$/, '');
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  if (h) return `${h}h${m}m${trim(s)}s`;
  if (m) return `${m}m${trim(s)}s`;
  return `${trim(s)}s`;
}

/** Upstream defaulting: Always for `:latest` or no tag (and no digest), else IfNotPresent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  try {
    const ref = parseImageReference(image);
    if (ref.digest) return 'IfNotPresent';
    return !ref.tag || ref.tag === 'latest' ? 'Always' : 'IfNotPresent';
  } catch {
    return 'IfNotPresent';
  }
}

interface BackOffEntry {
  durationMs: number;
  lastUpdate: number;
}

interface ImageRecord {
  firstDetected: number;
  lastUsed: number;
  size: number;
}

export class ImageManager {
  private readonly runtime: ContainerRuntime;
  private readonly recorder?: ImageEventRecorder;
  private readonly log: ImageLog;
  private readonly now: () => number;
  private readonly backOffInitialMs: number;
  private readonly backOffMaxMs: number;
  private readonly backOff = new Map<string, BackOffEntry>();
  private readonly prevPullError = new Map<string, string>();
  /** One pull per image and credentials at a time; later callers wait for it. */
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly images = new Map<string, ImageRecord>();
  private readonly opts: ImageManagerOptions;
  private readonly localImages: Set<string>;

  constructor(opts: ImageManagerOptions) {
    this.opts = opts;
    this.runtime = opts.runtime;
    this.recorder = opts.recorder;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.backOffInitialMs = opts.backOffInitialMs ?? 10_000;
    this.backOffMaxMs = opts.backOffMaxMs ?? 300_000;
    this.localImages = new Set((opts.localImages ?? BUILTIN_IMAGE_NAMES).map((n) => normalizeImageName(n)));
  }

  private event(pod: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.recorder) this.recorder.event(pod, type, reason, message);
    else this.log.info({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, reason }, message);
  }

  /**
   * Returns the image reference to create the container from, pulling per the pull policy.
   * Throws ImagePullError (reason = the container's waiting reason, message = its message).
   */
  async ensureImage(pod: KubeObject, container: ImageContainer, pullSecrets: KubeObject[], sandboxConfig?: PodSandboxConfig): Promise<{ imageRef: string }> {
    const requested = container.image ?? '';
    let image: string;
    try {
      image = applyDefaultImageTag(requested);
    } catch (e) {
      const why = e instanceof InvalidReferenceError ? e.message : String(e);
      const msg = `Failed to apply default image tag "${requested}": couldn't parse image name "${requested}": ${why}`;
      this.event(pod, 'Warning', EV_INSPECT_FAILED, msg);
      throw new ImagePullError('InvalidImageName', msg);
    }

    let present: Image | undefined;
    try {
      present = await this.runtime.imageStatus({ image });
    } catch (e) {
      const msg = `Failed to inspect image "${requested}": ${criErrorText(e)}`;
      this.event(pod, 'Warning', EV_INSPECT_FAILED, msg);
      throw new ImagePullError('ImageInspectError', msg);
    }

    let policy = container.imagePullPolicy || defaultPullPolicy(requested);
    // A deliberate difference from upstream: the node's own images have no registry to pull from.
    if (policy === 'Always' && present && this.localImages.has(normalizeImageName(image))) policy = 'IfNotPresent';
    const shouldPull = policy === 'Always' || (policy === 'IfNotPresent' && !present);
    if (policy === 'Never' || !shouldPull) {
      if (present) {
        this.event(pod, 'Normal', EV_PULLED, `Container image "${requested}" already present on machine`);
        this.touch(present);
        return { imageRef: present.id };
      }
      const msg = `Container image "${requested}" is not present with pull policy of Never`;
      this.event(pod, 'Warning', EV_NEVER_PULL, msg);
      throw new ImagePullError('ErrImageNeverPull', msg);
    }

    const key = `${pod.metadata?.uid ?? ''}_${requested}`;
    if (this.inBackOff(key)) {
      this.event(pod, 'Normal', EV_BACKOFF, `Back-off pulling image "${requested}"`);
      const prev = this.prevPullError.get(key);
      throw new ImagePullError('ImagePullBackOff', prev ? `Back-off pulling image "${requested}": ${prev}` : `Back-off pulling image "${requested}"`);
    }

    this.event(pod, 'Normal', EV_PULLING, `Pulling image "${requested}"`);
    const started = this.now();
    const creds = credentialsForImage(image, pullSecrets, (m) => this.log.warn({ pod: pod.metadata?.name }, m));
    let imageRef: string;
    let pullMs: number;
    try {
      ({ imageRef, pullMs } = await this.pullWithCredentials(image, creds, sandboxConfig));
    } catch (e) {
      const text = criErrorText(e);
      this.event(pod, 'Warning', EV_FAILED, `Failed to pull image "${requested}": ${text}`);
      this.nextBackOff(key);
      this.prevPullError.set(key, `ErrImagePull: ${text}`);
      throw new ImagePullError('ErrImagePull', text);
    }
    const totalMs = this.now() - started;
    const status = await this.runtime.imageStatus({ image: imageRef }).catch(() => undefined);
    const size = status ? Number(status.size) : 0;
    if (status) this.touch(status);
    this.event(
      pod,
      'Normal',
      EV_PULLED,
      `Successfully pulled image "${requested}" in ${formatDuration(pullMs)} (${formatDuration(totalMs)} including waiting). Image size: ${size} bytes.`,
    );
    this.prevPullError.delete(key);
    this.gcBackOff();
    return { imageRef };
  }

  private async pullWithCredentials(image: string, creds: AuthConfig[], sandboxConfig?: PodSandboxConfig): Promise<{ imageRef: string; pullMs: number }> {
    // Each matching credential in turn, as the kubelet does; no match → no credentials.
    const attempts: Array<AuthConfig | undefined> = creds.length ? creds : [undefined];
    let lastErr: unknown;
    for (const auth of attempts) {
      const key = `${image}\0${auth ? JSON.stringify(auth) : ''}`;
      let p = this.inFlight.get(key);
      const start = this.now();
      if (!p) {
        p = this.runtime.pullImage({ image }, auth, sandboxConfig);
        this.inFlight.set(key, p);
        const clear = () => this.inFlight.delete(key);
        p.then(clear, clear);
      }
      try {
        const imageRef = await p;
        return { imageRef, pullMs: this.now() - start };
      } catch (e) {
        lastErr = e;
      }
    }
    throw lastErr;
  }

  private inBackOff(key: string): boolean {
    const e = this.backOff.get(key);
    return !!e && this.now() - e.lastUpdate < e.durationMs;
  }

  private nextBackOff(key: string): void {
    const now = this.now();
    const e = this.backOff.get(key);
    // An entry untouched for twice the maximum starts over, as upstream's flowcontrol.Backoff.
    if (!e || now - e.lastUpdate > 2 * this.backOffMaxMs) {
      this.backOff.set(key, { durationMs: this.backOffInitialMs, lastUpdate: now });
    } else {
      e.durationMs = Math.min(e.durationMs * 2, this.backOffMaxMs);
      e.lastUpdate = now;
    }
  }

  private gcBackOff(): void {
    const now = this.now();
    for (const [k, e] of this.backOff) {
      if (now - e.lastUpdate > 2 * this.backOffMaxMs) {
        this.backOff.delete(k);
        this.prevPullError.delete(k);
      }
    }
  }

  private touch(img: Image): void {
    const now = this.now();
    const rec = this.images.get(img.id);
    if (rec) rec.lastUsed = now;
    else this.images.set(img.id, { firstDetected: now, lastUsed: now, size: Number(img.size) || 0 });
  }

  /** Refreshes the image records: new images, sizes, and last use by any container. */
  private async detectImages(): Promise<{ inUse: Set<string>; all: Image[] }> {
    const now = this.now();
    const [all, containers] = await Promise.all([this.runtime.listImages(), this.runtime.listContainers()]);
    const inUse = new Set<string>();
    const byName = new Map<string, string>();
    for (const img of all) {
      for (const t of [...img.repo_tags, ...img.repo_digests]) byName.set(t, img.id);
    }
    for (const c of containers) {
      const id = byName.get(c.image_ref) ?? byName.get(c.image?.image) ?? c.image_ref ?? c.image?.image;
      if (id) inUse.add(id);
    }
    // The sandbox image and the node's own images are kept: nothing could pull them back.
    for (const name of [...(this.opts.sandboxImage ? [this.opts.sandboxImage] : []), ...this.localImages]) {
      const id = byName.get(name);
      if (id) inUse.add(id);
    }
    const ids = new Set(all.map((i) => i.id));
    for (const img of all) {
      const rec = this.images.get(img.id) ?? { firstDetected: now, lastUsed: 0, size: 0 };
      rec.size = Number(img.size) || 0;
      if (inUse.has(img.id) || img.pinned) rec.lastUsed = now;
      this.images.set(img.id, rec);
    }
    for (const id of this.images.keys()) if (!ids.has(id)) this.images.delete(id);
    return { inUse, all };
  }

  /**
   * Frees image disk space when the image filesystem's usage is at or above the high threshold:
   * removes unused images (no container, not the sandbox image, not built in, not pinned), least recently used
   * first, until usage is down to the low threshold.
   */
  async garbageCollect(opts: GarbageCollectOptions = {}): Promise<GarbageCollectResult> {
    const high = opts.highThresholdPercent ?? 85;
    const low = opts.lowThresholdPercent ?? 80;
    const minAgeMs = opts.minAgeMs ?? 120_000;
    const { inUse, all } = await this.detectImages();
    const fs = (await this.runtime.imageFsInfo()).image_filesystems[0];
    const mount = fs?.fs_id?.mountpoint;
    if (!mount) throw new Error('the runtime reported no image filesystem');
    const stats = await (this.opts.fsStats ?? defaultFsStats)(mount);
    if (stats.capacityBytes <= 0) throw new Error(`invalid capacity ${stats.capacityBytes} on image filesystem ${mount}`);
    const usagePercent = Math.floor(100 - (stats.availableBytes * 100) / stats.capacityBytes);
    if (usagePercent < high) return { usagePercent, freedBytes: 0, removed: [] };

    const wanted = Math.floor((stats.capacityBytes * (100 - low)) / 100) - stats.availableBytes;
    this.log.info({ usagePercent, high, wantedBytes: wanted }, 'image filesystem usage over the high threshold; removing unused images');
    const { freedBytes, removed } = await this.freeSpace(wanted, minAgeMs, inUse, all);
    if (freedBytes < wanted) {
      throw new Error(`Failed to garbage collect required amount of images. Attempted to free ${wanted} bytes, but only found ${freedBytes} bytes eligible to free.`);
    }
    return { usagePercent, freedBytes, removed };
  }

  /**
   * Runs garbageCollect every `intervalMs` (upstream ImageGCPeriod: 5 minutes) until `signal`
   * aborts; failures are logged and passed to `onError` (e.g. a FreeDiskSpaceFailed node event).
   */
  startGarbageCollection(signal: AbortSignal, opts: GarbageCollectOptions & { intervalMs?: number; onError?: (message: string) => void } = {}): void {
    let running = false;
    const run = async () => {
      if (running) return; // a slow run is not overlapped by the next tick
      running = true;
      try {
        const res = await this.garbageCollect(opts);
        if (res.removed.length) this.log.info({ removed: res.removed.length, freedBytes: res.freedBytes }, 'image garbage collection');
      } catch (e) {
        const message = (e as Error).message;
        this.log.warn({ err: message }, 'image garbage collection failed');
        opts.onError?.(message);
      } finally {
        running = false;
      }
    };
    const timer = setInterval(() => void run(), opts.intervalMs ?? 300_000);
    timer.unref();
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  /** Removes every unused image (upstream's DeleteUnusedImages, for disk-pressure eviction). */
  async removeUnusedImages(opts: { minAgeMs?: number } = {}): Promise<{ freedBytes: number; removed: string[] }> {
    const { inUse, all } = await this.detectImages();
    return this.freeSpace(Number.POSITIVE_INFINITY, opts.minAgeMs ?? 120_000, inUse, all);
  }

  private async freeSpace(wanted: number, minAgeMs: number, inUse: Set<string>, all: Image[]): Promise<{ freedBytes: number; removed: string[] }> {
    const now = this.now();
    const candidates = all
      .filter((i) => !inUse.has(i.id) && !i.pinned)
      .map((i) => ({ img: i, rec: this.images.get(i.id)! }))
      .filter(({ rec }) => now - rec.firstDetected >= minAgeMs)
      .sort((a, b) => a.rec.lastUsed - b.rec.lastUsed || a.rec.firstDetected - b.rec.firstDetected);
    let freedBytes = 0;
    const removed: string[] = [];
    for (const { img, rec } of candidates) {
      if (freedBytes >= wanted) break;
      try {
        await this.runtime.removeImage({ image: img.id });
      } catch (e) {
        this.log.warn({ image: img.id, err: criErrorText(e) }, 'removing an unused image failed');
        continue;
      }
      freedBytes += rec.size;
      removed.push(img.id);
      this.images.delete(img.id);
    }
    return { freedBytes, removed };
  }
}

async function defaultFsStats(mountpoint: string): Promise<{ capacityBytes: number; availableBytes: number }> {
  const s = await statfs(mountpoint);
  return { capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize };
}
