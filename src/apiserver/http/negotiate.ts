// Content negotiation on the Accept header: plain JSON, Table (meta.k8s.io), aggregated
// discovery (apidiscovery.k8s.io v2 / v2beta1), YAML.

export interface Accept {
  /** Serve a meta.k8s.io/v1 Table. */
  table: boolean;
  /** Aggregated discovery version requested, if any. */
  discovery?: 'v2' | 'v2beta1';
  /** Serve YAML instead of JSON. */
  yaml: boolean;
  /** Nothing acceptable was asked for. */
  unacceptable: boolean;
}

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => {
      const [type, ...ps] = part.split(';').map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of ps) {
        const i = p.indexOf('=');
        if (i > 0) params[p.slice(0, i).trim()] = p.slice(i + 1).trim().replace(/^"|"$/g, '');
      }
      return { type: type.toLowerCase(), params };
    })
    .filter((m) => m.type);
}

export function negotiate(header: string | undefined): Accept {
  const out: Accept = { table: false, yaml: false, unacceptable: false };
  if (!header) return out;
  const ranges = parseAccept(header);
  for (const r of ranges) {
    if (r.type === 'application/json' || r.type === '*/*' || r.type === 'application/*') {
      if (r.params.as === 'Table') {
        if (r.params.g === 'meta.k8s.io' && (r.params.v === 'v1' || r.params.v === 'v1beta1')) {
          out.table = true;
          return out;
        }
        continue;
      }
      if (r.params.as === 'APIGroupDiscoveryList') {
        if (r.params.g === 'apidiscovery.k8s.io' && (r.params.v === 'v2' || r.params.v === 'v2beta1')) {
          out.discovery = r.params.v as 'v2' | 'v2beta1';
          return out;
        }
        continue;
      }
      if (r.params.as) continue;
      return out;
    }
    if (r.type === 'application/yaml') {
      out.yaml = true;
      return out;
    }
  }
  out.unacceptable = !ranges.some((r) => r.type === 'application/vnd.kubernetes.protobuf');
  // Protobuf only: we answer JSON, which every client we know accepts as a fallback.
  return out;
}
