// buildRules / renderRestore as pure functions: the important lines of each feature.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { endpointChain, externalChain, serviceChain, serviceLocalChain } from './chain-names.js';
import { buildCleanupRules, buildRules, buildRuleSet, parseSave, renderRestore, type ProxyRuleState } from './rules.js';

const svc = (name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject => ({
  metadata: { namespace: 'ns', name },
  spec: { clusterIP: '10.43.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }], ...spec },
  ...(status ? { status } : {}),
});
type Ep = { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean };
const slice = (service: string, eps: Ep[], name = `${service}-1`, port = { name: 'http', port: 8080, protocol: 'TCP' }): KubeObject =>
  ({
    metadata: { namespace: 'ns', name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [port],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node ?? 'n1', conditions: { ready: e.ready ?? true, serving: e.serving, terminating: e.terminating } })),
  }) as KubeObject;

const state = (services: KubeObject[], endpointSlices: KubeObject[], extra: Partial<ProxyRuleState> = {}): ProxyRuleState => ({
  services,
  endpointSlices,
  nodeName: 'n1',
  nodeIPs: ['192.168.1.10'],
  clusterCIDR: '10.42.0.0/16',
  ...extra,
});
const lines = (s: string) => s.split('\n');
const SVC = serviceChain('ns/web:http', 'TCP');

