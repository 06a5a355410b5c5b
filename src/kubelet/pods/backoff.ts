// Container restart back-off (upstream's CrashLoopBackOff): the first restart is immediate, then
// 10 s doubling to 5 min. An entry not touched for twice the maximum (a container that ran for
// 10 min) starts again from 10 s.

export class RestartBackoff {
  private readonly entries = new Map<string, { delayMs: number; updatedAt: number }>();

  constructor(
    private readonly initialMs = 10_000,
    private readonly maxMs = 300_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds still to wait before restarting a container that finished at `finishedAtMs`. */
  remaining(key: string, finishedAtMs: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    if (this.now() - e.updatedAt > 2 * this.maxMs) {
      this.entries.delete(key);
      return 0;
    }
    return Math.max(0, finishedAtMs + e.delayMs - this.now());
  }

  /** The current delay (for the CrashLoopBackOff message). */
  delay(key: string): number {
    return this.entries.get(key)?.delayMs ?? 0;
  }

  /** Records a restart: the next one waits longer. */
  next(key: string): void {
    const e = this.entries.get(key);
    const stale = !e || this.now() - e.updatedAt > 2 * this.maxMs;
    this.entries.set(key, { delayMs: stale ? this.initialMs : Math.min(e!.delayMs * 2, this.maxMs), updatedAt: this.now() });
  }

  forgetPrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}

/** Go-style duration text for messages: 10s, 1m20s, 5m0s. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${s % 60}s`;
}
