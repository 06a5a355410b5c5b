// `k8ts scheduler`: the scheduler as its own process, e.g. a second scheduler that owns the pods
// naming it in spec.schedulerName, or the default one run apart from `k8ts server --disable scheduler`.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/config.js';
import { HttpTransport } from '../client/transport.js';
import { runScheduler } from '../scheduler/run.js';
import { defaultDataDir } from './flags.js';

export const SCHEDULER_HELP = `Usage: k8ts scheduler [flags]

Flags:
  --kubeconfig FILE              Credentials for the API server (default $KUBECONFIG, else <data-dir>/kubeconfig)
  --data-dir DIR                 The server's data directory, for its kubeconfig (default ${defaultDataDir()})
  --scheduler-name NAME          Schedule pods whose spec.schedulerName is NAME (default default-scheduler)
  --leader-elect BOOL            Hold a Lease while scheduling (default true)
  --percentage-of-nodes-to-score N  0 for adaptive (default), 100 to score every feasible node
  --log-level LEVEL              info, debug, warn, error (default info)
`;

export async function runSchedulerCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'data-dir': { type: 'string' },
      'scheduler-name': { type: 'string' },
      'leader-elect': { type: 'string' },
      'percentage-of-nodes-to-score': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(SCHEDULER_HELP);
    return;
  }
  const name = values['scheduler-name'] ?? 'default-scheduler';
  const log = pino({ level: values['log-level'] ?? 'info', base: { component: name } }, pino.destination(2));
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG ?? join(values['data-dir'] ?? defaultDataDir(), 'kubeconfig');
  const client = new Client(new HttpTransport(loadKubeconfig(kubeconfig, name)), name);
  const ac = new AbortController();
  const stop = () => {
    ac.abort();
    client.close();
    setTimeout(() => process.exit(0), 100).unref();
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5_000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const pct = values['percentage-of-nodes-to-score'];
  log.info({ schedulerName: name, kubeconfig }, 'scheduler starting');
  await runScheduler(
    {
      client,
      log,
      schedulerName: name,
      leaderElect: values['leader-elect'] !== 'false',
      profile: pct !== undefined ? { percentageOfNodesToScore: Number(pct) } : undefined,
    },
    ac.signal,
  );
}
