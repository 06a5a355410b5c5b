// A small HTTP endpoint for a network component's Prometheus text metrics (/metrics) and its
// health check (CoreDNS answers /health with "OK"; ingress-nginx answers /healthz).

import { createServer, type Server } from 'node:http';

export interface MetricsServer {
  address: { host: string; port: number };
  close(): Promise<void>;
}

export function startMetricsServer(o: { render: () => string; host: string; port: number; healthPath: string }): Promise<MetricsServer> {
  const srv: Server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(o.render());
    else if (path === o.healthPath) res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(o.port, o.host, () => {
      srv.off('error', reject);
      const a = srv.address() as { port: number };
      resolve({
        address: { host: o.host, port: a.port },
        close: () =>
          new Promise<void>((r) => {
            srv.close(() => r());
            srv.closeAllConnections();
          }),
      });
    });
  });
}
