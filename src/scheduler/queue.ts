// The scheduling queue (upstream's PriorityQueue): activeQ ordered by priority then arrival;
// backoffQ for pods that failed recently (1 s doubling to 10 s per attempt); unschedulable pods
// parked until a cluster event that may help (node added or changed, pod deleted, ...) or for at
// most five minutes.

import type { KubeObject } from '../api/meta/v1.js';

export interface QueuedPod {
  key: string;
  pod: KubeObject;
  priority: number;
  /** When it entered the active queue (order among equal priorities). */
  timestamp: number;
  attempts: number;
  /** When the first attempt started (for the scheduling-latency figures). */
  initialAttempt?: number;
  /** Unschedulable since (for the 5-minute flush). */
  parkedAt?: number;
  backoffUntil?: number;
}

const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10_000;
const MAX_UNSCHEDULABLE_MS = 5 * 60_000;

/** A binary heap by (priority desc, timestamp asc). */
class Heap {
  private readonly a: QueuedPod[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.a.length;
  }

  private less(x: QueuedPod, y: QueuedPod): boolean {
    return x.priority !== y.priority ? x.priority > y.priority : x.timestamp < y.timestamp;
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  get(key: string): QueuedPod | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.a[i];
  }

  push(p: QueuedPod): void {
    const existing = this.index.get(p.key);
    if (existing !== undefined) {
      this.a[existing] = p;
      this.fix(existing);
      return;
    }
    this.a.push(p);
    this.index.set(p.key, this.a.length - 1);
    this.up(this.a.length - 1);
  }

  pop(): QueuedPod | undefined {
    if (!this.a.length) return undefined;
    return this.removeAt(0);
  }

  delete(key: string): QueuedPod | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.removeAt(i);
  }

  private removeAt(i: number): QueuedPod {
    const top = this.a[i];
    const last = this.a.pop()!;
    this.index.delete(top.key);
    if (i < this.a.length) {
      this.a[i] = last;
      this.index.set(last.key, i);
      this.fix(i);
    }
    return top;
  }

  private fix(i: number): void {
    this.up(i);
    this.down(i);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.a[i], this.a[p])) break;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.a.length && this.less(this.a[l], this.a[m])) m = l;
      if (r < this.a.length && this.less(this.a[r], this.a[m])) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const t = this.a[i];
    this.a[i] = this.a[j];
    this.a[j] = t;
    this.index.set(this.a[i].key, i);
    this.index.set(this.a[j].key, j);
  }
}

export class SchedulingQueue {
  private readonly active = new Heap();
  private readonly backoff = new Map<string, QueuedPod>();
  private readonly unschedulable = new Map<string, QueuedPod>();
  /** Pods popped and being scheduled: a move request during the cycle must not be lost. */
  private readonly inFlight = new Map<string, boolean>();
  private waiters: ((p: QueuedPod | undefined) => void)[] = [];
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.flush(), 1000);
    this.timer.unref();
  }

  get pendingCounts(): { active: number; backoff: number; unschedulable: number } {
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.unschedulable.size };
  }

  /** A new or changed unscheduled pod. */
  add(key: string, pod: KubeObject, priority: number): void {
    if (this.closed) return;
    const prev = this.active.get(key) ?? this.backoff.get(key) ?? this.unschedulable.get(key);
    if (prev) {
      prev.pod = pod;
      prev.priority = priority;
      // An update to a parked pod may make it schedulable (upstream: if the spec changed).
      if (this.unschedulable.has(key) && prev.pod.metadata.generation !== pod.metadata.generation) {
        this.unschedulable.delete(key);
        this.toActive(prev);
      } else if (this.active.has(key)) this.active.push(prev);
      return;
    }
    if (this.inFlight.has(key)) {
      this.inFlight.set(key, true);
      return;
    }
    this.toActive({ key, pod, priority, timestamp: this.now(), attempts: 0 });
  }

  delete(key: string): void {
    this.active.delete(key);
    this.backoff.delete(key);
    this.unschedulable.delete(key);
  }

  private toActive(p: QueuedPod): void {
    const w = this.waiters.shift();
    if (w) {
      this.inFlight.set(p.key, false);
      w(p);
    } else this.active.push(p);
  }

  /** The highest-priority pod; waits when none is active. */
  pop(): Promise<QueuedPod | undefined> {
    const p = this.active.pop();
    if (p) {
      this.inFlight.set(p.key, false);
      return Promise.resolve(p);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  /** The cycle ended with the pod bound (or gone). */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  /**
   * The cycle failed. Unschedulable pods park unless a cluster event arrived during the cycle
   * (then they retry after backoff); errors always go to backoff.
   */
  requeue(p: QueuedPod, unschedulable: boolean): void {
    const moved = this.inFlight.get(p.key) === true;
    this.inFlight.delete(p.key);
    if (this.closed) return;
    p.attempts++;
    const backoffMs = Math.min(INITIAL_BACKOFF_MS * 2 ** (p.attempts - 1), MAX_BACKOFF_MS);
    p.backoffUntil = this.now() + backoffMs;
    if (unschedulable && !moved) {
      p.parkedAt = this.now();
      this.unschedulable.set(p.key, p);
    } else this.backoff.set(p.key, p);
  }

  /** A cluster event that may make parked pods schedulable: move them all (upstream: per event kind). */
  moveAllToActiveOrBackoff(): void {
    for (const k of this.inFlight.keys()) this.inFlight.set(k, true);
    const now = this.now();
    for (const [k, p] of this.unschedulable) {
      this.unschedulable.delete(k);
      if ((p.backoffUntil ?? 0) > now) this.backoff.set(k, p);
      else this.toActive({ ...p, timestamp: now });
    }
  }

  /** Moves expired backoffs to active, and pods parked too long. */
  flush(): void {
    const now = this.now();
    for (const [k, p] of this.backoff) {
      if ((p.backoffUntil ?? 0) <= now) {
        this.backoff.delete(k);
        this.toActive(p);
      }
    }
    for (const [k, p] of this.unschedulable) {
      if (now - (p.parkedAt ?? now) >= MAX_UNSCHEDULABLE_MS) {
        this.unschedulable.delete(k);
        this.toActive(p);
      }
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
