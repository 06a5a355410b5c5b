// Leader election on a coordination.k8s.io/v1 Lease, as upstream's leaderelection package: the
// holder renews every retry period; others take over once the lease is older than its duration.
// Writes are guarded by resourceVersion, so two candidates never both win.

import type { KubeObject } from '../api/meta/v1.js';
import { sleep } from './sleep.js';
import type { Client } from './client.js';
import { R } from './resources.js';
import { isAlreadyExists, isConflict, isNotFound } from './transport.js';

export interface LeaderElectionOptions {
  namespace?: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called once leadership is won; the signal aborts when it is lost or the elector stops. */
  onStartedLeading(signal: AbortSignal): void;
  onStoppedLeading?(): void;
  onError?(err: unknown): void;
}

const microTime = (d = new Date()) => d.toISOString().replace('Z', '000Z');


export class LeaderElector {
  private leading?: AbortController;
  /** When we last saw the lease change (by our clock, as upstream: never trust others' clocks). */
  private observed?: { rv: string; at: number; holder?: string };

  constructor(
    private readonly client: Client,
    private readonly o: LeaderElectionOptions,
  ) {}

  get isLeader(): boolean {
    return !!this.leading && !this.leading.signal.aborted;
  }

  private get duration(): number {
    return this.o.leaseDurationMs ?? 15_000;
  }

  /** One attempt to acquire or renew; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const leases = this.client.resource(R.leases);
    const ns = this.o.namespace ?? 'kube-system';
    const now = new Date();
    const spec = (prev?: Record<string, unknown>) => ({
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.duration / 1000),
      acquireTime: prev && prev.holderIdentity === this.o.identity ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: prev ? ((prev.leaseTransitions as number) ?? 0) + (prev.holderIdentity === this.o.identity ? 0 : 1) : 0,
    });
    let lease: KubeObject;
    try {
      lease = await leases.get(ns, this.o.name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        await leases.create(ns, { metadata: { name: this.o.name, namespace: ns }, spec: spec() });
        this.observed = { rv: '', at: Date.now(), holder: this.o.identity };
        return true;
      } catch (e2) {
        if (isAlreadyExists(e2)) return false;
        throw e2;
      }
    }
    const holder = lease.spec?.holderIdentity as string | undefined;
    const rv = lease.metadata.resourceVersion!;
    if (!this.observed || this.observed.rv !== rv) this.observed = { rv, at: Date.now(), holder };
    const durMs = ((lease.spec?.leaseDurationSeconds as number) ?? this.duration / 1000) * 1000;
    if (holder && holder !== this.o.identity && Date.now() - this.observed.at < durMs) return false;
    try {
      const updated = await leases.update({ ...lease, spec: spec(lease.spec) });
      this.observed = { rv: updated.metadata.resourceVersion!, at: Date.now(), holder: this.o.identity };
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  /** Campaigns until the signal aborts; may lead, lose and lead again. */
  async run(signal: AbortSignal): Promise<void> {
    const retry = this.o.retryPeriodMs ?? 2_000;
    const renewDeadline = this.o.renewDeadlineMs ?? 10_000;
    let lastRenew = 0;
    while (!signal.aborted) {
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (e) {
        this.o.onError?.(e);
      }
      if (ok) {
        lastRenew = Date.now();
        if (!this.leading) {
          this.leading = new AbortController();
          this.o.onStartedLeading(this.leading.signal);
        }
      } else if (this.leading && Date.now() - lastRenew > renewDeadline) {
        this.stepDown();
      } else if (this.leading && !ok && this.observed?.holder !== this.o.identity) {
        this.stepDown();
      }
      await sleep(retry, signal);
    }
    this.stepDown();
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading.abort();
    this.leading = undefined;
    this.o.onStoppedLeading?.();
  }
}
