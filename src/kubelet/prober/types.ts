// The core/v1 shapes the prober and the lifecycle hooks read (Probe, LifecycleHandler, the
// parts of Container they need), and probe results.

export interface HTTPHeader {
  name: string;
  value: string;
}

export interface HTTPGetAction {
  path?: string;
  port: number | string;
  host?: string;
  /** HTTP (default) | HTTPS */
  scheme?: string;
  httpHeaders?: HTTPHeader[];
}

export interface ExecAction {
  command?: string[];
}

export interface TCPSocketAction {
  port: number | string;
  host?: string;
}

export interface GRPCAction {
  port: number;
  service?: string;
}

export interface Probe {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  grpc?: GRPCAction;
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface LifecycleHandler {
  exec?: ExecAction;
  httpGet?: HTTPGetAction;
  tcpSocket?: TCPSocketAction;
  sleep?: { seconds: number };
}

export interface ContainerSpec {
  name: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { postStart?: LifecycleHandler; preStop?: LifecycleHandler };
  restartPolicy?: string;
}

/** pkg/probe Result: Warning counts as success but is reported with a ProbeWarning event. */
export type ProbeResult = 'success' | 'warning' | 'failure' | 'unknown';

export interface ProbeOutcome {
  result: ProbeResult;
  /** Output for the event: the command's output, the HTTP body or the failure text. */
  output: string;
  /** Set when the probe could not be run at all (upstream's `err`): the result is thrown away. */
  error?: string;
}

/**
 * upstream probe.ResolveContainerPort: a number, or a container port's name, or a number written
 * as a string; 1-65535.
 */
export function resolveContainerPort(port: number | string | undefined, container: ContainerSpec): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else if (typeof port === 'string') {
    const named = container.ports?.find((p) => p.name === port);
    if (named) n = named.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new Error(`strconv.Atoi: parsing "${port}": invalid syntax`);
  } else throw new Error(`intOrString had no kind: ${String(port)}`);
  if (!(n > 0 && n < 65536) || !Number.isInteger(n)) throw new Error(`invalid port number: ${n}`);
  return n;
}

/** The probe's (or hook's) URL: scheme, host (default the pod IP), port and path (Go url.URL form). */
export function httpGetURL(action: HTTPGetAction, container: ContainerSpec, podIP: string | undefined): string {
  const scheme = (action.scheme || 'HTTP').toLowerCase();
  const host = action.host || podIP || '';
  const port = resolveContainerPort(action.port, container);
  const hostPort = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let path = action.path ?? '';
  if (path && !path.startsWith('/')) path = '/' + path;
  return `${scheme}://${hostPort}${path}`;
}
