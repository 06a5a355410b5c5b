import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { EventRecorder } from '../../client/events.js';
import { R } from '../../client/resources.js';
import { startTestApi, type TestApi } from '../../testing/api-harness.js';
import { ContainerConfigError, expandCommand, makeEnvironment } from './container-env.js';
import { formatMap } from './downward.js';
import { expand, mappingFor } from './expansion.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('$(VAR) expansion', () => {
  const m = mappingFor(new Map([['A', 'x'], ['EMPTY', '']]));
  test('references, escapes and literal leftovers behave as upstream', () => {
    assert.equal(expand('$(A)-$(A)', m), 'x-x');
    assert.equal(expand('$(MISSING)', m), '$(MISSING)');
    assert.equal(expand('$$(A)', m), '$(A)');
    assert.equal(expand('$$$(A)', m), '$x');
    assert.equal(expand('a$b', m), 'a$b');
    assert.equal(expand('$(A', m), '$(A');
    assert.equal(expand('end$', m), 'end$');
    assert.equal(expand('$(EMPTY)!', m), '!');
    assert.equal(expand('$()', m), '$()');
  });
  test('labels format as sorted key="value" lines with Go quoting', () => {
    assert.equal(formatMap({ b: 'two "q"', a: 'one\nline' }), 'a="one\\nline"\nb="two \\"q\\""');
  });
});

