// Probes: the manager the agent drives, and the single-shot actions (also used by lifecycle hooks).
export { ProberManager, type ContainerSnapshot, type ProberManagerOptions, type ProberLog } from './manager.js';
export { probeContainer, runProbeAction, EVENT_UNHEALTHY, EVENT_PROBE_WARNING, type ProbeKind } from './prober.js';
export { execProbe, httpProbe, tcpProbe } from './handlers.js';
export { grpcProbe, healthServiceDefinition } from './grpc-health.js';
export { KUBE_VERSION } from './http-get.js';
export type { Probe, LifecycleHandler, ContainerSpec, ProbeOutcome, ProbeResult } from './types.js';
