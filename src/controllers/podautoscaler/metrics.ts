// Where the HPA controller reads pod usage. The shape is metrics.k8s.io/v1beta1 PodMetrics, with
// the pod's name lifted out of metadata: the resource metrics API (served by the metrics
// pipeline of a later issue) through MetricsApiSource, or StaticMetricsSource in tests.

import type { Client } from '../../client/client.js';
import { ApiError } from '../../client/transport.js';
import { parseSelector } from '../../machinery/labels.js';

export interface ContainerMetrics {
  name: string;
  /** Quantities by resource name (cpu, memory). */
  usage: Record<string, string>;
}

export interface PodMetrics {
  pod: string;
  /** RFC 3339: when the sample window ended. */
  timestamp: string;
  /** A Go duration ("30s", "1m0s"): how long the sample covers. */
  window: string;
  containers: ContainerMetrics[];
}

export interface MetricsSource {
  /** PodMetrics of the pods in `namespace` matching the label selector string. */
  podMetrics(namespace: string, labelSelector: string): Promise<PodMetrics[]>;
}

interface PodMetricsObject {
  metadata: { name: string };
  timestamp?: string;
  window?: string;
  containers?: ContainerMetrics[];
}

/** GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods?labelSelector=… through the client. */
export class MetricsApiSource implements MetricsSource {
  constructor(private readonly client: Client) {}

  async podMetrics(namespace: string, labelSelector: string): Promise<PodMetrics[]> {
    let list: { items?: PodMetricsObject[] };
    try {
      list = await this.client.request<{ items?: PodMetricsObject[] }>('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, {
        query: labelSelector ? { labelSelector } : {},
      });
    } catch (e) {
      // client-go's wording for a group the server does not serve.
      if (e instanceof ApiError && e.code === 404) throw new Error('the server could not find the requested resource (get pods.metrics.k8s.io)');
      throw e;
    }
    return (list.items ?? []).map((m) => ({ pod: m.metadata.name, timestamp: m.timestamp ?? '', window: m.window ?? '0s', containers: m.containers ?? [] }));
  }
}

/**
 * In-memory metrics for tests: usage per pod (per container), filtered by the selector against
 * the labels the test registered with the pod. Pods without an entry have no metrics.
 */
export class StaticMetricsSource implements MetricsSource {
  private readonly pods = new Map<string, { labels: Record<string, string>; containers: ContainerMetrics[]; timestamp?: string; window?: string }>();
  /** When set, every call fails with this error (an unavailable metrics API). */
  failure: Error | undefined;
  calls = 0;

  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Sets a pod's usage: one container "app" with `usage`, or explicit containers. */
  set(namespace: string, pod: string, labels: Record<string, string>, usage: Record<string, string> | ContainerMetrics[], at?: { timestamp?: string; window?: string }): void {
    const containers = Array.isArray(usage) ? usage : [{ name: 'app', usage }];
    this.pods.set(`${namespace}/${pod}`, { labels, containers, ...at });
  }

  delete(namespace: string, pod: string): void {
    this.pods.delete(`${namespace}/${pod}`);
  }

  async podMetrics(namespace: string, labelSelector: string): Promise<PodMetrics[]> {
    this.calls++;
    if (this.failure) throw this.failure;
    const sel = parseSelector(labelSelector);
    const out: PodMetrics[] = [];
    for (const [key, m] of this.pods) {
      const [ns, pod] = key.split('/') as [string, string];
      if (ns !== namespace || !sel.matches(m.labels)) continue;
      out.push({ pod, timestamp: m.timestamp ?? this.now().toISOString(), window: m.window ?? '30s', containers: m.containers });
    }
    return out;
  }
}

/** A Go duration string in milliseconds ("30s", "1m0s", "500ms", "1h2m3.5s"); 0 if unparsable. */
export function parseGoDuration(s: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let m: RegExpExecArray | null;
  let pos = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === s.length ? total : 0;
}
