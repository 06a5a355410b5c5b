// Acceptance: what the API server does for the control plane: Service ClusterIP and NodePort
// allocation (through kubectl create service / expose, across concurrent creates and a restart),
// pods/binding, pod status writes, and pods/eviction against a PodDisruptionBudget (raw and via
// kubectl drain).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { RawClient } from '../../testing/raw-client.js';

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, `kubectl failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
};

const inServiceRange = (ip: string) => /^10\.43\.\d{1,3}\.\d{1,3}$/.test(ip) && ip !== '10.43.0.0' && ip !== '10.43.255.255';
const inPortRange = (p: number) => Number.isInteger(p) && p >= 30000 && p <= 32767;

export function servicesBinding(srv: () => K8tsServer, ns: string): void {
  const k = (args: string[]) => srv().kubectl([...args, '-n', ns]);
  let raw: RawClient;
  const api = `/api/v1/namespaces/${ns}`;
  const merge = { 'content-type': 'application/merge-patch+json' };
  const getSvc = async (name: string) => JSON.parse(ok(await k(['get', 'svc', name, '-o', 'json'])));
  const pod = (name: string, labels: Record<string, string> = {}, nodeName?: string) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { nodeName, containers: [{ name: 'c', image: 'registry.local/c:1' }] } });

  test('setup', async () => {
    raw = new RawClient(srv().kubeconfig);
    assert.equal((await raw.request('POST', '/api/v1/namespaces', JSON.stringify({ metadata: { name: ns } }))).status, 201);
  });

  test('kubectl create service nodeport gets a ClusterIP and a nodePort in range', async () => {
    ok(await k(['create', 'service', 'nodeport', 'web', '--tcp=80:8080']));
    const s = await getSvc('web');
    assert.ok(inServiceRange(s.spec.clusterIP), s.spec.clusterIP);
    assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);
    assert.deepEqual(s.spec.ipFamilies, ['IPv4']);
    assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
    assert.ok(inPortRange(s.spec.ports[0].nodePort), String(s.spec.ports[0].nodePort));
    const table = ok(await k(['get', 'svc', 'web']));
    assert.match(table, new RegExp(`^web\\s+NodePort\\s+${s.spec.clusterIP.replace(/\./g, '\\.')}\\s+<none>\\s+80:${s.spec.ports[0].nodePort}/TCP`, 'm'));
  });

  test('kubectl expose gets a ClusterIP; an update keeps it; headless gets None', async () => {
    ok(await k(['create', 'deployment', 'api', '--image=registry.local/api:1']));
    ok(await k(['expose', 'deployment', 'api', '--port=80', '--target-port=8080']));
    const s = await getSvc('api');
    assert.ok(inServiceRange(s.spec.clusterIP), s.spec.clusterIP);
    assert.equal(s.spec.ports[0].nodePort, undefined);
    ok(await k(['label', 'svc', 'api', 'tier=backend']));
    ok(await k(['patch', 'svc', 'api', '--type=merge', '-p', '{"spec":{"ports":[{"port":81,"targetPort":8080}]}}']));
    assert.equal((await getSvc('api')).spec.clusterIP, s.spec.clusterIP);
    ok(await k(['create', 'service', 'clusterip', 'headless', '--clusterip=None']));
    const h = await getSvc('headless');
    assert.equal(h.spec.clusterIP, 'None');
  });

  test('a requested nodePort or ClusterIP that is taken or out of range gets the 422', async () => {
    const taken = (await getSvc('web')).spec.ports[0].nodePort;
    const dup = await k(['create', 'service', 'nodeport', 'dup', '--tcp=80:8080', `--node-port=${taken}`]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, new RegExp(`Service "dup" is invalid: spec.ports\\[0\\].nodePort: Invalid value: ${taken}: provided port is already allocated`));
    const out = await k(['create', 'service', 'nodeport', 'low', '--tcp=80:8080', '--node-port=8080']);
    assert.match(out.stderr, /spec.ports\[0\].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767/);
    ok(await k(['create', 'service', 'clusterip', 'fixed', '--clusterip=10.43.0.5', '--tcp=80:80']));
    assert.equal((await getSvc('fixed')).spec.clusterIP, '10.43.0.5');
    const dupIP = await k(['create', 'service', 'clusterip', 'fixed2', '--clusterip=10.43.0.5', '--tcp=80:80']);
    assert.match(dupIP.stderr, /Service "fixed2" is invalid: spec.clusterIPs: Invalid value: \[\]string\{"10.43.0.5"\}: failed to allocate IP 10.43.0.5: provided IP is already allocated/);
    const kube = await k(['create', 'service', 'clusterip', 'kube2', '--clusterip=10.43.0.1', '--tcp=80:80']);
    assert.match(kube.stderr, /failed to allocate IP 10.43.0.1: provided IP is already allocated/, 'the kubernetes Service holds 10.43.0.1');
    const range = await k(['create', 'service', 'clusterip', 'far', '--clusterip=10.99.0.5', '--tcp=80:80']);
    assert.match(range.stderr, /the provided IP \(10.99.0.5\) is not in the valid range. The range of valid IPs is 10.43.0.0\/16/);
  });

  test('deleting a Service frees its IP and port at once; a type change to ClusterIP frees the nodePort', async () => {
    const s = await getSvc('web');
    const port = s.spec.ports[0].nodePort;
    ok(await k(['delete', 'svc', 'fixed']));
    ok(await k(['create', 'service', 'clusterip', 'fixed', '--clusterip=10.43.0.5', '--tcp=80:80']));
    ok(await k(['patch', 'svc', 'web', '--type=merge', '-p', '{"spec":{"type":"ClusterIP"}}']));
    const after = await getSvc('web');
    assert.equal(after.spec.ports[0].nodePort, undefined);
    assert.equal(after.spec.clusterIP, s.spec.clusterIP);
    ok(await k(['create', 'service', 'nodeport', 'reuse', '--tcp=80:8080', `--node-port=${port}`]));
  });

  test('concurrent creates get distinct IPs and nodePorts', async () => {
    const body = (i: number) => JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: `par-${i}` }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
    const res = await Promise.all(Array.from({ length: 20 }, (_, i) => raw.request('POST', `${api}/services`, body(i))));
    for (const r of res) assert.equal(r.status, 201, r.body);
    const svcs = res.map((r) => r.json());
    assert.equal(new Set(svcs.map((s) => s.spec.clusterIP)).size, 20);
    assert.equal(new Set(svcs.map((s) => s.spec.ports[0].nodePort)).size, 20);
    const all = JSON.parse(ok(await srv().kubectl(['get', 'svc', '-A', '-o', 'json']))).items;
    const ips = all.map((s: { spec: { clusterIP: string } }) => s.spec.clusterIP).filter((ip: string) => ip !== 'None');
    assert.equal(new Set(ips).size, ips.length, 'no two Services share an IP');
  });

  test('after a restart the allocations are rebuilt from the stored Services', async () => {
    const port = (await getSvc('reuse')).spec.ports[0].nodePort;
    await srv().restart();
    raw.close();
    raw = new RawClient(srv().kubeconfig);
    const dupIP = await k(['create', 'service', 'clusterip', 'fixed3', '--clusterip=10.43.0.5', '--tcp=80:80']);
    assert.match(dupIP.stderr, /provided IP is already allocated/);
    const dupPort = await k(['create', 'service', 'nodeport', 'dup2', '--tcp=80:8080', `--node-port=${port}`]);
    assert.match(dupPort.stderr, /provided port is already allocated/);
    assert.equal(ok(await srv().kubectl(['get', 'svc', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}'])), '10.43.0.1');
  });

  test('discovery lists pods/binding, pods/eviction and bindings', async () => {
    const v1 = (await raw.request('GET', '/api/v1')).json();
    const byName = new Map(v1.resources.map((r: { name: string }) => [r.name, r]));
    assert.deepEqual(byName.get('pods/binding'), { name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
    assert.deepEqual(byName.get('pods/eviction'), { name: 'pods/eviction', singularName: '', namespaced: true, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    assert.deepEqual((byName.get('bindings') as { verbs: string[] }).verbs, ['create']);
    const agg = (await raw.request('GET', '/api', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })).json();
    const pods = agg.items[0].versions[0].resources.find((r: { resource: string }) => r.resource === 'pods');
    const subs = pods.subresources.map((s: { subresource: string }) => s.subresource);
    for (const s of ['attach', 'binding', 'eviction', 'exec', 'log', 'portforward', 'proxy', 'status']) assert.ok(subs.includes(s), `pods/${s} in ${subs}`);
    assert.deepEqual([...subs].sort(), subs, 'sorted as upstream');
    assert.deepEqual(pods.subresources.find((s: { subresource: string }) => s.subresource === 'eviction').responseKind, { group: 'policy', version: 'v1', kind: 'Eviction' });
  });

  test('pods/binding sets spec.nodeName once and marks the pod scheduled', async () => {
    assert.equal((await raw.request('POST', `${api}/pods`, pod('b1'))).status, 201);
    const bind = (name: string, node: string, path = `${api}/pods/${name}/binding`) =>
      raw.request('POST', path, JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: node } }));
    const r = await bind('b1', 'node-1');
    assert.equal(r.status, 201, r.body);
    assert.deepEqual(r.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    const wide = ok(await k(['get', 'pod', 'b1', '-o', 'wide']));
    assert.match(wide, /^b1\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-1\s/m);
    const p = (await raw.request('GET', `${api}/pods/b1`)).json();
    assert.equal(p.spec.nodeName, 'node-1');
    const cond = p.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled');
    assert.equal(cond.status, 'True');
    const again = await bind('b1', 'node-2');
    assert.equal(again.status, 409);
    assert.equal(again.json().message, 'Operation cannot be fulfilled on pods/binding "b1": pod b1 is already assigned to node "node-1"');
    const mismatch = await raw.request('POST', `${api}/pods/b1/binding`, JSON.stringify({ metadata: { name: 'other' }, target: { name: 'n' } }));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json().message, 'name in URL does not match name in Binding object');
    assert.equal((await bind('missing', 'node-1')).status, 404);
    // The legacy bindings resource: the pod is named by the body.
    assert.equal((await raw.request('POST', `${api}/pods`, pod('b2'))).status, 201);
    const legacy = await bind('b2', 'node-2', `${api}/bindings`);
    assert.equal(legacy.status, 201, legacy.body);
    assert.equal((await raw.request('GET', `${api}/pods/b2`)).json().spec.nodeName, 'node-2');
    assert.equal((await raw.request('GET', `${api}/bindings`)).status, 405);
    assert.equal((await raw.request('GET', `${api}/pods/b2/binding`)).status, 405);
  });

  test('pods/status writes carry phase, IPs, conditions and container statuses', async () => {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = {
      status: {
        phase: 'Running',
        podIP: '10.42.0.7',
        podIPs: [{ ip: '10.42.0.7' }],
        hostIP: '192.168.1.10',
        hostIPs: [{ ip: '192.168.1.10' }],
        startTime: now,
        conditions: [
          { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: now },
          { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        ],
        containerStatuses: [{ name: 'c', image: 'registry.local/c:1', imageID: '', ready: true, restartCount: 0, started: true, state: { running: { startedAt: now } } }],
      },
    };
    const r = await raw.request('PATCH', `${api}/pods/b1/status?fieldValidation=Strict`, JSON.stringify(status), { 'content-type': 'application/strategic-merge-patch+json' });
    assert.equal(r.status, 200, r.body);
    const p = r.json();
    assert.equal(p.status.phase, 'Running');
    assert.equal(p.status.hostIP, '192.168.1.10');
    assert.equal(p.status.containerStatuses[0].ready, true);
    assert.ok(p.status.conditions.some((c: { type: string }) => c.type === 'PodScheduled'), 'the binding condition stays');
    const wide = ok(await k(['get', 'pod', 'b1', '-o', 'wide']));
    assert.match(wide, /^b1\s+1\/1\s+Running\s+0\s+\S+\s+10\.42\.0\.7\s+node-1\s/m);
    // nodes/status too.
    const node = await raw.request('POST', '/api/v1/nodes', JSON.stringify({ metadata: { name: 'node-1' } }));
    assert.equal(node.status, 201, node.body);
    const ns = await raw.request('PATCH', '/api/v1/nodes/node-1/status', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: now, lastTransitionTime: now }], addresses: [{ type: 'InternalIP', address: '192.168.1.10' }] } }), { 'content-type': 'application/strategic-merge-patch+json' });
    assert.equal(ns.status, 200, ns.body);
    assert.match(ok(await srv().kubectl(['get', 'node', 'node-1'])), /^node-1\s+Ready\s/m);
  });

  test('eviction honours a PodDisruptionBudget', async () => {
    const running = async (name: string) => {
      assert.equal((await raw.request('POST', `${api}/pods`, pod(name, { app: 'db' }, 'node-1'))).status, 201);
      const st = { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };
      assert.equal((await raw.request('PATCH', `${api}/pods/${name}/status`, JSON.stringify(st), merge)).status, 200);
    };
    await running('db-0');
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'db' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'db' } } } };
    assert.equal((await raw.request('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, JSON.stringify(pdb))).status, 201);
    const evict = (name: string, extra: Record<string, unknown> = {}) =>
      raw.request('POST', `${api}/pods/${name}/eviction`, JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name }, ...extra }));

    // The budget controller has not looked at the budget yet.
    const early = await evict('db-0');
    assert.equal(early.status, 429, early.body);
    assert.equal(early.json().details.causes[0].message, 'The disruption budget db is still being processed by the server.');

    const setStatus = (allowed: number) =>
      raw.request('PATCH', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/db/status`, JSON.stringify({ status: { observedGeneration: 1, disruptionsAllowed: allowed, currentHealthy: allowed + 1, desiredHealthy: 1, expectedPods: allowed + 1 } }), merge);
    assert.equal((await setStatus(0)).status, 200);
    const blocked = await evict('db-0');
    assert.equal(blocked.status, 429, blocked.body);
    const st = blocked.json();
    assert.equal(st.reason, 'TooManyRequests');
    assert.equal(st.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(st.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget db needs 1 healthy pods and has 1 currently' }]);

    // kubectl drain evicts through the same subresource and keeps hitting the budget.
    const drain = await srv().kubectl(['drain', 'node-1', '--pod-selector=app=db', '--timeout=3s', '--ignore-daemonsets', '--force'], { timeoutMs: 20_000 });
    assert.notEqual(drain.code, 0);
    assert.match(drain.stdout + drain.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
    ok(await srv().kubectl(['uncordon', 'node-1']));

    await running('db-1');
    assert.equal((await setStatus(1)).status, 200);
    const allowed = await evict('db-0', { deleteOptions: { gracePeriodSeconds: 0 } });
    assert.equal(allowed.status, 201, allowed.body);
    assert.deepEqual(allowed.json(), { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
    assert.equal((await raw.request('GET', `${api}/pods/db-0`)).status, 404, 'deleted with the grace period from deleteOptions');
    const after = (await raw.request('GET', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/db`)).json();
    assert.equal(after.status.disruptionsAllowed, 0);
    assert.ok(after.status.disruptedPods['db-0']);
    assert.equal(after.status.conditions.find((c: { type: string }) => c.type === 'DisruptionAllowed').reason, 'InsufficientPods');
    assert.equal((await evict('db-1')).status, 429, 'the budget is used up');

    // Pending pods go without a budget check; so do v1beta1 evictions of them.
    assert.equal((await raw.request('POST', `${api}/pods`, pod('db-pending', { app: 'db' }))).status, 201);
    const pend = await raw.request('POST', `${api}/pods/db-pending/eviction`, JSON.stringify({ apiVersion: 'policy/v1beta1', kind: 'Eviction', metadata: { name: 'db-pending' } }));
    assert.equal(pend.status, 201, pend.body);
    assert.equal((await raw.request('GET', `${api}/pods/db-pending`)).status, 404);

    // Two budgets over one pod: upstream refuses with a 500 Status.
    const pdb2 = { ...pdb, metadata: { name: 'db2' } };
    assert.equal((await raw.request('POST', `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`, JSON.stringify(pdb2))).status, 201);
    const two = await evict('db-1');
    assert.equal(two.status, 500);
    assert.equal(two.json().message, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  });

  test('cleanup', async () => {
    // No kubelet finishes the bound pods' graceful deletion here: remove them at once.
    ok(await srv().kubectl(['delete', 'pods', '--all', '-n', ns, '--grace-period=0', '--force']));
    ok(await srv().kubectl(['delete', 'ns', ns, '--timeout=30s']));
    await raw.request('DELETE', '/api/v1/nodes/node-1');
    raw.close();
  });
}
