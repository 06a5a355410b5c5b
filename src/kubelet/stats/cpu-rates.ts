// usageNanoCores needs two samples of a cumulative CPU counter: this keeps the previous sample
// per key (a cgroup, a container ID, the node) and turns the next one into a rate. Samples closer
// than `minWindowMs` to the kept one reuse the last rate, so frequent readers (an API request
// right after the sampling loop ran) still see the rate over a meaningful window.

interface Sample {
  value: number;
  at: number;
  rate?: number;
  seen: number;
}

export class CpuRateTracker {
  private readonly samples = new Map<string, Sample>();

  constructor(private readonly opts: { minWindowMs?: number; forgetAfterMs?: number } = {}) {}

  /** Records `cumulativeNs` at `atMs`; returns nanocores, or undefined until a rate is known. */
  observe(key: string, cumulativeNs: number, atMs: number = Date.now()): number | undefined {
    const prev = this.samples.get(key);
    if (!prev || cumulativeNs < prev.value || atMs < prev.at) {
      this.samples.set(key, { value: cumulativeNs, at: atMs, seen: atMs });
      return undefined;
    }
    prev.seen = atMs;
    if (atMs - prev.at < (this.opts.minWindowMs ?? 1000)) return prev.rate;
    const rate = Math.round(((cumulativeNs - prev.value) * 1e9) / ((atMs - prev.at) * 1e6));
    this.samples.set(key, { value: cumulativeNs, at: atMs, rate, seen: atMs });
    return rate;
  }

  /** Drops keys not observed for a while (removed pods and containers). */
  prune(nowMs: number = Date.now()): void {
    const limit = this.opts.forgetAfterMs ?? 5 * 60_000;
    for (const [k, s] of this.samples) if (nowMs - s.seen > limit) this.samples.delete(k);
  }

  get size(): number {
    return this.samples.size;
  }
}
