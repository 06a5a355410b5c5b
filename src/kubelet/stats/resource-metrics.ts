// /metrics/resource (pkg/kubelet/metrics/collectors/resource_metrics.go): the Prometheus text
// that metrics-server scrapes for `kubectl top` and the HPA, rendered from a stats summary. Each
// sample carries the timestamp (ms) of the figure it comes from.

import type { Summary } from './types.js';

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  stability: 'STABLE' | 'ALPHA';
  help: string;
  samples: { labels: Record<string, string>; value: number; at?: string }[];
}

/** Go's strconv.FormatFloat(x, 'g', -1, 64), as the Prometheus text format writes numbers. */
export function goFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return '0';
  const [mant, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  // Shortest 'g' switches to the exponent form below 1e-4 and from 1e6 (eprec 6).
  if (exp >= -4 && exp < 6) return String(x);
  return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** Renders the summary as upstream's resource metrics (scrapeError: the summary could not be built). */
export function resourceMetrics(summary: Summary | undefined, opts: { scrapeError?: boolean } = {}): string {
  const fam = (name: string, type: Family['type'], stability: Family['stability'], help: string): Family => ({ name, type, stability, help, samples: [] });
  const families = [
    fam('container_cpu_usage_seconds_total', 'counter', 'STABLE', 'Cumulative cpu time consumed by the container in core-seconds'),
    fam('container_memory_working_set_bytes', 'gauge', 'STABLE', 'Current working set of the container in bytes'),
    fam('container_start_time_seconds', 'gauge', 'STABLE', 'Start time of the container since unix epoch in seconds'),
    fam('container_swap_usage_bytes', 'gauge', 'ALPHA', 'Current amount of the container swap usage in bytes. Reported only on non-windows systems'),
    fam('node_cpu_usage_seconds_total', 'counter', 'STABLE', 'Cumulative cpu time consumed by the node in core-seconds'),
    fam('node_memory_working_set_bytes', 'gauge', 'STABLE', 'Current working set of the node in bytes'),
    fam('node_swap_usage_bytes', 'gauge', 'ALPHA', 'Current swap usage of the node in bytes. Reported only on non-windows systems'),
    fam('pod_cpu_usage_seconds_total', 'counter', 'STABLE', 'Cumulative cpu time consumed by the pod in core-seconds'),
    fam('pod_memory_working_set_bytes', 'gauge', 'STABLE', 'Current working set of the pod in bytes'),
    fam('pod_swap_usage_bytes', 'gauge', 'ALPHA', 'Current amount of the pod swap usage in bytes. Reported only on non-windows systems'),
    fam('resource_scrape_error', 'gauge', 'STABLE', '1 if there was an error while getting container metrics, 0 otherwise'),
  ];
  const by = new Map(families.map((f) => [f.name, f]));
  const add = (name: string, labels: Record<string, string>, value: number | undefined, at?: string) => {
    if (value !== undefined) by.get(name)!.samples.push({ labels, value, at });
  };
  if (summary) {
    const n = summary.node;
    add('node_cpu_usage_seconds_total', {}, n.cpu?.usageCoreNanoSeconds !== undefined ? n.cpu.usageCoreNanoSeconds / 1e9 : undefined, n.cpu?.time);
    add('node_memory_working_set_bytes', {}, n.memory?.workingSetBytes, n.memory?.time);
    add('node_swap_usage_bytes', {}, n.swap?.swapUsageBytes, n.swap?.time);
    for (const p of summary.pods) {
      const pl = { namespace: p.podRef.namespace, pod: p.podRef.name };
      add('pod_cpu_usage_seconds_total', pl, p.cpu?.usageCoreNanoSeconds !== undefined ? p.cpu.usageCoreNanoSeconds / 1e9 : undefined, p.cpu?.time);
      add('pod_memory_working_set_bytes', pl, p.memory?.workingSetBytes, p.memory?.time);
      add('pod_swap_usage_bytes', pl, p.swap?.swapUsageBytes, p.swap?.time);
      for (const c of p.containers) {
        const cl = { container: c.name, ...pl };
        add('container_start_time_seconds', cl, Date.parse(c.startTime) / 1000, c.startTime);
        add('container_cpu_usage_seconds_total', cl, c.cpu?.usageCoreNanoSeconds !== undefined ? c.cpu.usageCoreNanoSeconds / 1e9 : undefined, c.cpu?.time);
        add('container_memory_working_set_bytes', cl, c.memory?.workingSetBytes, c.memory?.time);
        add('container_swap_usage_bytes', cl, c.swap?.swapUsageBytes, c.swap?.time);
      }
    }
  }
  add('resource_scrape_error', {}, opts.scrapeError || !summary ? 1 : 0);

  let out = '';
  for (const f of families) {
    if (!f.samples.length) continue;
    out += `# HELP ${f.name} [${f.stability}] ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    const lines = f.samples.map((s) => {
      const keys = Object.keys(s.labels).sort();
      const labels = keys.length ? `{${keys.map((k) => `${k}="${escape(s.labels[k])}"`).join(',')}}` : '';
      const ts = s.at ? ` ${Date.parse(s.at)}` : '';
      return `${f.name}${labels} ${goFloat(s.value)}${ts}\n`;
    });
    out += lines.sort().join('');
  }
  return out;
}
