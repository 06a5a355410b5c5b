// Serves /openapi/v2 and /openapi/v3[/<gv>] from the registry, rebuilt when it changes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildOpenAPIV2, buildOpenAPIV3, type OpenAPIV3 } from '../api/openapi-builder.js';
import { encodeOpenAPIV2 } from '../api/openapi-v2-protobuf.js';
import type { ResourceRegistry } from '../api/registry.js';
import { StatusError } from '../machinery/errors.js';
import { versionInfo } from './version.js';

export class OpenAPIService {
  private gen = -1;
  private v2?: string;
  private v2pb?: Buffer;
  private v3?: OpenAPIV3;

  constructor(private readonly registry: ResourceRegistry) {}

  private refresh(): void {
    if (this.gen === this.registry.generation) return;
    this.gen = this.registry.generation;
    this.v2 = undefined;
    this.v2pb = undefined;
    this.v3 = undefined;
  }

  private get version(): string {
    return versionInfo().gitVersion;
  }

  serve(req: IncomingMessage, res: ServerResponse, path: string, _query: URLSearchParams): void {
    this.refresh();
    if (path === '/openapi/v2' || path === '/swagger-2.0.0.pb-v1') {
      const accept = req.headers.accept ?? '';
      const doc = () => buildOpenAPIV2(this.registry.all(), this.version);
      // client-go asks for the gnostic protobuf form (kubectl explain before 1.29 reads it).
      if (path === '/swagger-2.0.0.pb-v1' || /com\.github\.proto-openapi\.spec\.v2/.test(accept)) {
        this.v2pb ??= encodeOpenAPIV2(doc());
        res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', 'Cache-Control': 'no-cache, private' });
        res.end(this.v2pb);
        return;
      }
      if (accept && !/json|\*\/\*/.test(accept)) throw StatusError.notAcceptable('only application/json and the gnostic protobuf are served for /openapi/v2');
      this.v2 ??= JSON.stringify(doc());
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
      res.end(this.v2);
      return;
    }
    this.v3 ??= buildOpenAPIV3(this.registry.all(), this.version);
    if (path === '/openapi/v3') {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      for (const [gv, d] of [...this.v3.docs.entries()].sort()) paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${d.hash}` };
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
      res.end(JSON.stringify({ paths }));
      return;
    }
    const gv = path.slice('/openapi/v3/'.length);
    const doc = this.v3.docs.get(gv);
    if (!doc) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    res.writeHead(200, { 'Content-Type': 'application/json', ETag: `"${doc.hash}"`, 'Cache-Control': 'public, immutable' });
    res.end(doc.json);
  }
}
