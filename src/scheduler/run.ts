// Runs the scheduler in this process while it holds the `kube-scheduler` Lease.

import { hostname } from 'node:os';
import type { Client } from '../client/client.js';
import { EventRecorder } from '../client/events.js';
import { InformerFactory } from '../client/informer.js';
import { LeaderElector } from '../client/leader-election.js';
import type { ProfileOptions } from './index.js';
import { KubeScheduler } from './kube-scheduler.js';
import type { Logger } from '../machinery/logger.js';

export interface RunSchedulerOptions {
  client: Client;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
  schedulerName?: string;
  profile?: ProfileOptions;
  leaderElect?: boolean;
  /** Called with each scheduler instance when it starts leading (benchmarks read its stats). */
  onStart?: (s: KubeScheduler) => void;
}

export function runScheduler(o: RunSchedulerOptions, signal: AbortSignal): Promise<void> {
  const lead = (s: AbortSignal) => {
    const informers = new InformerFactory(o.client, (gvr, err) => o.log.debug({ err, resource: gvr.plural }, 'informer retry'));
    const recorder = new EventRecorder(o.client, o.schedulerName ?? 'default-scheduler', undefined, (err) => o.log.debug({ err }, 'event not recorded'));
    const sched = new KubeScheduler({ client: o.client, informers, recorder, schedulerName: o.schedulerName, profile: o.profile, log: o.log });
    sched.start(s);
    informers.start(s);
    o.onStart?.(sched);
  };
  if (o.leaderElect === false) {
    lead(signal);
    return Promise.resolve();
  }
  const elector = new LeaderElector(o.client, {
    name: o.schedulerName && o.schedulerName !== 'default-scheduler' ? o.schedulerName : 'kube-scheduler',
    identity: `${hostname()}_${process.pid}`,
    onStartedLeading: (s) => {
      o.log.info({}, 'scheduler: became leader');
      lead(s);
    },
    onStoppedLeading: () => o.log.warn({}, 'scheduler: lost leadership'),
    onError: (err) => o.log.warn({ err }, 'scheduler: leader election'),
  });
  return elector.run(signal);
}
