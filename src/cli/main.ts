// The k8ts command: one binary, several roles (like k3s).
//   k8ts server   API server, controller manager and scheduler
//   k8ts agent    node agent (containerd through the CRI, or --simulated); k8ts sim: many simulated nodes
//   k8ts down     remove what node agents left on this machine
//   k8ts kubectl  runs kubectl against the local server's admin kubeconfig

import { runAgent } from './agent.js';
import { runSchedulerCommand } from './scheduler.js';
import { runServer } from './server.js';
import { runKubectl } from './kubectl.js';
import { runDown } from './down.js';

const USAGE = `Usage: k8ts <command> [flags]

Commands:
  server    Run the control plane (API server) with an embedded SQLite or external etcd datastore
  agent     Run a node agent (--simulated: a simulated node for tests)
  sim       Run N simulated nodes in one process (scale tests)
  scheduler Run a scheduler on its own (e.g. a second scheduler with --scheduler-name)
  up        Start a local multi-node cluster (server + N agents in network namespaces)
  down      Remove every pod, mount, network device and cgroup a node agent left behind
  image     Import image archives into the node's containerd (air-gapped nodes), list images
  kubectl   Run kubectl with the server's admin kubeconfig (KUBECONFIG=<data-dir>/kubeconfig)
  version   Print the k8ts version and the Kubernetes API version it serves

Run 'k8ts <command> --help' for the flags of a command.
`;

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'server':
      return runServer(rest);
    case 'agent':
      return runAgent(rest, 'agent');
    case 'sim':
      return runAgent(rest, 'sim');
    case 'scheduler':
      return runSchedulerCommand(rest);
    case 'kubectl':
      return runKubectl(rest);
    case 'down':
      return runDown(rest);
    case 'up':
      return (await import('./up.js')).runUp(rest);
    case 'image':
      return (await import('./image.js')).runImageCommand(rest);
    case 'version': {
      const { versionInfo } = await import('../apiserver/version.js');
      const v = versionInfo();
      console.log(`k8ts version ${v.gitVersion} (Kubernetes API v${v.major}.${v.minor})`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`k8ts: unknown command "${cmd}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}