describe('buildRules', () => {
  test('chain names are upstream\'s', () => {
    assert.equal(serviceChain('ns1/svc1:p80', 'TCP'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
  });

  test('ClusterIP: dispatch, masquerade of off-cluster sources, random balancing with DNAT, hairpin', () => {
    const r = buildRules(state([svc('web', {})], [slice('web', [{ ip: '10.42.0.2' }, { ip: '10.42.0.3', node: 'n2' }, { ip: '10.42.0.4' }])]));
    const nat = lines(r.nat);
    assert.ok(nat.includes(`-A KUBE-SERVICES -m comment --comment "ns/web:http cluster IP" -p tcp -m tcp -d 10.43.0.10/32 --dport 80 -j ${SVC}`));
    assert.ok(nat.includes(`-A ${SVC} -m comment --comment "ns/web:http cluster IP" -p tcp -m tcp -d 10.43.0.10/32 --dport 80 ! -s 10.42.0.0/16 -j KUBE-MARK-MASQ`));
    assert.deepEqual(
      nat.filter((l) => l.startsWith(`-A ${SVC}`) && l.includes('statistic')).map((l) => /--probability (\S+)/.exec(l)![1]),
      ['0.3333333333', '0.5000000000'],
    );
    assert.ok(nat.includes(`-A ${SVC} -m comment --comment "ns/web:http -> 10.42.0.2:8080" -m statistic --mode random --probability 0.3333333333 -p tcp -m tcp -j DNAT --to-destination 10.42.0.2:8080`));
    assert.ok(nat.includes(`-A ${SVC} -m comment --comment "ns/web:http -> 10.42.0.4:8080" -p tcp -m tcp -j DNAT --to-destination 10.42.0.4:8080`), 'the last endpoint takes the rest');
    assert.ok(!r.nat.includes('KUBE-SEP-'), 'no chain per endpoint');
    // Hairpin only for this node's pods, before the mark check, once per pod IP.
    const post = nat.filter((l) => l.startsWith('-A KUBE-POSTROUTING'));
    assert.deepEqual(post.slice(0, 3), [
      '-A KUBE-POSTROUTING -s 10.42.0.2/32 -d 10.42.0.2/32 -m conntrack --ctstate DNAT -m comment --comment "hairpin traffic" -j MASQUERADE',
      '-A KUBE-POSTROUTING -s 10.42.0.4/32 -d 10.42.0.4/32 -m conntrack --ctstate DNAT -m comment --comment "hairpin traffic" -j MASQUERADE',
      '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    ]);
    assert.ok(nat.includes('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 192.168.1.10/32 -j KUBE-NODEPORTS'));
    assert.ok(nat.includes('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully'));
    assert.ok(nat.includes('-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'));
    assert.equal(nat.at(-2), 'COMMIT');
    assert.ok(!r.filter.includes('REJECT'));
  });

  test('only ready endpoints; serving-terminating ones when none is ready; duplicates across slices once', () => {
    const eps = (r: { nat: string }) => [...r.nat.matchAll(/DNAT --to-destination (\S+)/g)].map((m) => m[1]);
    const s = [svc('web', {})];
    assert.deepEqual(eps(buildRules(state(s, [slice('web', [{ ip: '10.42.0.2' }, { ip: '10.42.0.3', ready: false }, { ip: '10.42.0.4', ready: false, serving: true, terminating: true }])]))), ['10.42.0.2:8080']);
    assert.deepEqual(eps(buildRules(state(s, [slice('web', [{ ip: '10.42.0.3', ready: false }, { ip: '10.42.0.4', ready: false, serving: true, terminating: true }])]))), ['10.42.0.4:8080']);
    assert.deepEqual(eps(buildRules(state(s, [slice('web', [{ ip: '10.42.0.2' }]), slice('web', [{ ip: '10.42.0.2' }], 'web-2')]))), ['10.42.0.2:8080']);
    // A slice port of another name or protocol does not serve this port.
    assert.deepEqual(eps(buildRules(state(s, [slice('web', [{ ip: '10.42.0.2' }], 'web-1', { name: 'metrics', port: 9090, protocol: 'TCP' })]))), []);
  });

  test('no endpoints: REJECT in filter for the ClusterIP and the NodePort, no nat chains', () => {
    const r = buildRules(state([svc('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] })], []));
    const f = lines(r.filter);
    assert.ok(f.includes('-A KUBE-SERVICES -m comment --comment "ns/web:http has no endpoints" -p tcp -m tcp -d 10.43.0.10/32 --dport 80 -j REJECT --reject-with icmp-port-unreachable'));
    assert.ok(f.includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:http has no endpoints" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable'));
    assert.ok(!r.nat.includes('KUBE-SVC-'));
  });

  test('ExternalName and headless Services get no rules', () => {
    const r = buildRules(state([svc('ext', { type: 'ExternalName', externalName: 'example.com', clusterIP: undefined }), svc('headless', { clusterIP: 'None' })], [slice('headless', [{ ip: '10.42.0.2' }])]));
    assert.ok(!/ns\/(ext|headless)/.test(r.nat + r.filter));
  });

  test('NodePort and LoadBalancer IP go through KUBE-EXT, which masquerades (Cluster policy)', () => {
    const r = buildRules(state([svc('web', { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }, { loadBalancer: { ingress: [{ ip: '192.168.1.10' }] } })], [slice('web', [{ ip: '10.42.0.2' }])]));
    const nat = lines(r.nat);
    const EXT = externalChain('ns/web:http', 'TCP');
    assert.ok(nat.includes(`-A KUBE-NODEPORTS -m comment --comment "ns/web:http" -p tcp -m tcp --dport 30080 -j ${EXT}`));
    assert.ok(nat.includes(`-A KUBE-SERVICES -m comment --comment "ns/web:http loadbalancer IP" -p tcp -m tcp -d 192.168.1.10/32 --dport 80 -j ${EXT}`));
    assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${EXT}`)), [`-A ${EXT} -m comment --comment "masquerade traffic for ns/web:http external destinations" -j KUBE-MARK-MASQ`, `-A ${EXT} -j ${SVC}`]);
    assert.ok(nat.includes('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 127.0.0.1/32 -j KUBE-NODEPORTS'));
  });

  test('externalIPs jump to KUBE-EXT from KUBE-SERVICES; without endpoints they are rejected in KUBE-EXTERNAL-SERVICES', () => {
    const s = [svc('web', { externalIPs: ['198.51.100.7'] })];
    const r = buildRules(state(s, [slice('web', [{ ip: '10.42.0.2' }])]));
    assert.ok(lines(r.nat).includes(`-A KUBE-SERVICES -m comment --comment "ns/web:http external IP" -p tcp -m tcp -d 198.51.100.7/32 --dport 80 -j ${externalChain('ns/web:http', 'TCP')}`));
    const none = buildRules(state(s, []));
    assert.ok(lines(none.filter).includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:http has no endpoints" -p tcp -m tcp -d 198.51.100.7/32 --dport 80 -j REJECT --reject-with icmp-port-unreachable'));
  });

  test('loadBalancerSourceRanges: RETURN for each range, then DROP, on the original destination', () => {
    const r = buildRules(
      state([svc('web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.0/24', 'bogus'], ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] }, { loadBalancer: { ingress: [{ ip: '192.168.1.10' }] } })], [slice('web', [{ ip: '10.42.0.2' }])]),
    );
    assert.deepEqual(
      lines(r.filter).filter((l) => l.startsWith('-A KUBE-PROXY-FIREWALL')),
      [
        '-A KUBE-PROXY-FIREWALL -s 203.0.113.0/24 -m conntrack --ctorigdst 192.168.1.10/32 --ctorigdstport 80 -p tcp -m tcp -j RETURN',
        '-A KUBE-PROXY-FIREWALL -m comment --comment "ns/web:http traffic not accepted by loadBalancerSourceRanges" -m conntrack --ctorigdst 192.168.1.10/32 --ctorigdstport 80 -p tcp -m tcp -j DROP',
      ],
    );
  });

  test('externalTrafficPolicy Local: KUBE-SVL with local endpoints; pods and the node use all; DROP when none is local', () => {
    const s = [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' }] })];
    const r = buildRules(state(s, [slice('web', [{ ip: '10.42.0.2', node: 'n1' }, { ip: '10.42.1.2', node: 'n2' }])]));
    const nat = lines(r.nat);
    const EXT = externalChain('ns/web:http', 'TCP');
    const SVL = serviceLocalChain('ns/web:http', 'TCP');
    assert.deepEqual(
      nat.filter((l) => l.startsWith(`-A ${EXT}`)).map((l) => l.replace(/-m comment --comment "[^"]*" /, '')),
      [`-A ${EXT} -s 10.42.0.0/16 -j ${SVC}`, `-A ${EXT} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`, `-A ${EXT} -m addrtype --src-type LOCAL -j ${SVC}`, `-A ${EXT} -j ${SVL}`],
    );
    assert.deepEqual(nat.filter((l) => l.startsWith(`-A ${SVL}`)), [`-A ${SVL} -m comment --comment "ns/web:http -> 10.42.0.2:8080" -p tcp -m tcp -j DNAT --to-destination 10.42.0.2:8080`]);
    const none = buildRules(state(s, [slice('web', [{ ip: '10.42.1.2', node: 'n2' }])]));
    assert.ok(lines(none.filter).includes('-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns/web:http has no local endpoints" -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -j DROP'));
    assert.ok(none.nat.includes('cluster IP" -p tcp -m tcp -d 10.43.0.10/32 --dport 80 -j KUBE-SVC-'), 'the ClusterIP still reaches the remote endpoint');
  });

  test('internalTrafficPolicy Local: the ClusterIP goes to KUBE-SVL only', () => {
    const s = [svc('web', { internalTrafficPolicy: 'Local' })];
    const r = buildRules(state(s, [slice('web', [{ ip: '10.42.0.2', node: 'n1' }, { ip: '10.42.1.2', node: 'n2' }])]));
    const SVL = serviceLocalChain('ns/web:http', 'TCP');
    assert.ok(r.nat.includes(`--dport 80 -j ${SVL}`));
    assert.ok(!r.nat.includes('KUBE-SVC-'));
    assert.ok(!r.nat.includes('10.42.1.2'));
    const none = buildRules(state(s, [slice('web', [{ ip: '10.42.1.2', node: 'n2' }])]));
    assert.ok(none.filter.includes('"ns/web:http has no local endpoints" -p tcp -m tcp -d 10.43.0.10/32 --dport 80 -j DROP'));
  });

  test('ClientIP affinity: recent --update checks before the random rules, --set with the chosen DNAT', () => {
    const r = buildRules(state([svc('web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } })], [slice('web', [{ ip: '10.42.0.2' }, { ip: '10.42.0.3' }])]));
    const list = endpointChain('ns/web:http', 'TCP', '10.42.0.2:8080');
    const svcLines = lines(r.nat).filter((l) => l.startsWith(`-A ${SVC}`));
    const dnat = '-p tcp -m tcp -j DNAT --to-destination 10.42.0.2:8080';
    assert.equal(svcLines[1], `-A ${SVC} -m comment --comment "ns/web:http -> 10.42.0.2:8080" -m recent --name ${list} --update --seconds 60 --reap ${dnat}`);
    assert.equal(svcLines[3], `-A ${SVC} -m comment --comment "ns/web:http -> 10.42.0.2:8080" -m statistic --mode random --probability 0.5000000000 -m recent --name ${list} --set ${dnat}`);
  });

  test('above 1000 endpoints the per-endpoint rules carry no comments (large cluster mode)', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.42.${i >> 8}.${i & 255}` }));
    const r = buildRules(state([svc('web', {})], [slice('web', eps)]));
    assert.equal(lines(r.nat).filter((l) => new RegExp(`^-A ${SVC} -p tcp -m tcp -j DNAT --to-destination [\\d.]+:8080$`).test(l)).length, 1, 'the last one, uncommented');
    assert.ok(lines(r.nat).some((l) => new RegExp(`^-A ${SVC} -m statistic --mode random --probability 0\\.\\d{10} -p tcp -m tcp -j DNAT --to-destination 10\\.42\\.0\\.0:8080$`).test(l)));
    assert.ok(r.nat.includes('"ns/web:http cluster IP"'), 'service-level comments stay');
  });

  test('no clusterCIDR: no masquerade rule for the ClusterIP; no node IPs: NodePorts on every local address', () => {
    const r = buildRules(state([svc('web', {})], [slice('web', [{ ip: '10.42.0.2' }])], { clusterCIDR: undefined, nodeIPs: [] }));
    assert.ok(!r.nat.includes('! -s'));
    assert.ok(r.nat.includes('-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'));
  });
});

describe('renderRestore', () => {
  test('incremental: unchanged chains are not re-emitted, stale ones are flushed and deleted', () => {
    const one = buildRuleSet(state([svc('web', {}), svc('api', { clusterIP: '10.43.0.11' })], [slice('web', [{ ip: '10.42.0.2' }]), slice('api', [{ ip: '10.42.0.5' }])]));
    const first = renderRestore(one, { installJumps: true });
    assert.equal(first.chainsWritten, 2);
    const two = buildRuleSet(state([svc('web', {}), svc('api', { clusterIP: '10.43.0.11' })], [slice('web', [{ ip: '10.42.0.3' }]), slice('api', [{ ip: '10.42.0.5' }])]));
    const second = renderRestore(two, { previous: first.applied, installJumps: false });
    assert.equal(second.chainsWritten, 1, 'only the web SVC chain');
    assert.equal(second.chainsDeleted, 0);
    // A Service that goes away: its chain is flushed and deleted.
    const three = buildRuleSet(state([svc('web', {})], [slice('web', [{ ip: '10.42.0.3' }])]));
    const gone = renderRestore(three, { previous: second.applied, installJumps: false });
    const apiChain = serviceChain('ns/api:http', 'TCP');
    assert.equal(gone.chainsWritten, 0);
    assert.equal(gone.chainsDeleted, 1);
    assert.ok(gone.nat.includes(`:${apiChain} - [0:0]`) && gone.nat.includes(`-X ${apiChain}`));
    assert.ok(!second.nat.includes(serviceChain('ns/api:http', 'TCP') + ' -'), 'api untouched');
    assert.ok(!second.nat.includes('-I PREROUTING'));
    // Against what iptables-save shows: only missing jumps are added; unknown per-service chains go.
    const saved = parseSave('*nat\n:KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]\n:CNI-HOSTPORT-DNAT - [0:0]\n-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\nCOMMIT\n');
    const third = renderRestore(two, { existing: { nat: saved, filter: parseSave('') } });
    assert.ok(third.nat.includes('-X KUBE-SVC-AAAAAAAAAAAAAAAA') && !third.nat.includes('CNI-HOSTPORT'));
    assert.ok(!third.nat.includes('-I PREROUTING') && third.nat.includes('-I OUTPUT'));
  });

  test('cleanup deletes our jumps and chains and nothing else', () => {
    const nat = [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]',
      ':OTHER - [0:0]',
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A PREROUTING -j OTHER',
      '-A KUBE-SERVICES -j KUBE-SVC-AAAAAAAAAAAAAAAA',
      'COMMIT',
    ].join('\n');
    const text = buildCleanupRules({ nat, filter: '' });
    assert.equal(
      text,
      ['*nat', ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-AAAAAAAAAAAAAAAA - [0:0]', '-D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', '-X KUBE-SERVICES', '-X KUBE-SVC-AAAAAAAAAAAAAAAA', 'COMMIT', ''].join('\n'),
    );
  });
});
