// Upstream's ControllerExpectations, as the DaemonSet controller uses them: after asking for N
// creations and M deletions, a controller does not act again on stale caches until its informer
// has shown them (or five minutes pass). Deletions are tracked by pod key so a pod counts once.

const TTL_MS = 5 * 60_000;

interface Expected {
  add: number;
  deletes: Set<string>;
  at: number;
}

export class Expectations {
  private readonly m = new Map<string, Expected>();

  constructor(private readonly now: () => number = Date.now) {}

  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.deletes.size === 0) return true;
    return this.now() - e.at > TTL_MS;
  }

  expect(key: string, adds: number, deleteKeys: string[]): void {
    this.m.set(key, { add: adds, deletes: new Set(deleteKeys), at: this.now() });
  }

  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.add--;
  }

  deletionObserved(key: string, podKey: string): void {
    this.m.get(key)?.deletes.delete(podKey);
  }

  lowerAdds(key: string, n: number): void {
    const e = this.m.get(key);
    if (e) e.add -= n;
  }

  forget(key: string): void {
    this.m.delete(key);
  }
}
