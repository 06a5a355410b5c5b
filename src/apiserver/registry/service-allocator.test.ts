import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { patchServiceUpdate } from '../../api/builtin/service-fields.js';
import { StatusError } from '../../machinery/errors.js';
import { IPv4Range, PortRange, pickFree, ServiceAllocator } from './service-allocator.js';

/** A stand-in for the watch cache: the "stored" Services and the revision the view has reached. */
function world(cidr = '10.43.0.0/16', ports = '30000-32767') {
  const stored = new Map<string, KubeObject>();
  let revision = 0;
  const alloc = new ServiceAllocator({ clusterIPRange: cidr, nodePortRange: ports, services: () => stored.values(), revision: () => revision });
  /** Creates like the REST store: allocate, "write" at the next revision, commit; the cache catches up later. */
  const create = (svc: KubeObject, { seen = true } = {}) => {
    const txn = alloc.allocateCreate(svc, false);
    revision++;
    txn.commit(revision + (seen ? 0 : 1000));
    if (seen) stored.set(svc.metadata.name!, structuredClone(svc));
    return svc;
  };
  return {
    alloc,
    stored,
    create,
    setRevision: (r: number) => (revision = r),
    get revision() {
      return revision;
    },
  };
}

const svc = (name: string, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: name }, ...spec },
});

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof StatusError, String(e));
    return e;
  }
  assert.fail('expected an error');
}

describe('ranges', () => {
  test('IPv4 ranges skip the network and broadcast addresses and keep a static band', () => {
    const r = new IPv4Range('10.43.0.0/16');
    assert.equal(r.size, 65534);
    assert.equal(r.staticSize, 256);
    assert.equal(r.offsetOf(0x0a2b0000), undefined, 'network address');
    assert.equal(r.offsetOf(0x0a2bffff), undefined, 'broadcast address');
    assert.equal(r.offsetOf(0x0a2b0001), 0);
    assert.equal(String(new IPv4Range('10.43.7.9/16')), '10.43.0.0/16');
    assert.throws(() => new IPv4Range('10.43.0.0'), /invalid service CIDR/);
    assert.equal(new IPv4Range('10.0.0.0/29').staticSize, 0);
  });

  test('port ranges', () => {
    const p = new PortRange('30000-32767');
    assert.equal(p.size, 2768);
    assert.equal(p.staticSize, 86);
    assert.ok(p.contains(30000) && p.contains(32767) && !p.contains(29999) && !p.contains(32768));
    assert.equal(String(p), '30000-32767');
    assert.throws(() => new PortRange('32767-30000'));
  });

  test('pickFree prefers the upper band, then falls back to the lower one', () => {
    const range = { size: 10, staticSize: 4 };
    assert.equal(pickFree(range, () => false, () => 0), 4);
    assert.equal(pickFree(range, (o) => o >= 4, () => 0.5), 2);
    assert.equal(pickFree(range, () => true), undefined);
  });
});

