// Upstream's UIDTrackingControllerExpectations: what a controller has asked the API for and not
// yet seen through its informer, so a burst of creates or deletes is not repeated by a sync that
// runs before the cache catches up. Deletions are tracked by pod key; creations by count.
// Expectations older than five minutes are treated as satisfied (a lost watch event must not
// stall a controller forever).

export const EXPECTATIONS_TIMEOUT_MS = 5 * 60 * 1000;

interface Expectation {
  add: number;
  del: number;
  timestamp: number;
}

export class ControllerExpectations {
  private readonly store = new Map<string, Expectation>();
  private readonly uids = new Map<string, Set<string>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** True when the controller may act: no expectations, all fulfilled, or expired. */
  satisfied(key: string): boolean {
    const e = this.store.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.now() - e.timestamp > EXPECTATIONS_TIMEOUT_MS;
  }

  expectCreations(key: string, n: number): void {
    this.store.set(key, { add: n, del: 0, timestamp: this.now() });
  }

  /** Expects the deletion of these pod keys (namespace/name). */
  expectDeletions(key: string, podKeys: string[]): void {
    this.uids.set(key, new Set(podKeys));
    this.store.set(key, { add: 0, del: podKeys.length, timestamp: this.now() });
  }

  creationObserved(key: string): void {
    const e = this.store.get(key);
    if (e) e.add--;
  }

  /** Lowers the deletion count once per expected pod key. */
  deletionObserved(key: string, podKey: string): void {
    const set = this.uids.get(key);
    if (!set?.has(podKey)) return;
    set.delete(podKey);
    const e = this.store.get(key);
    if (e) e.del--;
  }

  delete(key: string): void {
    this.store.delete(key);
    this.uids.delete(key);
  }
}
