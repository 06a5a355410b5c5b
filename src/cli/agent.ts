// `k8ts agent --simulated`: one simulated node (the real node agent arrives with its own issue).
// `k8ts sim --nodes N`: N simulated nodes in one process, for scale tests (like KWOK).

import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/config.js';
import { HttpTransport } from '../client/transport.js';
import { SimulatedNodes, type SimulatedNodeSpec } from '../kubelet/simulated/simulated-nodes.js';
import { defaultDataDir, parseSimpleDuration } from './flags.js';

export const AGENT_HELP = `Usage: k8ts agent --simulated [flags]

Flags:
  --simulated                    Register a simulated node: pods bound to it are reported Running
                                 without starting processes (the CRI node agent is not built yet)
  --kubeconfig FILE              Credentials for the API server (default $KUBECONFIG, else <data-dir>/kubeconfig)
  --data-dir DIR                 The server's data directory, for its kubeconfig (default ${defaultDataDir()})
  --node-name NAME               Node name (default the host name)
  --node-labels k=v,...          Extra node labels
  --register-with-taints k=v:Effect,...  Taints to register the node with
  --capacity cpu=4,memory=16Gi,pods=110  Node capacity (and allocatable)
  --lease-renew-interval D       Heartbeat interval (default 10s)
  --log-level LEVEL              info, debug, warn, error (default info)
`;

export const SIM_HELP = `Usage: k8ts sim --nodes N [flags]

Runs N simulated nodes in one process (scale tests). Flags as for 'k8ts agent --simulated', plus:
  --nodes N                      How many nodes (default 3)
  --name-prefix P                Node names are P0, P1, ... (default sim-node-)
  --zones N                      Label node i with topology.kubernetes.io/zone=zone-(i mod N) (default none)
`;

function parseKV(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`expected key=value, got ${JSON.stringify(part)}`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

function parseTaints(s: string | undefined): SimulatedNodeSpec['taints'] {
  return (s ?? '').split(',').map((x) => x.trim()).filter(Boolean).map((t) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(t);
    if (!m) throw new Error(`invalid taint ${JSON.stringify(t)} (want key[=value]:Effect)`);
    return { key: m[1], ...(m[2] !== undefined ? { value: m[2] } : {}), effect: m[3] };
  });
}

export async function runAgent(argv: string[], mode: 'agent' | 'sim'): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      simulated: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      'data-dir': { type: 'string' },
      'node-name': { type: 'string' },
      'node-labels': { type: 'string' },
      'register-with-taints': { type: 'string' },
      capacity: { type: 'string' },
      'lease-renew-interval': { type: 'string' },
      'log-level': { type: 'string' },
      nodes: { type: 'string' },
      'name-prefix': { type: 'string' },
      zones: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(mode === 'agent' ? AGENT_HELP : SIM_HELP);
    return;
  }
  if (mode === 'agent' && !values.simulated) {
    process.stderr.write('k8ts agent: only --simulated nodes are available in this build (the CRI node agent is a later issue)\n');
    process.exitCode = 2;
    return;
  }
  const log = pino({ level: values['log-level'] ?? 'info', base: { component: mode === 'agent' ? 'k8ts-agent' : 'k8ts-sim' } }, pino.destination(2));
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG ?? join(values['data-dir'] ?? defaultDataDir(), 'kubeconfig');
  const cfg = loadKubeconfig(kubeconfig, 'k8ts-agent');
  const client = new Client(new HttpTransport(cfg), 'k8ts-agent');
  const heartbeatClient = new Client(new HttpTransport(cfg), 'k8ts-agent');
  const labels = parseKV(values['node-labels']);
  const taints = parseTaints(values['register-with-taints']);
  const capacity = parseKV(values.capacity);
  let nodes: SimulatedNodeSpec[];
  if (mode === 'agent') {
    nodes = [{ name: values['node-name'] ?? hostname().toLowerCase(), labels, taints, capacity }];
  } else {
    const n = Number(values.nodes ?? '3');
    if (!Number.isInteger(n) || n < 1) throw new Error(`invalid --nodes ${values.nodes}`);
    const prefix = values['name-prefix'] ?? 'sim-node-';
    const zones = Number(values.zones ?? '0');
    nodes = Array.from({ length: n }, (_, i) => ({
      name: `${prefix}${i}`,
      labels: zones > 0 ? { ...labels, 'topology.kubernetes.io/zone': `zone-${i % zones}` } : labels,
      taints,
      capacity,
    }));
  }
  const sim = new SimulatedNodes({
    client,
    heartbeatClient,
    nodes,
    leaseRenewMs: parseSimpleDuration(values['lease-renew-interval'] ?? '10s'),
    log,
  });
  const ac = new AbortController();
  const stop = (sig: string) => {
    log.info({ signal: sig }, 'stopping');
    ac.abort();
    client.close();
    heartbeatClient.close();
    setTimeout(() => process.exit(0), 100).unref();
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  log.info({ nodes: nodes.length, first: nodes[0].name, kubeconfig }, 'simulated nodes starting');
  await sim.run(ac.signal);
}
