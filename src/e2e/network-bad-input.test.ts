// Bad networking input through the real kubectl against a real server: Services that ask for a
// taken or out-of-range nodePort or ClusterIP, malformed NetworkPolicies, Ingresses with missing
// backends. Each gets upstream's Status (422 Invalid with field causes), nothing is stored, and
// good objects keep working. Also the `kubernetes` Service's EndpointSlice across a restart.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { API_ONLY, startK8ts, type K8tsServer } from '../testing/k8ts-server.js';
import { RawClient } from '../testing/raw-client.js';

describe('networking bad input', { concurrency: false }, () => {
  let srv: K8tsServer;
  let raw: RawClient;
  before(async () => {
    srv = await startK8ts({ extraArgs: [...API_ONLY, '--service-node-port-range', '30000-30100'] });
    raw = new RawClient(srv.kubeconfig);
  });
  after(async () => {
    await srv?.stop();
  });

  const apply = (obj: object) => srv.kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  const service = (name: string, spec: object) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } });

  it('Services: a taken nodePort, one outside the range, a taken or foreign ClusterIP are 422 with the field', async () => {
    const ok = await apply(service('first', { type: 'NodePort', clusterIP: '10.43.0.50', ports: [{ port: 80, nodePort: 30080 }] }));
    assert.equal(ok.code, 0, ok.stderr);
    const cases: [object, RegExp][] = [
      [service('second', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }), /The Service "second" is invalid: spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/],
      [service('third', { type: 'NodePort', ports: [{ port: 80, nodePort: 31999 }] }), /spec\.ports\[0\]\.nodePort: Invalid value: 31999: provided port is not in the valid range\. The range of valid ports is 30000-30100/],
      [service('fourth', { clusterIP: '10.43.0.50' }), /The Service "fourth" is invalid: spec\.clusterIPs: Invalid value: \[\]string\{"10\.43\.0\.50"\}: failed to allocate IP 10\.43\.0\.50: provided IP is already allocated/],
      [service('fifth', { clusterIP: '192.168.7.7' }), /spec\.clusterIPs: Invalid value: \[\]string\{"192\.168\.7\.7"\}: failed to allocate IP 192\.168\.7\.7: the provided IP \(192\.168\.7\.7\) is not in the valid range\. The range of valid IPs is 10\.43\.0\.0\/16/],
      [service('sixth', { ports: [{ port: 70000 }] }), /spec\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/],
    ];
    for (const [obj, want] of cases) {
      const r = await apply(obj);
      assert.equal(r.code, 1);
      assert.match(r.stderr, want);
    }
    const names = (await srv.kubectl(['get', 'svc', '-o', 'name'])).stdout.trim().split('\n').sort();
    assert.deepEqual(names, ['service/first', 'service/kubernetes'], 'nothing invalid was stored');
    // The same as a Status object: code, reason, causes.
    const res = await raw.request('POST', '/api/v1/namespaces/default/services', JSON.stringify(service('seventh', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })));
    assert.equal(res.status, 422);
    const st = res.json();
    assert.equal(st.reason, 'Invalid');
    assert.deepEqual(st.details.causes.map((c: any) => [c.reason, c.field]), [['FieldValueInvalid', 'spec.ports[0].nodePort']]);
    // A selector that matches nothing is fine: the Service exists, with no endpoints.
    const lonely = await apply(service('lonely', {}));
    assert.equal(lonely.code, 0, lonely.stderr);
  });

  it('NetworkPolicies: bad ports, peers, CIDRs and policyTypes are 422 with every cause', async () => {
    const policy = (spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'bad' }, spec: { podSelector: {}, ...spec } });
    const res = await raw.request(
      'POST',
      '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies',
      JSON.stringify(
        policy({
          policyTypes: ['Ingress', 'Sideways'],
          ingress: [
            {
              ports: [{ port: 70000 }, { port: 8080, endPort: 80 }, { port: 'http', endPort: 90 }, { protocol: 'ICMP' }, { endPort: 9 }],
              from: [{}, { ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }, { ipBlock: { cidr: '10.0.0.0/33' } }, { ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24', '10.0.0.0/16'] } }],
            },
          ],
          egress: [{ to: [{ podSelector: { matchLabels: { 'bad key!': 'x' } } }] }],
        }),
      ),
    );
    assert.equal(res.status, 422, res.body);
    const st = res.json();
    assert.equal(st.reason, 'Invalid');
    const causes = st.details.causes.map((c: any) => `${c.field}: ${c.message}`);
    const want = [
      /^spec\.ingress\[0\]\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive$/,
      /^spec\.ingress\[0\]\.ports\[1\]\.endPort: Invalid value: 80: must be greater than or equal to `port`$/,
      /^spec\.ingress\[0\]\.ports\[2\]\.endPort: Invalid value: 90: may not be specified when `port` is non-numeric$/,
      /^spec\.ingress\[0\]\.ports\[3\]\.protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"$/,
      /^spec\.ingress\[0\]\.ports\[4\]\.endPort: Invalid value: 9: may not be specified when `port` is not specified$/,
      /^spec\.ingress\[0\]\.from\[0\]: Required value: must specify a peer$/,
      /^spec\.ingress\[0\]\.from\[1\]: Forbidden: may not specify both ipBlock and another peer$/,
      /^spec\.ingress\[0\]\.from\[2\]\.ipBlock\.cidr: Invalid value: "10\.0\.0\.0\/33": must be a valid CIDR value/,
      /^spec\.ingress\[0\]\.from\[3\]\.ipBlock\.except\[0\]: Invalid value: "10\.1\.0\.0\/24": must be a strict subset of `cidr`$/,
      /^spec\.ingress\[0\]\.from\[3\]\.ipBlock\.except\[1\]: Invalid value: "10\.0\.0\.0\/16": must be a strict subset of `cidr`$/,
      /^spec\.egress\[0\]\.to\[0\]\.podSelector\.matchLabels: Invalid value: "bad key!"/,
      /^spec\.policyTypes\[1\]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"$/,
    ];
    for (const w of want) assert.ok(causes.some((c: string) => w.test(c)), `${w} in\n${causes.join('\n')}`);
    assert.equal(causes.length, want.length, causes.join('\n'));
    // kubectl shows the same; a good policy with a port range and an ipBlock is accepted.
    const r = await apply(policy({ ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The NetworkPolicy "bad" is invalid: spec\.ingress\[0\]\.ports\[0\]\.endPort: Invalid value: 90: may not be specified when `port` is non-numeric/);
    const good = await apply(policy({ ingress: [{ ports: [{ port: 8000, endPort: 8080 }], from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }] }));
    assert.equal(good.code, 0, good.stderr);
  });

  it('Ingresses may point at missing Services and Secrets (served as 503 / default certificate); malformed ones are 422', async () => {
    const ing = (name: string, spec: object) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name }, spec });
    const dangling = await apply(ing('dangling', { tls: [{ hosts: ['a.example'], secretName: 'nope' }], rules: [{ host: 'a.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'missing', port: { number: 80 } } } }] } }] }));
    assert.equal(dangling.code, 0, dangling.stderr);
    const r = await apply(ing('broken', { rules: [{ host: 'A_B', http: { paths: [{ path: 'relative', pathType: 'Sideways', backend: { service: { name: 'x', port: { number: 80, name: 'http' } } } }] } }] }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Ingress "broken" is invalid/);
    assert.match(r.stderr, /spec\.rules\[0\]\.host: Invalid value: "A_B"/);
    assert.match(r.stderr, /spec\.rules\[0\]\.http\.paths\[0\]\.pathType: Unsupported value: "Sideways"/);
  });

  it('an Ingress without a class gets the default IngressClass (the newest of several); one with a class or the legacy annotation keeps it', async () => {
    const cls = (name: string, isDefault: boolean) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name, annotations: isDefault ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {} }, spec: { controller: 'example.com/ingress' } });
    const classOf = async (name: string) => (await srv.kubectl(['get', 'ingress', name, '-o', 'jsonpath={.spec.ingressClassName}'])).stdout;
    const create = async (args: string[]) => assert.equal((await srv.kubectl(['create', 'ingress', ...args])).code, 0);
    await create(['before-any', '--rule', 'x.example/*=web:80']);
    assert.equal(await classOf('before-any'), '', 'no default class: left unset');
    assert.equal((await apply(cls('old-default', true))).code, 0);
    assert.equal((await apply(cls('other', false))).code, 0);
    await create(['plain', '--rule', 'x.example/*=web:80']);
    assert.equal(await classOf('plain'), 'old-default');
    assert.match((await srv.kubectl(['get', 'ingress', 'plain'])).stdout, /plain\s+old-default\s+x\.example/);
    await create(['chosen', '--class', 'other', '--rule', 'x.example/*=web:80']);
    assert.equal(await classOf('chosen'), 'other');
    const legacy = await apply({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'legacy', annotations: { 'kubernetes.io/ingress.class': 'other' } }, spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } } });
    assert.equal(legacy.code, 0, legacy.stderr);
    assert.equal(await classOf('legacy'), '');
    // Creation timestamps have second precision: the second default is made a second later.
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await apply(cls('new-default', true))).code, 0);
    await create(['newest', '--rule', 'x.example/*=web:80']);
    assert.equal(await classOf('newest'), 'new-default');
  });

  it('the kubernetes Service has an EndpointSlice with the server\'s address, kept right across restarts', async () => {
    const slice = async () => JSON.parse((await srv.kubectl(['get', 'endpointslice', 'kubernetes', '-o', 'json'])).stdout);
    const s = await slice();
    assert.equal(s.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
    assert.deepEqual(s.endpoints.map((e: any) => [e.addresses, e.conditions.ready]), [[['127.0.0.1'], true]]);
    assert.deepEqual(s.ports, [{ name: 'https', port: srv.port, protocol: 'TCP' }]);
    // Someone breaks it; a restart repairs it.
    const broken = await srv.kubectl(['patch', 'endpointslice', 'kubernetes', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/ports/0/port', value: 1 }])]);
    assert.equal(broken.code, 0, broken.stderr);
    await srv.restart();
    assert.equal((await slice()).ports[0].port, srv.port);
  });
});