describe('ClusterIP allocation', () => {
  test('allocates from the range and sets the single-stack family fields', () => {
    const w = world();
    const s = w.create(svc('a'));
    assert.match(s.spec.clusterIP, /^10\.43\.\d+\.\d+$/);
    assert.deepEqual(s.spec.clusterIPs, [s.spec.clusterIP]);
    assert.deepEqual(s.spec.ipFamilies, ['IPv4']);
    assert.equal(s.spec.ipFamilyPolicy, 'SingleStack');
    const last = Number(s.spec.clusterIP.split('.')[2]);
    assert.ok(last >= 1, 'dynamic IPs come from above the static band (10.43.1.0 and up)');
  });

  test('honours a requested IP and rejects a taken or out-of-range one with upstream messages', () => {
    const w = world();
    const s = w.create(svc('a', { clusterIP: '10.43.0.5', clusterIPs: ['10.43.0.5'] }));
    assert.equal(s.spec.clusterIP, '10.43.0.5');
    const dup = statusOf(() => w.alloc.allocateCreate(svc('b', { clusterIP: '10.43.0.5', clusterIPs: ['10.43.0.5'] }), false));
    assert.equal(dup.code, 422);
    assert.equal(dup.message, 'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.5"}: failed to allocate IP 10.43.0.5: provided IP is already allocated');
    const out = statusOf(() => w.alloc.allocateCreate(svc('c', { clusterIP: '10.44.0.5', clusterIPs: ['10.44.0.5'] }), false));
    assert.equal(
      out.message,
      'Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.5"}: failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
    );
    const bcast = statusOf(() => w.alloc.allocateCreate(svc('d', { clusterIP: '10.43.255.255', clusterIPs: ['10.43.255.255'] }), false));
    assert.match(bcast.message, /not in the valid range/);
  });

  test('headless Services get no IP; selectorless headless ones default to RequireDualStack as upstream', () => {
    const w = world();
    const h = w.create(svc('h', { clusterIP: 'None', clusterIPs: ['None'] }));
    assert.equal(h.spec.clusterIP, 'None');
    assert.deepEqual(h.spec.ipFamilies, ['IPv4']);
    assert.equal(h.spec.ipFamilyPolicy, 'SingleStack');
    const hs = w.create(svc('hs', { clusterIP: 'None', clusterIPs: ['None'], selector: undefined }));
    assert.equal(hs.spec.ipFamilyPolicy, 'RequireDualStack');
    assert.deepEqual(hs.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.equal(w.alloc.usage().ips, 0);
    const ext = w.create(svc('e', { type: 'ExternalName', externalName: 'example.com' }));
    assert.equal(ext.spec.clusterIP, undefined);
    assert.equal(ext.spec.ipFamilies, undefined);
  });

  test('concurrent creates (reserved, not yet stored) never share an IP; a full range is an internal error', () => {
    const w = world('10.0.0.0/29'); // 6 usable addresses
    const seen = new Set<string>();
    const txns = [];
    for (let i = 0; i < 6; i++) {
      const s = svc(`s${i}`);
      txns.push(w.alloc.allocateCreate(s, false));
      seen.add(s.spec.clusterIP);
    }
    assert.equal(seen.size, 6);
    const full = statusOf(() => w.alloc.allocateCreate(svc('s7'), false));
    assert.equal(full.code, 500);
    assert.equal(full.message, 'Internal error occurred: failed to allocate a serviceIP: range is full');
    // A failed write gives its IP back.
    txns[0].revert();
    assert.doesNotThrow(() => w.alloc.allocateCreate(svc('s8'), false));
  });

  test('a dry run reports an IP but reserves nothing', () => {
    const w = world('10.0.0.0/30'); // 2 usable addresses
    const a = svc('a');
    w.alloc.allocateCreate(a, true).revert();
    assert.ok(a.spec.clusterIP);
    assert.equal(w.alloc.usage().ips, 0);
  });

  test('a reservation lasts until the cache has caught up with the write', () => {
    const w = world('10.0.0.0/30');
    w.create(svc('a'), { seen: false }); // stored at revision+1000, not in the cache yet
    assert.equal(w.alloc.usage().ips, 1, 'held by the reservation');
    w.setRevision(w.revision + 1000);
    assert.equal(w.alloc.usage().ips, 0, 'the cache caught up and no stored Service holds it (e.g. deleted meanwhile)');
  });

  test('after a restart the state is rebuilt from the stored Services', () => {
    const w = world();
    const a = w.create(svc('a'));
    const b = w.create(svc('b', { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }));
    const restarted = new ServiceAllocator({ clusterIPRange: '10.43.0.0/16', nodePortRange: '30000-32767', services: () => w.stored.values(), revision: () => w.revision });
    assert.deepEqual(restarted.usage(), { ips: 2, ports: 1 });
    const dup = statusOf(() => restarted.allocateCreate(svc('c', { clusterIP: a.spec.clusterIP }), false));
    assert.match(dup.message, /provided IP is already allocated/);
    const dupPort = statusOf(() => restarted.allocateCreate(svc('d', { type: 'NodePort', ports: [{ port: 81, protocol: 'TCP', nodePort: 30080 }] }), false));
    assert.equal(dupPort.message, 'Service "d" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    assert.ok(b.spec.clusterIP !== a.spec.clusterIP);
    // Deleting a stored Service frees its values.
    w.stored.delete('a');
    assert.doesNotThrow(() => restarted.allocateCreate(svc('c', { clusterIP: a.spec.clusterIP }), false));
  });
});

describe('NodePort allocation', () => {
  test('NodePort and LoadBalancer ports get a nodePort in range; ClusterIP ones do not', () => {
    const w = world();
    const np = w.create(svc('np', { type: 'NodePort', ports: [{ name: 'a', port: 80, protocol: 'TCP' }, { name: 'b', port: 443, protocol: 'TCP' }] }));
    const [p0, p1] = np.spec.ports;
    assert.ok(p0.nodePort >= 30086 && p0.nodePort <= 32767, 'dynamic ports come from above the static band');
    assert.ok(p1.nodePort >= 30000 && p1.nodePort <= 32767 && p1.nodePort !== p0.nodePort);
    const lb = w.create(svc('lb', { type: 'LoadBalancer' }));
    assert.ok(lb.spec.ports[0].nodePort);
    const noPorts = w.create(svc('lb2', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false }));
    assert.equal(noPorts.spec.ports[0].nodePort, undefined);
    const local = w.create(svc('lb3', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    assert.ok(local.spec.healthCheckNodePort >= 30000);
    assert.equal(w.create(svc('c')).spec.ports[0].nodePort, undefined);
  });

  test('one service port number over two protocols shares one nodePort', () => {
    const w = world();
    const s = w.create(svc('dns', { type: 'NodePort', ports: [{ name: 'udp', port: 53, protocol: 'UDP' }, { name: 'tcp', port: 53, protocol: 'TCP' }] }));
    assert.equal(s.spec.ports[0].nodePort, s.spec.ports[1].nodePort);
  });

  test('requested ports are checked for range and conflicts', () => {
    const w = world();
    w.create(svc('a', { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }));
    const dup = statusOf(() => w.alloc.allocateCreate(svc('b', { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }), false));
    assert.equal(dup.code, 422);
    assert.equal(dup.message, 'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    assert.equal(dup.details?.causes?.[0].field, 'spec.ports[0].nodePort');
    const out = statusOf(() => w.alloc.allocateCreate(svc('c', { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', nodePort: 8080 }] }), false));
    assert.equal(out.message, 'Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767');
    // The failed create reserved nothing: its ClusterIP is free again.
    assert.equal(w.alloc.usage().ips, 1);
  });

  test('concurrent creates never share a nodePort', () => {
    const w = world('10.43.0.0/16', '30000-30009');
    const got = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const s = svc(`s${i}`, { type: 'NodePort' });
      w.alloc.allocateCreate(s, false);
      got.add(s.spec.ports[0].nodePort);
    }
    assert.equal(got.size, 10);
    const full = statusOf(() => w.alloc.allocateCreate(svc('x', { type: 'NodePort' }), false));
    assert.equal(full.message, 'Internal error occurred: failed to allocate a nodePort: range is full');
  });
});

describe('updates', () => {
  test('a type change to NodePort allocates; back to ClusterIP drops the unchanged nodePorts', () => {
    const w = world();
    const old = w.create(svc('a'));
    const next = structuredClone(old);
    next.spec.type = 'NodePort';
    patchServiceUpdate(next, old);
    w.alloc.allocateUpdate(next, old, false).commit(w.revision + 1);
    assert.ok(next.spec.ports[0].nodePort >= 30000);
    assert.equal(next.spec.clusterIP, old.spec.clusterIP);
    const back = structuredClone(next);
    back.spec.type = 'ClusterIP';
    patchServiceUpdate(back, next);
    assert.equal(back.spec.ports[0].nodePort, undefined);
    assert.equal(back.spec.clusterIP, old.spec.clusterIP);
  });

  test('values the client leaves out are kept; a changed nodePort is checked', () => {
    const w = world();
    const old = w.create(svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }));
    w.create(svc('b', { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP', nodePort: 31000 }] }));
    const next = svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] });
    patchServiceUpdate(next, old);
    assert.equal(next.spec.clusterIP, old.spec.clusterIP);
    assert.equal(next.spec.ports[0].nodePort, old.spec.ports[0].nodePort, 'matched by port name');
    assert.doesNotThrow(() => w.alloc.allocateUpdate(next, old, false).revert(), 'keeping its own port is no conflict');
    const taken = svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 31000 }] });
    patchServiceUpdate(taken, old);
    const err = statusOf(() => w.alloc.allocateUpdate(taken, old, false));
    assert.match(err.message, /spec.ports\[0\].nodePort: Invalid value: 31000: provided port is already allocated/);
  });

  test('ExternalName to ClusterIP allocates an IP; the reverse drops it', () => {
    const w = world();
    const old = w.create(svc('a', { type: 'ExternalName', externalName: 'example.com' }));
    const next = svc('a');
    patchServiceUpdate(next, old);
    w.alloc.allocateUpdate(next, old, false).revert();
    assert.match(next.spec.clusterIP, /^10\.43\./);
    assert.deepEqual(next.spec.ipFamilies, ['IPv4']);
    const ext = structuredClone(next);
    ext.spec.type = 'ExternalName';
    ext.spec.externalName = 'example.com';
    patchServiceUpdate(ext, next);
    assert.equal(ext.spec.clusterIP, undefined);
    assert.equal(ext.spec.ipFamilies, undefined);
  });
});
