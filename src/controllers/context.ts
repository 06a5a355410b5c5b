// What every controller gets: the shared client and informers, an event recorder, a logger, the
// settings, and a signal that aborts when the controller manager stops or loses leadership.

import type { Client } from '../client/client.js';
import type { EventRecorder } from '../client/events.js';
import type { InformerFactory } from '../client/informer.js';
import type { Logger } from '../machinery/logger.js';

export type { Logger };

export interface ControllerSettings {
  /** --service-cluster-ip-range etc. are API-server side; these are the controller manager's. */
  clusterCIDR: string;
  nodeCIDRMaskSize: number;
  /** --node-monitor-grace-period */
  nodeMonitorGracePeriodMs: number;
  /** How often the node lifecycle controller checks leases. */
  nodeMonitorPeriodMs: number;
  /** --concurrent-*-syncs, one number for all. */
  workers: number;
  /** Time source, replaceable in tests. */
  now: () => Date;
  /** Root of the k8ts.io/local-path provisioner's volumes (k3s: --default-local-storage-path). */
  localStoragePath: string;
}

export const defaultControllerSettings = (): ControllerSettings => ({
  clusterCIDR: '10.42.0.0/16',
  nodeCIDRMaskSize: 24,
  nodeMonitorGracePeriodMs: 40_000,
  nodeMonitorPeriodMs: 5_000,
  workers: 5,
  now: () => new Date(),
  localStoragePath: '/var/lib/k8ts/storage',
});

export interface ControllerContext {
  client: Client;
  informers: InformerFactory;
  /** An event recorder whose source component is the given name. */
  recorder(component: string): EventRecorder;
  log: Logger;
  settings: ControllerSettings;
  signal: AbortSignal;
}

export interface Controller {
  /** Upstream's controller name, e.g. "deployment", "replicaset", "garbage-collector". */
  readonly name: string;
  /** Registers informer handlers and starts workers; returns at once. */
  start(ctx: ControllerContext): void;
}
