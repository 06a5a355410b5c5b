import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from '../../machinery/errors.js';
import { kubeletURL } from './kubelet-client.js';
import { podProxyTarget, serviceProxyTarget, splitSchemeNamePort } from './resource-proxy.js';
import { matchStreamingRoute, resolveContainer, streamFlags } from './streaming-routes.js';

const pod = (containers: string[], inits: string[] = []) => ({
  metadata: { name: 'web' },
  spec: { containers: containers.map((name) => ({ name, ports: [{ name: 'http', containerPort: 8080 }] })), initContainers: inits.map((name) => ({ name })) },
  status: { podIP: '10.1.2.3' },
});

test('routes: pod subresources, node proxy with its path, pod and service proxies', () => {
  assert.deepEqual(matchStreamingRoute(['namespaces', 'ns', 'pods', 'web', 'exec']), { kind: 'pod', verb: 'exec', namespace: 'ns', name: 'web' });
  assert.deepEqual(matchStreamingRoute(['namespaces', 'ns', 'pods', 'web', 'log']), { kind: 'pod', verb: 'log', namespace: 'ns', name: 'web' });
  assert.equal(matchStreamingRoute(['namespaces', 'ns', 'pods', 'web', 'status']), undefined);
  assert.equal(matchStreamingRoute(['namespaces', 'ns', 'pods', 'web']), undefined);
  assert.deepEqual(matchStreamingRoute(['nodes', 'n1', 'proxy', 'stats', 'summary']), { kind: 'node-proxy', name: 'n1', path: '/stats/summary' });
  assert.deepEqual(matchStreamingRoute(['nodes', 'n1', 'proxy']), { kind: 'node-proxy', name: 'n1', path: '/' });
  assert.deepEqual(matchStreamingRoute(['namespaces', 'ns', 'services', 'https:web:443', 'proxy', 'a', 'b']), { kind: 'service-proxy', namespace: 'ns', id: 'https:web:443', path: '/a/b' });
  assert.deepEqual(matchStreamingRoute(['namespaces', 'ns', 'pods', 'web:8080', 'proxy']), { kind: 'pod-proxy', namespace: 'ns', id: 'web:8080', path: '/' });
});

test('container resolution with upstream messages', () => {
  assert.equal(resolveContainer(pod(['a']) as never, '', 'web'), 'a');
  assert.equal(resolveContainer(pod(['a', 'b'], ['init']) as never, 'init', 'web'), 'init');
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof StatusError);
      assert.equal(e.code, 400);
      return e.message;
    }
    assert.fail('no error');
  };
  assert.equal(err(() => resolveContainer(pod(['a', 'b']) as never, '', 'web')), 'a container name must be specified for pod web, choose one of: [a b]');
  assert.equal(
    err(() => resolveContainer(pod(['a', 'b'], ['i1']) as never, '', 'web')),
    'a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [i1]',
  );
  assert.equal(err(() => resolveContainer(pod(['a']) as never, 'x', 'web')), 'container x is not valid for pod web');
});

test('stream flags accept true, 1 and empty', () => {
  assert.deepEqual(streamFlags(new URLSearchParams('stdin=true&stdout=1&stderr=&tty=false')), { stdin: true, stdout: true, stderr: true, tty: false });
});

test('kubelet URL from the Node: InternalIP first, the reported port or 10250', () => {
  const node = (addresses: { type: string; address: string }[], port?: number) => ({ metadata: { name: 'n' }, status: { addresses, daemonEndpoints: { kubeletEndpoint: { Port: port } } } });
  assert.equal(kubeletURL(node([{ type: 'Hostname', address: 'h' }, { type: 'InternalIP', address: '10.0.0.5' }], 11250) as never).href, 'https://10.0.0.5:11250/');
  assert.equal(kubeletURL(node([{ type: 'Hostname', address: 'h' }]) as never).href, 'https://h:10250/');
  assert.equal(kubeletURL(node([{ type: 'InternalIP', address: 'fd00::1' }], 1) as never).host, '[fd00::1]:1');
  assert.throws(() => kubeletURL(node([]) as never), /has no known addresses/);
});

test('proxy targets: scheme:name:port, named pod ports, service ports to ready endpoints', () => {
  assert.deepEqual(splitSchemeNamePort('web'), { scheme: '', name: 'web', port: '' });
  assert.deepEqual(splitSchemeNamePort('https:web:443'), { scheme: 'https', name: 'web', port: '443' });
  assert.equal(splitSchemeNamePort('a:b:c:d'), undefined);
  assert.deepEqual(podProxyTarget(pod(['a']) as never, '', 'http'), { scheme: 'http', host: '10.1.2.3', port: 8080 });
  // No port: the first port the containers declare, else the scheme's default.
  assert.deepEqual(podProxyTarget(pod(['a']) as never, 'https', ''), { scheme: 'https', host: '10.1.2.3', port: 8080 });
  const bare = { metadata: { name: 'bare' }, spec: { containers: [{ name: 'c' }] }, status: { podIP: '10.1.2.4' } };
  assert.deepEqual(podProxyTarget(bare as never, '', ''), { scheme: 'http', host: '10.1.2.4', port: 80 });
  assert.deepEqual(podProxyTarget(bare as never, 'https', ''), { scheme: 'https', host: '10.1.2.4', port: 443 });
  const svc = { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80 }, { name: 'admin', port: 9000 }] } };
  const eps = { subsets: [{ addresses: [{ ip: '10.1.2.3' }], ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }] }] };
  assert.deepEqual(serviceProxyTarget(svc as never, eps as never, '', 'http'), { scheme: 'http', host: '10.1.2.3', port: 8080 });
  assert.deepEqual(serviceProxyTarget(svc as never, eps as never, '', '9000'), { scheme: 'http', host: '10.1.2.3', port: 9090 });
  assert.throws(() => serviceProxyTarget(svc as never, undefined, '', 'http'), /no endpoints available for service "web"/);
});
