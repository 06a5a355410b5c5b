// Size-based rotation of CRI container logs, as upstream's ContainerLogManager does it
// (--container-log-max-size 10Mi, --container-log-max-files 5): when a running container's log
// passes the size, rename it to `<log>.<YYYYMMDD-hhmmss>`, ask the runtime to reopen the log
// (ReopenContainerLog makes it write a fresh file at the path), and delete the oldest rotated
// files so that at most maxFiles files exist, the current one included. Upstream also gzips
// older rotated files; k8ts keeps them plain.

import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { Logger } from '../../machinery/logger.js';

export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

export interface ContainerLogRotatorOptions {
  runtime: Pick<ContainerRuntime, 'reopenContainerLog' | 'listContainers' | 'containerStatus'>;
  maxSize?: number;
  maxFiles?: number;
  now?: () => Date;
  log?: Pick<Logger, 'warn'>;
  /** Running containers and their log paths, when the caller already knows them (saves a ContainerStatus call each). */
  running?: () => { id: string; logPath: string }[];
}

export class ContainerLogRotator {
  private readonly maxSize: number;
  private readonly maxFiles: number;
  private readonly now: () => Date;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly opts: ContainerLogRotatorOptions) {
    this.maxSize = opts.maxSize ?? DEFAULT_LOG_MAX_SIZE;
    this.maxFiles = opts.maxFiles ?? DEFAULT_LOG_MAX_FILES;
    if (this.maxFiles < 2) throw new Error('container log max files must be at least 2');
    this.now = opts.now ?? (() => new Date());
  }

  /** Checks every running container every `intervalMs` (upstream: 10 s). */
  start(intervalMs = 10_000): void {
    this.timer = setInterval(() => void this.rotateAll(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass over the running containers. */
  async rotateAll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      if (this.opts.running) {
        for (const c of this.opts.running()) {
          await this.rotate(c.id, c.logPath).catch((err) => this.opts.log?.warn({ err, container: c.id }, 'container log rotation failed'));
        }
        return;
      }
      const containers = await this.opts.runtime.listContainers({ state: { state: 'CONTAINER_RUNNING' } });
      for (const c of containers) {
        try {
          const { status } = await this.opts.runtime.containerStatus(c.id);
          if (status.log_path) await this.rotate(c.id, status.log_path);
        } catch (err) {
          this.opts.log?.warn({ err, container: c.id }, 'container log rotation failed');
        }
      }
    } catch (err) {
      this.opts.log?.warn({ err }, 'listing containers for log rotation failed');
    } finally {
      this.running = false;
    }
  }

  /** Rotates one container's log if it is over the size. Returns whether it rotated. */
  async rotate(containerId: string, logPath: string): Promise<boolean> {
    const st = await stat(logPath).catch(() => undefined);
    if (!st || st.size < this.maxSize) return false;
    // Make room first: the rotated file about to be made counts toward maxFiles.
    await this.removeExcess(logPath, this.maxFiles - 2);
    const rotated = `${logPath}.${stamp(this.now())}`;
    await rename(logPath, rotated);
    try {
      await this.opts.runtime.reopenContainerLog(containerId);
    } catch (err) {
      // Without a reopened file the runtime still writes to the renamed one: put it back.
      await rename(rotated, logPath).catch(() => undefined);
      throw err;
    }
    return true;
  }

  /** Rotated files of a log, oldest first. */
  async rotatedFiles(logPath: string): Promise<string[]> {
    const dir = dirname(logPath);
    const prefix = `${basename(logPath)}.`;
    const names = await readdir(dir).catch(() => [] as string[]);
    return names
      .filter((n) => n.startsWith(prefix) && /^\d{8}-\d{6}/.test(n.slice(prefix.length)))
      .sort()
      .map((n) => join(dir, n));
  }

  private async removeExcess(logPath: string, keep: number): Promise<void> {
    const files = await this.rotatedFiles(logPath);
    for (const f of files.slice(0, Math.max(0, files.length - keep))) await unlink(f).catch(() => undefined);
  }
}

/** Upstream's rotation suffix: Go layout 20060102-150405 (UTC here); a repeat in the same
 * second gets a counter so nothing is overwritten. */
let lastStamp = '';
let repeat = 0;
function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const s = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
  if (s === lastStamp) return `${s}.${++repeat}`;
  lastStamp = s;
  repeat = 0;
  return s;
}
