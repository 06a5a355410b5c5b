// Periodic compaction for any Store, like the API server's compactor
// (k8s.io/apiserver/pkg/storage/etcd3/compact.go, every 5 minutes by default): history older than
// a window is dropped so the log does not grow without bound, while watchers that lag by less
// than the window can still resume.

import type { Store } from './store.js';

export interface CompactorOptions {
  /** Time between compactions (upstream default: 5 minutes). */
  intervalMs: number;
  /** Keep this many revisions below the current one. */
  keepRevisions?: number;
  /** Keep the history of the last keepMs milliseconds (default: one interval, as upstream). */
  keepMs?: number;
  signal: AbortSignal;
  /** Called when a compaction fails; the compactor keeps running. */
  onError?: (err: Error) => void;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Starts compacting `store` every intervalMs until the signal aborts. With keepMs the compactor
 * samples the current revision on each tick and compacts to the newest sample at least keepMs
 * old, so revisions younger than keepMs always survive.
 */
export function startCompactor(store: Store, opts: CompactorOptions): void {
  const now = opts.now ?? Date.now;
  const keepMs = opts.keepRevisions === undefined ? (opts.keepMs ?? opts.intervalMs) : undefined;
  const samples: { at: number; revision: number }[] = [];
  let running = false;

  const tick = async () => {
    if (running || opts.signal.aborted) return;
    running = true;
    try {
      const current = await store.currentRevision();
      let target = 0;
      if (opts.keepRevisions !== undefined) {
        target = current - opts.keepRevisions;
      } else {
        const t = now();
        samples.push({ at: t, revision: current });
        while (samples.length > 1 && t - samples[1]!.at >= keepMs!) samples.shift();
        if (t - samples[0]!.at >= keepMs!) target = samples[0]!.revision;
      }
      if (target > (await store.compactedRevision())) await store.compact(target);
    } catch (err) {
      opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    } finally {
      running = false;
    }
  };

  if (opts.signal.aborted) return;
  const timer = setInterval(() => void tick(), opts.intervalMs);
  timer.unref();
  opts.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
