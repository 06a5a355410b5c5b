// Where the HPA controller reads pod usage: the resource metrics API (metrics.k8s.io/v1beta1,
// served by the metrics pipeline of a later issue), or any other source with the same shape.

import type { Client } from '../../client/client.js';

export interface PodMetrics {
  metadata: { name: string; namespace?: string };
  timestamp?: string;
  window?: string;
  containers: { name: string; usage: Record<string, string> }[];
}

export interface MetricsSource {
  /** PodMetrics of the pods in `namespace` matching the label selector string. */
  podMetrics(namespace: string, labelSelector: string): Promise<PodMetrics[]>;
}

export class MetricsApiSource implements MetricsSource {
  constructor(private readonly client: Client) {}

  async podMetrics(namespace: string, labelSelector: string): Promise<PodMetrics[]> {
    const list = await this.client.request<{ items: PodMetrics[] }>('GET', `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, {
      query: { labelSelector },
    });
    return list.items ?? [];
  }
}
