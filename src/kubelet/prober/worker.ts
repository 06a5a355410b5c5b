// One probe loop for one (pod, container, kind), as upstream's prober worker: it lives as long as
// the container name does, follows restarts by container ID (the result resets to the kind's
// initial value: liveness success, readiness failure, startup unknown), waits initialDelaySeconds
// from the container's start, runs liveness/readiness only once startup succeeded, counts
// consecutive results against successThreshold/failureThreshold, and after a liveness or startup
// failure holds until a new container ID appears.

import type { KubeObject } from '../../api/meta/v1.js';
import { probeContainer, type ProbeKind } from './prober.js';
import type { ContainerSpec, Probe } from './types.js';
import type { ContainerSnapshot, ProberManager } from './manager.js';

export type StoredResult = 'success' | 'failure' | 'unknown';

const INITIAL: Record<ProbeKind, StoredResult> = { liveness: 'success', readiness: 'failure', startup: 'unknown' };
/** Manual triggers (readiness asked for while not ready) run at most this often. */
const MIN_TRIGGER_GAP_MS = 1000;

export class ProbeWorker {
  private containerId = '';
  private lastResult: StoredResult | undefined;
  private resultRun = 0;
  private onHold = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private stopped = false;
  private lastRunAt = 0;

  constructor(
    private readonly manager: ProberManager,
    readonly podUID: string,
    readonly container: ContainerSpec,
    readonly kind: ProbeKind,
    readonly spec: Probe,
    private pod: KubeObject,
  ) {}

  private get periodMs(): number {
    return (this.spec.periodSeconds || 10) * 1000;
  }

  /** Starts the loop; right after the agent started, a random part of a period first. */
  start(sinceManagerStartMs: number): void {
    const jitter = this.periodMs > sinceManagerStartMs ? Math.random() * this.periodMs : 0;
    this.schedule(jitter);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  updatePod(pod: KubeObject): void {
    this.pod = pod;
  }

  /** Runs the probe now unless one is running or ran within the last second. */
  trigger(): void {
    if (this.stopped || this.inFlight || Date.now() - this.lastRunAt < MIN_TRIGGER_GAP_MS) return;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const began = Date.now();
    let keepGoing = true;
    try {
      keepGoing = await this.doProbe();
    } catch (err) {
      this.manager.log?.warn({ err, pod: this.podUID, container: this.container.name, probe: this.kind }, 'probe worker failed');
    } finally {
      this.inFlight = false;
      this.lastRunAt = Date.now();
    }
    if (!keepGoing) {
      this.manager.workerExited(this);
      return;
    }
    this.schedule(Math.max(0, this.periodMs - (Date.now() - began)));
  }

  private setResult(result: StoredResult): void {
    this.manager.setResult(this.podUID, this.container.name, this.kind, this.containerId, result);
  }

  /** One round; false ends the worker. */
  private async doProbe(): Promise<boolean> {
    const c: ContainerSnapshot | undefined = this.manager.containerSnapshot(this.podUID, this.container.name);
    if (!c || !c.containerId) return true;

    if (c.containerId !== this.containerId) {
      this.containerId = c.containerId;
      this.setResult(INITIAL[this.kind]);
      this.onHold = false;
      this.lastResult = undefined;
      this.resultRun = 0;
    }
    if (this.onHold) return true;

    if (!c.running) {
      this.setResult('failure');
      return true;
    }

    if (this.pod.metadata.deletionTimestamp && this.kind !== 'readiness') {
      // Terminating pods are not restarted for failing liveness or startup.
      this.setResult('success');
      return false;
    }

    if ((Date.now() - c.startedAt.getTime()) / 1000 < (this.spec.initialDelaySeconds ?? 0)) return true;

    const started = this.manager.isStarted(this.podUID, this.container.name);
    if (this.kind === 'startup' ? started : !started) return true;

    const run = await probeContainer({
      kind: this.kind,
      probe: this.spec,
      pod: this.pod,
      container: this.container,
      containerId: this.containerId,
      podIP: this.manager.podIP(this.podUID),
      runtime: this.manager.runtime,
      recorder: this.manager.recorder,
    });
    if (this.stopped || run.ok === undefined) return true;
    // The container may have been replaced while the probe ran: that result is stale.
    if (this.manager.containerSnapshot(this.podUID, this.container.name)?.containerId !== this.containerId) return true;

    const result: StoredResult = run.ok ? 'success' : 'failure';
    if (this.lastResult === result) this.resultRun++;
    else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    const failureThreshold = this.spec.failureThreshold || 3;
    const successThreshold = this.kind === 'readiness' ? this.spec.successThreshold || 1 : 1;
    if ((result === 'failure' && this.resultRun < failureThreshold) || (result === 'success' && this.resultRun < successThreshold)) return true;

    this.setResult(result);
    if (this.kind !== 'readiness' && result === 'failure') {
      // The container will be restarted; probe again only once a new container exists.
      this.onHold = true;
      this.resultRun = 0;
      this.manager.containerFailed(this, this.containerId, run.output);
    }
    return true;
  }
}
