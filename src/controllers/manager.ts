// The controller manager: shared informers, one event recorder per component, and the enabled
// controllers, started when this process wins the `kube-controller-manager` Lease and stopped
// when it loses it (so two servers on one datastore run one set of controllers).

import { hostname } from 'node:os';
import type { Client } from '../client/client.js';
import { EventRecorder } from '../client/events.js';
import { InformerFactory } from '../client/informer.js';
import { LeaderElector } from '../client/leader-election.js';
import type { Controller, ControllerContext, ControllerSettings, Logger } from './context.js';

export interface ControllerManagerOptions {
  client: Client;
  controllers: Controller[];
  settings: ControllerSettings;
  log: Logger;
  /** Campaign for the Lease first (default true); tests may run without election. */
  leaderElect?: boolean;
  identity?: string;
}

export class ControllerManager {
  constructor(private readonly o: ControllerManagerOptions) {}

  /** Runs until the signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    if (this.o.leaderElect === false) {
      this.lead(signal);
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    const elector = new LeaderElector(this.o.client, {
      name: 'kube-controller-manager',
      identity: this.o.identity ?? `${hostname()}_${process.pid}`,
      onStartedLeading: (s) => {
        this.o.log.info({}, 'controller manager: became leader');
        this.lead(s);
      },
      onStoppedLeading: () => this.o.log.warn({}, 'controller manager: lost leadership'),
      onError: (err) => this.o.log.warn({ err }, 'controller manager: leader election'),
    });
    return elector.run(signal);
  }

  private lead(signal: AbortSignal): void {
    const informers = new InformerFactory(this.o.client, (gvr, err) => this.o.log.debug({ err, resource: gvr.plural }, 'informer retry'));
    const recorders = new Map<string, EventRecorder>();
    const ctx: ControllerContext = {
      client: this.o.client,
      informers,
      recorder: (component) => {
        let r = recorders.get(component);
        if (!r) recorders.set(component, (r = new EventRecorder(this.o.client, component, undefined, (err) => this.o.log.debug({ err }, 'event not recorded'))));
        return r;
      },
      log: conflictsAtDebug(this.o.log),
      settings: this.o.settings,
      signal,
    };
    for (const c of this.o.controllers) {
      try {
        c.start(ctx);
      } catch (err) {
        this.o.log.error({ err, controller: c.name }, 'controller failed to start');
      }
    }
    informers.start(signal);
  }
}

/**
 * Optimistic-concurrency conflicts are routine for controllers (the work queue retries against a
 * fresher cache); upstream logs them at high verbosity. Other sync errors stay warnings.
 */
function conflictsAtDebug(log: Logger): Logger {
  const isConflict = (o: unknown) => /Operation cannot be fulfilled|the object has been modified/.test(String((o as { err?: unknown })?.err ?? ''));
  return {
    info: (o, m) => log.info(o, m),
    error: (o, m) => log.error(o, m),
    debug: (o, m) => log.debug(o, m),
    warn: (o, m) => (isConflict(o) ? log.debug(o, m) : log.warn(o, m)),
  };
}
