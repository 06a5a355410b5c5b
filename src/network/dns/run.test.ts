// The assembled component: serving on the node address, and the kube-dns Service and slice
// pointing at it, resolvable through the server itself.

import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { KUBE_DNS_SLICE } from './kube-dns-service.js';
import { startClusterDNS, upstreamsFromResolvConf, type ClusterDNSComponent } from './run.js';

describe('startClusterDNS', () => {
  let api: TestApi;
  let comp: ClusterDNSComponent;

  before(async () => {
    api = await startTestApi();
    comp = await startClusterDNS({ client: api.client('dns-run-test'), nodeIP: '127.0.0.1', port: 0, upstreams: [], nodeName: 'node-a', metricsPort: 0 });
  });

  after(async () => {
    await comp?.stop();
    await api?.stop();
  });

  it('publishes kube-dns at the tenth service address, pointing at the listen address', async () => {
    const port = comp.dns.addresses[0].port;
    const client = api.client('check');
    let slice;
    for (let i = 0; i < 100 && !slice; i++) {
      slice = await client.resource(R.endpointslices).get('kube-system', KUBE_DNS_SLICE).catch(() => undefined);
      if (!slice) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(slice, 'the slice was written');
    assert.deepEqual(slice.endpoints[0].addresses, ['127.0.0.1']);
    assert.equal(slice.endpoints[0].nodeName, 'node-a');
    assert.deepEqual(
      slice.ports.map((p: { name: string; port: number; protocol: string }) => `${p.name}:${p.port}/${p.protocol}`),
      [`dns:${port}/UDP`, `dns-tcp:${port}/TCP`, `metrics:${comp.dns.metricsAddress!.port}/TCP`],
    );
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    let ips: string[] = [];
    for (let i = 0; i < 100 && !ips.length; i++) {
      ips = await resolver.resolve4('kube-dns.kube-system.svc.cluster.local').catch(() => []);
      if (!ips.length) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(ips, ['10.43.0.10']);
    assert.deepEqual(await resolver.resolve4('ns.dns.cluster.local'), ['10.43.0.10']);
    // No upstreams: names outside the cluster fail rather than leave the machine.
    await assert.rejects(resolver.resolve4('example.com'), { code: 'ESERVFAIL' });
    const metrics = await (await fetch(`http://127.0.0.1:${comp.dns.metricsAddress!.port}/metrics`)).text();
    assert.match(metrics, /^coredns_dns_requests_total\{proto="udp"\} [1-9]/m);
    assert.match(metrics, /^k8ts_dns_servfail_total [1-9]/m);
    assert.equal(await (await fetch(`http://127.0.0.1:${comp.dns.metricsAddress!.port}/health`)).text(), 'OK');
  });

  it('reads upstreams from a resolv.conf', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-resolv-'));
    try {
      const p = join(dir, 'resolv.conf');
      writeFileSync(p, '# c\nnameserver 127.0.0.53\nsearch example\nnameserver fe80::1%eth0\nnameserver bogus\noptions edns0\n');
      assert.deepEqual(upstreamsFromResolvConf(p), ['127.0.0.53:53', '[fe80::1]:53']);
      assert.deepEqual(upstreamsFromResolvConf(join(dir, 'missing')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
