// The resolver against real API objects: an in-process API server, objects written through the
// client, read back by the informer-backed record source.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../client/client.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { informerRecordSource, type ClusterDNSInformers } from './informer-source.js';
import { clusterDNSIP, ensureKubeDNSService, KUBE_DNS_SLICE, MANAGED_BY, MANAGED_BY_LABEL } from './kube-dns-service.js';
import { addressFromReverse, ClusterResolver, recordSourceFromObjects, type Question, type Resolution } from './records.js';
import { endpointSlice, service } from './testing.js';

const Z = 'cluster.local';

async function until<T>(f: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const data = (r: Resolution | undefined) => r?.answers.map((a) => ('data' in a ? a.data : undefined));

describe('cluster DNS records', () => {
  let api: TestApi;
  let client: Client;
  let informers: ClusterDNSInformers;
  let resolver: ClusterResolver;
  const abort = new AbortController();
  const ask = (name: string, type: Question['type']) => resolver.resolve({ name, type });

  before(async () => {
    api = await startTestApi();
    client = api.client('dns-test');
    const create = (gvr: typeof R.services, o: { metadata: { namespace?: string } }) => client.resource(gvr).create(o.metadata.namespace, o as never);
    await create(R.services, service('default', 'web', { clusterIP: '10.43.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
    await create(R.endpointslices, endpointSlice('default', 'web', 'web-1x', [{ ip: '10.42.0.9' }], [{ name: 'http', port: 8080 }]));
    await create(R.services, service('default', 'nginx', { clusterIP: 'None', ports: [{ name: 'web', port: 80 }] }));
    await create(
      R.endpointslices,
      endpointSlice(
        'default',
        'nginx',
        'nginx-abc',
        [
          { ip: '10.42.0.5', hostname: 'web-0' },
          { ip: '10.42.0.6', hostname: 'web-1' },
          { ip: '10.42.0.7', hostname: 'web-2', ready: false },
        ],
        [{ name: 'web', port: 80 }],
      ),
    );
    await create(R.services, service('default', 'plain', { clusterIP: 'None', ports: [{ port: 9000 }] }));
    await create(R.endpointslices, endpointSlice('default', 'plain', 'plain-1', [{ ip: '10.42.1.1' }], [{ port: 9000 }]));
    await create(R.endpointslices, endpointSlice('default', 'plain', 'plain-2', [{ ip: '10.42.1.2' }], [{ port: 9000 }]));
    await create(R.services, service('default', 'empty', { clusterIP: 'None', ports: [{ name: 'x', port: 1 }] }));
    await create(R.services, service('default', 'ext', { type: 'ExternalName', externalName: 'example.com' }));
    await create(R.services, service('default', 'inner', { type: 'ExternalName', externalName: `web.default.svc.${Z}` }));
    informers = informerRecordSource(client);
    informers.run(abort.signal);
    await informers.waitForSync();
    resolver = new ClusterResolver(informers.source, { zone: Z, nameservers: () => ['10.43.0.10'] });
  });

  after(async () => {
    abort.abort();
    await api.stop();
  });

  it('answers A for a ClusterIP Service with its ClusterIP, TTL 5, in the question\'s case', () => {
    const r = ask(`web.default.svc.${Z}`, 'A')!;
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers, [{ type: 'A', name: `web.default.svc.${Z}`, ttl: 5, data: '10.43.0.50' }]);
    const mixed = ask('WEB.Default.svc.Cluster.Local.', 'A')!;
    assert.equal(mixed.answers[0].name, 'WEB.Default.svc.Cluster.Local.');
    assert.deepEqual(data(mixed), ['10.43.0.50']);
  });

  it('gives NODATA with the SOA for AAAA of an IPv4-only name', () => {
    const r = ask(`web.default.svc.${Z}`, 'AAAA')!;
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers, []);
    assert.equal(r.authorities[0].type, 'SOA');
    assert.equal(r.authorities[0].name, Z);
    const soa = r.authorities[0] as { data: { mname: string; rname: string; minimum: number } };
    assert.equal(soa.data.mname, `ns.dns.${Z}`);
    assert.equal(soa.data.rname, `hostmaster.${Z}`);
    assert.equal(soa.data.minimum, 5);
  });

  it('answers SRV for named ports of a ClusterIP Service, with the address as extra', () => {
    const r = ask(`_http._tcp.web.default.svc.${Z}`, 'SRV')!;
    assert.deepEqual(data(r), [{ priority: 0, weight: 100, port: 80, target: `web.default.svc.${Z}` }]);
    assert.deepEqual(r.additionals, [{ type: 'A', name: `web.default.svc.${Z}`, ttl: 5, data: '10.43.0.50' }]);
    assert.deepEqual(data(ask(`_dns._udp.web.default.svc.${Z}`, 'SRV')), [{ priority: 0, weight: 100, port: 53, target: `web.default.svc.${Z}` }]);
    assert.equal(ask(`_http._udp.web.default.svc.${Z}`, 'SRV')!.rcode, 'NXDOMAIN');
    assert.equal(ask(`_nope._tcp.web.default.svc.${Z}`, 'SRV')!.rcode, 'NXDOMAIN');
  });

  it('answers a headless Service with one A per ready endpoint', () => {
    assert.deepEqual(data(ask(`nginx.default.svc.${Z}`, 'A')), ['10.42.0.5', '10.42.0.6']);
    assert.deepEqual(data(ask(`plain.default.svc.${Z}`, 'A')), ['10.42.1.1', '10.42.1.2']);
    assert.equal(ask(`empty.default.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
  });

  it('answers StatefulSet pod names (hostname.service) and dashed-IP endpoint names', () => {
    assert.deepEqual(data(ask(`web-0.nginx.default.svc.${Z}`, 'A')), ['10.42.0.5']);
    assert.deepEqual(data(ask(`web-1.nginx.default.svc.${Z}`, 'A')), ['10.42.0.6']);
    assert.equal(ask(`web-2.nginx.default.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN', 'not ready');
    assert.deepEqual(data(ask(`10-42-1-2.plain.default.svc.${Z}`, 'A')), ['10.42.1.2']);
    // Endpoint names work under a ClusterIP Service too, as in CoreDNS.
    assert.deepEqual(data(ask(`10-42-0-9.web.default.svc.${Z}`, 'A')), ['10.42.0.9']);
  });

  it('answers SRV for a headless Service with a target per endpoint', () => {
    const r = ask(`_web._tcp.nginx.default.svc.${Z}`, 'SRV')!;
    assert.deepEqual(data(r), [
      { priority: 0, weight: 50, port: 80, target: `web-0.nginx.default.svc.${Z}` },
      { priority: 0, weight: 50, port: 80, target: `web-1.nginx.default.svc.${Z}` },
    ]);
    assert.deepEqual(
      r.additionals.map((a) => [a.name, 'data' in a && a.data]),
      [
        [`web-0.nginx.default.svc.${Z}`, '10.42.0.5'],
        [`web-1.nginx.default.svc.${Z}`, '10.42.0.6'],
      ],
    );
    // No port in the name: every port; unnamed ports have no _port label to ask for.
    assert.deepEqual(
      data(ask(`plain.default.svc.${Z}`, 'SRV'))!.map((d) => (d as { target: string }).target),
      [`10-42-1-1.plain.default.svc.${Z}`, `10-42-1-2.plain.default.svc.${Z}`],
    );
  });

  it('answers PTR for ClusterIPs and endpoint addresses, and leaves other addresses to upstream', () => {
    assert.deepEqual(data(ask('50.0.43.10.in-addr.arpa', 'PTR')), [`web.default.svc.${Z}`]);
    assert.deepEqual(data(ask('5.0.42.10.in-addr.arpa.', 'PTR')), [`web-0.nginx.default.svc.${Z}`]);
    assert.deepEqual(data(ask('1.1.42.10.in-addr.arpa', 'PTR')), [`10-42-1-1.plain.default.svc.${Z}`]);
    assert.equal(ask('7.0.42.10.in-addr.arpa', 'PTR'), undefined, 'not-ready endpoints have no PTR');
    assert.equal(ask('8.8.8.8.in-addr.arpa', 'PTR'), undefined);
    assert.equal(addressFromReverse(`${[...'20010db8000000000000000000000001'].reverse().join('.')}.ip6.arpa`), '2001:db8::1');
  });

  it('answers ExternalName Services with a CNAME, chasing in-zone targets and handing out-of-zone ones to the server', () => {
    const a = ask(`ext.default.svc.${Z}`, 'A')!;
    assert.deepEqual(a.answers, [{ type: 'CNAME', name: `ext.default.svc.${Z}`, ttl: 5, data: 'example.com' }]);
    assert.deepEqual(a.chase, { name: 'example.com', type: 'A' });
    assert.deepEqual(data(ask(`ext.default.svc.${Z}`, 'CNAME')), ['example.com']);
    const inner = ask(`inner.default.svc.${Z}`, 'A')!;
    assert.deepEqual(
      inner.answers.map((r) => r.type),
      ['CNAME', 'A'],
    );
    assert.deepEqual(data(inner), [`web.default.svc.${Z}`, '10.43.0.50']);
    assert.equal(inner.chase, undefined);
  });

  it('tells NXDOMAIN from NODATA as CoreDNS does', () => {
    const nx = ask(`missing.default.svc.${Z}`, 'A')!;
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.equal(nx.authorities[0].type, 'SOA');
    assert.equal(ask(`web.nosuchns.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    assert.equal(ask(`default.svc.${Z}`, 'A')!.rcode, 'NOERROR', 'an existing namespace');
    assert.equal(ask(`nosuchns.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    assert.equal(ask(`svc.${Z}`, 'A')!.rcode, 'NOERROR');
    assert.equal(ask(`foo.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    assert.equal(ask(`a.b.c.web.default.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    // Search-path expansions of outside names end in the zone and are answered here.
    assert.equal(ask(`example.com.default.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    const mx = ask(`web.default.svc.${Z}`, 'MX')!;
    assert.equal(mx.rcode, 'NOERROR');
    assert.equal(mx.answers.length, 0);
    assert.equal(ask('example.com', 'A'), undefined, 'outside the zone');
  });

  it('answers the apex SOA and NS, ns.dns and the dns-version TXT', () => {
    assert.equal(ask(Z, 'SOA')!.answers[0].type, 'SOA');
    const ns = ask(Z, 'NS')!;
    assert.deepEqual(data(ns), [`ns.dns.${Z}`]);
    assert.deepEqual(data({ ...ns, answers: ns.additionals }), ['10.43.0.10']);
    assert.deepEqual(data(ask(`ns.dns.${Z}`, 'A')), ['10.43.0.10']);
    assert.deepEqual(data(ask(`dns-version.${Z}`, 'TXT')), ['1.1.0']);
  });

  it('answers pod names in insecure mode; verified mode needs the pod', () => {
    assert.deepEqual(data(ask(`10-42-0-5.default.pod.${Z}`, 'A')), ['10.42.0.5']);
    assert.equal(ask(`not-an-ip.default.pod.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    assert.equal(ask(`10-42-0-5.nosuchns.pod.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    const pod = { metadata: { namespace: 'default', name: 'p' }, status: { podIP: '10.42.3.3' } };
    const verified = new ClusterResolver(recordSourceFromObjects({ pods: [pod], namespaces: ['default', 'other'] }), { zone: Z, pods: 'verified' });
    assert.deepEqual(data(verified.resolve({ name: `10-42-3-3.default.pod.${Z}`, type: 'A' })), ['10.42.3.3']);
    assert.equal(verified.resolve({ name: `10-42-3-4.default.pod.${Z}`, type: 'A' })!.rcode, 'NXDOMAIN');
    assert.equal(verified.resolve({ name: `10-42-3-3.other.pod.${Z}`, type: 'A' })!.rcode, 'NXDOMAIN');
    const disabled = new ClusterResolver(recordSourceFromObjects({ namespaces: ['default'] }), { zone: Z, pods: 'disabled' });
    assert.equal(disabled.resolve({ name: `10-42-0-5.default.pod.${Z}`, type: 'A' })!.rcode, 'NXDOMAIN');
  });

  it('follows changes to EndpointSlices', async () => {
    const slices = client.resource(R.endpointslices);
    const cur = await slices.get('default', 'nginx-abc');
    cur.endpoints[1].conditions.ready = false;
    await slices.update(cur);
    await until(() => data(ask(`nginx.default.svc.${Z}`, 'A'))!.length === 1, 'web-1 to leave');
    assert.equal(ask(`web-1.nginx.default.svc.${Z}`, 'A')!.rcode, 'NXDOMAIN');
    await client.resource(R.services).delete('default', 'plain');
    await until(() => ask(`plain.default.svc.${Z}`, 'A')!.rcode === 'NXDOMAIN', 'plain to go');
  });

  it('ensures the kube-dns Service and its endpoints, idempotently', async () => {
    assert.equal(clusterDNSIP('10.43.0.0/16'), '10.43.0.10');
    assert.equal(clusterDNSIP('10.96.0.0/12'), '10.96.0.10');
    assert.throws(() => clusterDNSIP('banana'), /invalid IPv4 service CIDR/);
    const first = await ensureKubeDNSService(client, { endpoint: { ip: '127.0.0.1', port: 10053 }, nodeName: 'n1' });
    assert.equal(first.service.spec.clusterIP, '10.43.0.10');
    assert.equal(first.service.spec.selector, undefined);
    assert.deepEqual(
      first.service.spec.ports.map((p: { name: string; port: number; protocol: string }) => `${p.name}:${p.port}/${p.protocol}`),
      ['dns:53/UDP', 'dns-tcp:53/TCP', 'metrics:9153/TCP'],
    );
    assert.equal(first.endpointSlice.metadata.name, KUBE_DNS_SLICE);
    assert.equal(first.endpointSlice.metadata.labels?.[MANAGED_BY_LABEL], MANAGED_BY);
    assert.equal(first.endpoints.subsets[0].addresses[0].ip, '127.0.0.1');
    const again = await ensureKubeDNSService(client, { endpoint: { ip: '127.0.0.1', port: 10053 }, nodeName: 'n1' });
    assert.equal(again.service.metadata.resourceVersion, first.service.metadata.resourceVersion);
    assert.equal(again.endpointSlice.metadata.resourceVersion, first.endpointSlice.metadata.resourceVersion);
    // A new listen port rewrites the endpoints.
    const moved = await ensureKubeDNSService(client, { endpoint: { ip: '127.0.0.1', port: 10054 } });
    assert.equal(moved.endpointSlice.ports[0].port, 10054);
    await until(() => ask(`kube-dns.kube-system.svc.${Z}`, 'A')?.answers.length, 'kube-dns in the cache');
    assert.deepEqual(data(ask(`kube-dns.kube-system.svc.${Z}`, 'A')), ['10.43.0.10']);
    assert.equal((data(ask(`_dns._udp.kube-dns.kube-system.svc.${Z}`, 'SRV'))![0] as { port: number }).port, 53);
  });
});
