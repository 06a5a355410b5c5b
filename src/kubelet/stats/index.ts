// The stats summary (stats/v1alpha1) and /metrics/resource.
export { buildSummary, cpuAndMemoryOnly, StatsProvider, DiskUsageCache, type SummaryOptions, type SandboxRef, type StatsProviderOptions } from './summary.js';
export { CpuRateTracker } from './cpu-rates.js';
export { resourceMetrics } from './resource-metrics.js';
export type * from './types.js';
