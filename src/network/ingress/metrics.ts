// Request counters rendered in the Prometheus text exposition format (version 0.0.4).

export interface RequestLabels {
  namespace: string;
  ingress: string;
  service: string;
  status: number;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class IngressMetrics {
  private readonly requests = new Map<string, { labels: RequestLabels; count: number }>();
  private retries = 0;
  private upstreamErrors = 0;

  countRequest(l: RequestLabels): void {
    const k = `${l.namespace}\0${l.ingress}\0${l.service}\0${l.status}`;
    const e = this.requests.get(k);
    if (e) e.count++;
    else this.requests.set(k, { labels: { ...l }, count: 1 });
  }

  countRetry(): void {
    this.retries++;
  }

  countUpstreamError(): void {
    this.upstreamErrors++;
  }

  render(): string {
    const out: string[] = [];
    out.push('# HELP k8ts_ingress_requests_total Requests served by the ingress controller, by Ingress, Service and status code.');
    out.push('# TYPE k8ts_ingress_requests_total counter');
    for (const { labels: l, count } of this.requests.values()) {
      out.push(`k8ts_ingress_requests_total{namespace="${escapeLabel(l.namespace)}",ingress="${escapeLabel(l.ingress)}",service="${escapeLabel(l.service)}",status="${l.status}"} ${count}`);
    }
    out.push('# HELP k8ts_ingress_upstream_retries_total Attempts repeated on another endpoint after a connection failure.');
    out.push('# TYPE k8ts_ingress_upstream_retries_total counter');
    out.push(`k8ts_ingress_upstream_retries_total ${this.retries}`);
    out.push('# HELP k8ts_ingress_upstream_errors_total Requests answered 502 or 504 because no endpoint answered.');
    out.push('# TYPE k8ts_ingress_upstream_errors_total counter');
    out.push(`k8ts_ingress_upstream_errors_total ${this.upstreamErrors}`);
    return out.join('\n') + '\n';
  }
}
