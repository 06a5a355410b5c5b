// `k8ts agent --server URL --token T`: a real node agent (containerd through the CRI).
// `k8ts agent --simulated`: one simulated node; `k8ts sim --nodes N`: N simulated nodes in one
// process, for scale tests (like KWOK).

import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/config.js';
import { HttpTransport } from '../client/transport.js';
import { SimulatedNodes, type SimulatedNodeSpec } from '../kubelet/simulated/simulated-nodes.js';
import { joinCluster } from '../kubelet/node/join.js';
import { startNodeAgent } from '../kubelet/node-agent.js';
import { defaultNodeIP } from '../kubelet/node/node-status.js';
import { AGENT_FLAG_OPTIONS, AGENT_FLAGS_HELP, agentSettings, parseKV, parseTaints } from './agent-flags.js';
import { defaultDataDir, parseSimpleDuration } from './flags.js';

export const AGENT_HELP = `Usage: k8ts agent --server https://HOST:6443 --token TOKEN [flags]
       k8ts agent --simulated [flags]

Runs a node: registers it with the server and runs the pods bound to it as containers, through
the CRI on its own containerd (or --container-runtime-endpoint). The token is in the server's
<data-dir>/token.

Flags:
  --server URL                   The API server to join
  --token TOKEN                  The join token (or --token-file FILE)
  --token-file FILE              File holding the join token
  --data-dir DIR                 Agent state: containerd, pod volumes, logs, certificates (default ${defaultAgentDataDir()})
${AGENT_FLAGS_HELP}  --log-level LEVEL              info, debug, warn, error (default info)

Simulated nodes (scale tests; no containers run):
  --simulated                    Register a simulated node: pods bound to it are reported Running
  --kubeconfig FILE              Credentials for the API server (default $KUBECONFIG, else <data-dir>/kubeconfig)
  --capacity cpu=4,memory=16Gi,pods=110  Node capacity (and allocatable)
  --lease-renew-interval D       Heartbeat interval (default 10s)
`;

export function defaultAgentDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts');
}

export const SIM_HELP = `Usage: k8ts sim --nodes N [flags]

Runs N simulated nodes in one process (scale tests). Flags as for 'k8ts agent --simulated', plus:
  --nodes N                      How many nodes (default 3)
  --name-prefix P                Node names are P0, P1, ... (default sim-node-)
  --zones N                      Label node i with topology.kubernetes.io/zone=zone-(i mod N) (default none)
`;

export async function runAgent(argv: string[], mode: 'agent' | 'sim'): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      simulated: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      'data-dir': { type: 'string' },
      server: { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      ...AGENT_FLAG_OPTIONS,
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
  if (mode === 'agent' && !values.simulated) return runRealAgent(values);
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

async function runRealAgent(values: Record<string, string | boolean | undefined>): Promise<void> {
  const log = pino({ level: (values['log-level'] as string) ?? 'info', base: { component: 'k8ts-agent' } }, pino.destination(2));
  const settings = agentSettings(values as Record<string, string>);
  const server = values.server as string | undefined;
  let token = values.token as string | undefined;
  if (!token && values['token-file']) token = readFileSync(values['token-file'] as string, 'utf8').trim();
  if (!server || !token) {
    process.stderr.write('k8ts agent: --server and --token (or --token-file) are required (or --simulated)\n');
    process.exitCode = 2;
    return;
  }
  const dataDir = (values['data-dir'] as string) ?? defaultAgentDataDir();
  const agentDir = join(dataDir, 'agent');
  const nodeName = (settings.nodeName ?? hostname()).toLowerCase();
  const nodeIP = settings.nodeIP ?? defaultNodeIP();
  const creds = await joinCluster({ server, token, nodeName, addresses: [nodeIP], tlsDir: join(agentDir, 'tls') });
  const ac = new AbortController();
  setMaxListeners(200, ac.signal);
  const agent = await startNodeAgent({
    agentDir,
    settings: { ...settings, nodeName, nodeIP },
    credentials: { server, ca: creds.ca, cert: creds.clientCert, key: creds.clientKey },
    serving: { cert: creds.servingCert, key: creds.servingKey },
    log,
    signal: ac.signal,
  });
  const stop = async (sig: string) => {
    log.info({ signal: sig }, 'stopping');
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 10_000).unref();
    ac.abort();
    await agent.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