describe('container environment against an API server', () => {
  let api: TestApi;
  let client: Client;
  const ns = 'default';
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: ns, uid: 'uid-123', labels: { app: 'web', tier: 'fe' }, annotations: { note: 'hi' } },
    spec: { nodeName: 'node-a', serviceAccountName: 'builder', containers: [] },
    status: {},
  };
  before(async () => {
    api = await startTestApi();
    client = api.client('env-test');
    await client.resource(R.configmaps).create(ns, { metadata: { name: 'cm' }, data: { FOO: 'foo', '1BAD': 'y', LEVEL: 'debug', '2ALSO': 'z' } });
    await client.resource(R.secrets).create(ns, { metadata: { name: 's' }, type: 'Opaque', data: { password: b64('hunter2'), TOKEN: b64('t0k') } });
  });
  after(() => api.stop());

  test('every source, in upstream order, with expansion and service links', async () => {
    const container = {
      name: 'app',
      resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '250m', memory: '128Mi' } },
      envFrom: [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 's' }, prefix: 'S_' }, { configMapRef: { name: 'nope', optional: true } }],
      env: [
        { name: 'PLAIN', value: 'v-$(FOO)-$(S_TOKEN)-$$(FOO)-$(NOPE)' },
        { name: 'LEVEL', value: 'info' },
        { name: 'SVC', value: '$(WEB_SERVICE_HOST):$(WEB_SERVICE_PORT)' },
        { name: 'EMPTY' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'NOTE', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
        { name: 'LABELS', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'POD_IPS', valueFrom: { fieldRef: { fieldPath: 'status.podIPs' } } },
        { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        { name: 'CPU_LIMIT_CORES', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'MEM_REQ_MI', valueFrom: { resourceFieldRef: { resource: 'requests.memory', divisor: '1Mi' } } },
        { name: 'EPH_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.ephemeral-storage', divisor: '1Gi' } } },
        { name: 'CM_KEY', valueFrom: { configMapKeyRef: { name: 'cm', key: 'FOO' } } },
        { name: 'OPT_KEY', valueFrom: { configMapKeyRef: { name: 'cm', key: 'NOPE', optional: true } } },
        { name: 'SECRET_KEY', valueFrom: { secretKeyRef: { name: 's', key: 'password' } } },
        { name: 'OPT_SECRET', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
        { name: 'WEB_SERVICE_PORT', value: 'overridden' },
      ],
    };
    const p = { ...pod, spec: { ...pod.spec, containers: [container] } };
    const services: KubeObject[] = [
      { metadata: { name: 'web', namespace: ns }, spec: { clusterIP: '10.43.0.10', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns-udp', port: 53, protocol: 'UDP' }] } },
      { metadata: { name: 'headless', namespace: ns }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
    ];
    const recorder = new EventRecorder(client, 'kubelet', 'node-a');
    const env = await makeEnvironment(p, container, {
      client,
      services,
      masterServiceIP: '10.43.0.1',
      masterServicePort: 443,
      podIP: '10.42.0.7',
      podIPs: ['10.42.0.7', 'fd00::7'],
      hostIP: '192.168.1.5',
      nodeName: 'node-a',
      allocatable: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' },
      recorder,
    });
    const keys = env.map((e) => e.key);
    const get = (k: string) => env.find((e) => e.key === k)?.value;
    assert.equal(new Set(keys).size, keys.length, 'no duplicates');
    // envFrom first (keys sorted, invalid ones skipped), then env, then service links.
    assert.deepEqual(keys.slice(0, 4), ['FOO', 'LEVEL', 'S_TOKEN', 'S_password']);
    assert.equal(get('2ALSO'), undefined);
    assert.equal(get('1BAD'), undefined);
    assert.equal(get('LEVEL'), 'info', 'env overrides envFrom');
    assert.equal(get('PLAIN'), 'v-foo-t0k-$(FOO)-$(NOPE)');
    assert.equal(get('SVC'), '10.43.0.10:80');
    assert.equal(get('EMPTY'), '');
    assert.equal(get('POD_NAME'), 'web-1');
    assert.equal(get('POD_NS'), 'default');
    assert.equal(get('POD_UID'), 'uid-123');
    assert.equal(get('APP'), 'web');
    assert.equal(get('NOTE'), 'hi');
    assert.equal(get('LABELS'), 'app="web"\ntier="fe"');
    assert.equal(get('NODE'), 'node-a');
    assert.equal(get('SA'), 'builder');
    assert.equal(get('HOST_IP'), '192.168.1.5');
    assert.equal(get('POD_IP'), '10.42.0.7');
    assert.equal(get('POD_IPS'), '10.42.0.7,fd00::7');
    assert.equal(get('CPU_LIMIT'), '500');
    assert.equal(get('CPU_LIMIT_CORES'), '1', 'rounded up');
    assert.equal(get('MEM_REQ_MI'), '128');
    assert.equal(get('EPH_LIMIT'), '100', 'unset limit: node allocatable');
    assert.equal(get('CM_KEY'), 'foo');
    assert.equal(keys.includes('OPT_KEY'), false);
    assert.equal(keys.includes('OPT_SECRET'), false);
    assert.equal(get('SECRET_KEY'), 'hunter2');
    assert.equal(get('WEB_SERVICE_PORT'), 'overridden');
    assert.equal(get('WEB_SERVICE_HOST'), '10.43.0.10');
    assert.equal(get('WEB_SERVICE_PORT_HTTP'), '80');
    assert.equal(get('WEB_SERVICE_PORT_DNS_UDP'), '53');
    assert.equal(get('WEB_PORT'), 'tcp://10.43.0.10:80');
    assert.equal(get('WEB_PORT_80_TCP'), 'tcp://10.43.0.10:80');
    assert.equal(get('WEB_PORT_80_TCP_PROTO'), 'tcp');
    assert.equal(get('WEB_PORT_80_TCP_PORT'), '80');
    assert.equal(get('WEB_PORT_80_TCP_ADDR'), '10.43.0.10');
    assert.equal(get('WEB_PORT_53_UDP'), 'udp://10.43.0.10:53');
    assert.equal(keys.some((k) => k.startsWith('HEADLESS_')), false);
    assert.equal(get('KUBERNETES_SERVICE_HOST'), '10.43.0.1');
    assert.equal(get('KUBERNETES_SERVICE_PORT'), '443');
    assert.equal(get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
    assert.equal(get('KUBERNETES_PORT_443_TCP'), 'tcp://10.43.0.1:443');
    assert.ok(keys.indexOf('WEB_SERVICE_HOST') > keys.indexOf('OPT_SECRET') || keys.indexOf('WEB_SERVICE_HOST') > keys.indexOf('SECRET_KEY'));

    assert.deepEqual(expandCommand(['sh', '-c', 'echo $(POD_NAME) $$(POD_NAME) $(UNSET)'], env), ['sh', '-c', 'echo web-1 $(POD_NAME) $(UNSET)']);

    // The skipped keys are reported as a Warning event on the pod.
    const deadline = Date.now() + 5000;
    let ev: KubeObject | undefined;
    while (!ev && Date.now() < deadline) {
      ev = (await client.resource(R.events).list(ns)).items.find((e) => e.reason === 'InvalidEnvironmentVariableNames');
      if (!ev) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(ev?.message, 'Keys [1BAD, 2ALSO] from the EnvFrom configMap default/cm were skipped since they are considered invalid environment variable names.');
    assert.equal(ev?.type, 'Warning');
  });

  test('enableServiceLinks: false keeps only the kubernetes variables', async () => {
    const container = { name: 'app' };
    const p = { ...pod, spec: { ...pod.spec, enableServiceLinks: false, containers: [container] } };
    const env = await makeEnvironment(p, container, {
      client,
      services: [{ metadata: { name: 'web', namespace: ns }, spec: { clusterIP: '10.43.0.10', ports: [{ port: 80 }] } }],
      masterServiceIP: '10.43.0.1',
    });
    assert.deepEqual(
      env.map((e) => e.key),
      ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBERNETES_SERVICE_PORT_HTTPS', 'KUBERNETES_PORT', 'KUBERNETES_PORT_443_TCP', 'KUBERNETES_PORT_443_TCP_PROTO', 'KUBERNETES_PORT_443_TCP_PORT', 'KUBERNETES_PORT_443_TCP_ADDR'],
    );
  });

  test('missing objects and keys give upstream CreateContainerConfigError messages', async () => {
    const cases: [unknown, string][] = [
      [{ envFrom: [{ configMapRef: { name: 'missing' } }] }, 'configmap "missing" not found'],
      [{ envFrom: [{ secretRef: { name: 'gone' } }] }, 'secret "gone" not found'],
      [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'NOPE' } } }] }, "couldn't find key NOPE in ConfigMap default/cm"],
      [{ env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm2', key: 'k' } } }] }, 'configmap "cm2" not found'],
      [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, "couldn't find key k in Secret default/s"],
      [{ env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 's2', key: 'k' } } }] }, 'secret "s2" not found'],
      [{ env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: 'spec.bogus' } } }] }, 'unsupported fieldPath: spec.bogus'],
    ];
    for (const [extra, message] of cases) {
      const container = { name: 'app', ...(extra as object) };
      await assert.rejects(makeEnvironment(pod, container, { client }), (e: unknown) => {
        assert.ok(e instanceof ContainerConfigError);
        assert.equal(e.reason, 'CreateContainerConfigError');
        assert.equal(e.message, message);
        return true;
      });
    }
  });
});
