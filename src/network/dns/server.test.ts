// The DNS server over real sockets on 127.0.0.1: node's resolver (c-ares), busybox nslookup and
// raw dns-packet clients over UDP and TCP; names outside the zone go to a stub upstream on
// loopback.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { ClusterDNS } from './server.js';
import { endpointSlice, queryPacket, service, startStubUpstream, udpExchange, type StubUpstream } from './testing.js';

const Z = 'cluster.local';
const rcodeOf = (p: DecodedPacket) => (p as DecodedPacket & { rcode: string }).rcode;

function tcpExchange(port: number, msgs: Buffer[]): Promise<DecodedPacket[]> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port });
    const out: DecodedPacket[] = [];
    let buf = Buffer.alloc(0);
    c.setTimeout(3000, () => {
      c.destroy();
      reject(new Error('tcp exchange timed out'));
    });
    c.on('error', reject);
    c.on('connect', () => c.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m])))));
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length === msgs.length) {
        c.destroy();
        resolve(out);
      }
    });
  });
}

describe('ClusterDNS server', () => {
  let api: TestApi;
  let upstream: StubUpstream;
  let dns: ClusterDNS;
  let port: number;
  let resolver: Resolver;
  const udp = async (msg: Buffer) => {
    const r = await udpExchange(port, msg);
    assert.ok(r, 'no UDP response');
    return dnsPacket.decode(r);
  };

  before(async () => {
    api = await startTestApi();
    const client = api.client('dns-server-test');
    const create = (gvr: typeof R.services, o: { metadata: { namespace?: string } }) => client.resource(gvr).create(o.metadata.namespace, o as never);
    await create(R.services, service('default', 'web', { clusterIP: '10.43.0.50', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    await create(R.services, service('default', 'nginx', { clusterIP: 'None', ports: [{ name: 'web', port: 80 }] }));
    await create(R.endpointslices, endpointSlice('default', 'nginx', 'nginx-a', [{ ip: '10.42.0.5', hostname: 'web-0' }, { ip: '10.42.0.6', hostname: 'web-1' }], [{ name: 'web', port: 80 }]));
    await create(R.services, service('default', 'ext', { type: 'ExternalName', externalName: 'example.com' }));
    const many = Array.from({ length: 60 }, (_, i) => ({ ip: `10.42.9.${i + 1}` }));
    await create(R.services, service('default', 'many', { clusterIP: 'None', ports: [{ name: 'p', port: 1 }] }));
    await create(R.endpointslices, endpointSlice('default', 'many', 'many-a', many, [{ name: 'p', port: 1 }]));
    upstream = await startStubUpstream({
      'example.com': [{ type: 'A', ttl: 60, data: '93.184.216.34' }],
      'short.example': [{ type: 'A', ttl: 1, data: '192.0.2.1' }],
      'big.example': Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, ttl: 60, data: `192.0.2.${i + 1}` })),
      '9.8.7.6.in-addr.arpa': [{ type: 'PTR', ttl: 60, data: 'host.example' }],
    });
    dns = new ClusterDNS({ client, listen: [{ host: '127.0.0.1', port: 0 }], upstreams: [`${upstream.address}:${upstream.port}`], cacheSeconds: 30 });
    await dns.start();
    port = dns.addresses[0].port;
    resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
  });

  after(async () => {
    await dns?.stop();
    await upstream?.stop();
    await api?.stop();
  });

  it('answers cluster names to node\'s resolver: A, SRV, PTR, CNAME, headless and StatefulSet names', async () => {
    assert.deepEqual(await resolver.resolve4(`web.default.svc.${Z}`), ['10.43.0.50']);
    assert.deepEqual(await resolver.resolve4(`web.default.svc.${Z}`, { ttl: true }), [{ address: '10.43.0.50', ttl: 5 }]);
    assert.deepEqual(await resolver.resolveSrv(`_http._tcp.web.default.svc.${Z}`), [{ name: `web.default.svc.${Z}`, port: 80, priority: 0, weight: 100 }]);
    assert.deepEqual(await resolver.reverse('10.43.0.50'), [`web.default.svc.${Z}`]);
    assert.deepEqual((await resolver.resolve4(`nginx.default.svc.${Z}`)).sort(), ['10.42.0.5', '10.42.0.6']);
    assert.deepEqual(await resolver.resolve4(`web-0.nginx.default.svc.${Z}`), ['10.42.0.5']);
    assert.deepEqual(await resolver.reverse('10.42.0.6'), [`web-1.nginx.default.svc.${Z}`]);
    const srv = await resolver.resolveSrv(`_web._tcp.nginx.default.svc.${Z}`);
    assert.deepEqual(srv.map((s) => s.name).sort(), [`web-0.nginx.default.svc.${Z}`, `web-1.nginx.default.svc.${Z}`]);
    assert.deepEqual(await resolver.resolveCname(`ext.default.svc.${Z}`), ['example.com']);
    // A for an ExternalName: the CNAME and the target's address from upstream.
    assert.deepEqual(await resolver.resolve4(`ext.default.svc.${Z}`), ['93.184.216.34']);
    assert.deepEqual(await resolver.resolveTxt(`dns-version.${Z}`), [['1.1.0']]);
  });

  it('returns NXDOMAIN and NODATA with the SOA, authoritatively', async () => {
    await assert.rejects(resolver.resolve4(`missing.default.svc.${Z}`), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve6(`web.default.svc.${Z}`), { code: 'ENODATA' });
    const nx = await udp(queryPacket(`missing.default.svc.${Z}`, 'A'));
    assert.equal(rcodeOf(nx), 'NXDOMAIN');
    assert.equal(nx.flag_aa, true);
    assert.equal(nx.flag_ra, true);
    assert.equal(nx.authorities![0].type, 'SOA');
    const nodata = await udp(queryPacket(`web.default.svc.${Z}`, 'AAAA', { edns: 1232 }));
    assert.equal(rcodeOf(nodata), 'NOERROR');
    assert.equal(nodata.answers!.length, 0);
    assert.equal(nodata.authorities![0].type, 'SOA');
    assert.equal(nodata.additionals![0].type, 'OPT', 'EDNS answered with EDNS');
  });

  it('forwards other names upstream and caches positive and negative answers', async () => {
    const before = upstream.seen.length;
    assert.deepEqual(await resolver.resolve4('example.com'), ['93.184.216.34']);
    assert.deepEqual(await resolver.resolve4('example.com'), ['93.184.216.34']);
    await assert.rejects(resolver.resolve4('nothing.example'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve4('nothing.example'), { code: 'ENOTFOUND' });
    const asked = upstream.seen.slice(before);
    assert.equal(asked.filter((q) => q === 'example.com/A').length <= 1, true, `example.com asked ${asked}`);
    assert.equal(asked.filter((q) => q === 'nothing.example/A').length, 1);
    // Cached answers count their TTL down; a forwarded answer is not authoritative.
    const p = await udp(queryPacket('example.com', 'A'));
    assert.equal(p.flag_aa, false);
    assert.ok((p.answers![0] as { ttl: number }).ttl <= 60);
    // Reverse names of non-cluster addresses fall through to upstream.
    assert.deepEqual(await resolver.reverse('6.7.8.9'), ['host.example']);
  });

  it('expires cached answers after their TTL', async () => {
    await resolver.resolve4('short.example');
    const n = upstream.seen.filter((q) => q === 'short.example/A').length;
    await new Promise((r) => setTimeout(r, 1100));
    await resolver.resolve4('short.example');
    assert.equal(upstream.seen.filter((q) => q === 'short.example/A').length, n + 1);
  });

  it('truncates UDP answers over 512 bytes (or the EDNS size) and serves them whole over TCP', async () => {
    const small = await udp(queryPacket('big.example', 'A'));
    assert.equal(small.flag_tc, true);
    assert.ok(small.answers!.length < 60);
    const cluster = await udp(queryPacket(`many.default.svc.${Z}`, 'A'));
    assert.equal(cluster.flag_tc, true);
    const edns = await udpExchange(port, queryPacket(`many.default.svc.${Z}`, 'A', { edns: 4096 }));
    assert.ok(edns!.length <= 1232);
    const [whole, upstreamWhole] = await tcpExchange(port, [queryPacket(`many.default.svc.${Z}`, 'A', { id: 1 }), queryPacket('big.example', 'A', { id: 2 })].reverse());
    const byId = new Map([whole, upstreamWhole].map((p) => [p.id, p]));
    assert.equal(byId.get(1)!.answers!.length, 60);
    assert.equal(byId.get(1)!.flag_tc, false);
    assert.equal(byId.get(2)!.answers!.length, 60);
    // c-ares retries over TCP on TC.
    assert.equal((await resolver.resolve4(`many.default.svc.${Z}`)).length, 60);
  });

  it('answers malformed queries with FORMERR, other opcodes with NOTIMP, and keeps serving', async () => {
    const garbage = Buffer.alloc(40, 0xff);
    garbage.writeUInt16BE(0x1234, 0);
    garbage.writeUInt16BE(0x0100, 2);
    const fe = await udp(garbage);
    assert.equal(fe.id, 0x1234);
    assert.equal(rcodeOf(fe), 'FORMERR');
    assert.equal(await udpExchange(port, Buffer.from([1, 2, 3]), 300), undefined, 'no header: no answer');
    const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a.example', type: 'A' }, { name: 'b.example', type: 'A' }] });
    assert.equal(rcodeOf(await udp(two)), 'FORMERR');
    const none = dnsPacket.encode({ type: 'query', id: 8, questions: [] });
    assert.equal(rcodeOf(await udp(none)), 'FORMERR');
    const huge = Buffer.concat([queryPacket('example.com', 'A'), Buffer.alloc(3000)]);
    assert.equal(rcodeOf(await udp(huge)), 'FORMERR');
    const status = dnsPacket.encode({ type: 'query', id: 9, flags: 2 << 11, questions: [{ name: 'example.com', type: 'A' }] });
    assert.equal(rcodeOf(await udp(status)), 'NOTIMP');
    const response = dnsPacket.encode({ type: 'response', id: 10, questions: [{ name: 'example.com', type: 'A' }] });
    assert.equal(await udpExchange(port, response, 300), undefined, 'responses are ignored');
    const badvers = dnsPacket.encode({
      type: 'query',
      id: 11,
      questions: [{ name: 'example.com', type: 'A' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }],
    });
    const bv = await udp(badvers);
    assert.equal((bv.additionals![0] as { extendedRcode: number }).extendedRcode, 1, 'BADVERS');
    // Garbage over TCP too, then a good query on the same connection.
    const [tfe, tok] = await tcpExchange(port, [garbage, queryPacket(`web.default.svc.${Z}`, 'A', { id: 77 })]);
    assert.equal(rcodeOf(tfe), 'FORMERR');
    assert.equal(tok.id, 77);
    assert.deepEqual(await resolver.resolve4(`web.default.svc.${Z}`), ['10.43.0.50']);
    assert.ok(dns.stats.formErrors >= 5);
  });

  it('survives random and mutated packets', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const valid = queryPacket(`web.default.svc.${Z}`, 'SRV', { edns: 1232 });
    for (let i = 0; i < 3000; i++) {
      let msg: Buffer;
      if (i % 2) msg = Buffer.from(Array.from({ length: rand() % 80 }, rand));
      else {
        msg = Buffer.from(valid);
        for (let k = 0; k < 1 + (rand() % 4); k++) msg[rand() % msg.length] = rand();
        msg[2] &= 0x7f; // a query, so it is processed
      }
      const out = await dns.handle(msg, i % 3 ? 'udp' : 'tcp');
      if (out) dnsPacket.decode(out);
    }
    assert.deepEqual(await resolver.resolve4(`web.default.svc.${Z}`), ['10.43.0.50']);
  });

  it('answers busybox nslookup', { skip: !existsSync('/bin/busybox') }, async () => {
    const run = promisify(execFile);
    const { stdout } = await run('/bin/busybox', ['nslookup', '-type=a', `web-0.nginx.default.svc.${Z}`, `127.0.0.1:${port}`], { timeout: 10_000 });
    assert.match(stdout, /Address: 10\.42\.0\.5/);
    const srv = await run('/bin/busybox', ['nslookup', '-type=srv', `_http._tcp.web.default.svc.${Z}`, `127.0.0.1:${port}`], { timeout: 10_000 });
    assert.match(srv.stdout, /0 100 80 web\.default\.svc\.cluster\.local/);
  });

  it('fails to start on a taken port with a clear error, leaving nothing running', async () => {
    const taken = new ClusterDNS({ source: {} as never, listen: [{ host: '127.0.0.1', port }] });
    await assert.rejects(taken.start(), new RegExp(`dns: cannot listen on 127.0.0.1:${port}: .*EADDRINUSE`));
  });

  it('rejects bad options with clear errors', () => {
    assert.throws(() => new ClusterDNS({ listen: [{ host: '127.0.0.1', port: 0 }] }), /needs a client or a record source/);
    assert.throws(() => new ClusterDNS({ source: {} as never, listen: [{ host: 'localhost', port: 0 }] }), /invalid DNS listen host/);
    assert.throws(() => new ClusterDNS({ source: {} as never, listen: [{ host: '127.0.0.1', port: 0 }], upstreams: ['8.8.8.8:99999'] }), /invalid upstream/);
  });
});
