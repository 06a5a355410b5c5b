// Acceptance: the everyday kubectl commands against a running k8ts server.

import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, `kubectl failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
};

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
`;

export function kubectlBasics(srv: () => K8tsServer, ns: string): void {
  const k = (args: string[], opts?: Parameters<K8tsServer['kubectl']>[1]) => srv().kubectl(args, opts);

  test('get ns lists the four system namespaces', async () => {
    const out = ok(await k(['get', 'ns', '-o', 'name']));
    for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(out, new RegExp(`^namespace/${n}$`, 'm'));
    const table = ok(await k(['get', 'ns']));
    assert.match(table, /^NAME\s+STATUS\s+AGE/m);
    assert.match(table, /^default\s+Active\s+\d+s/m);
  });

  test('version, cluster-info, api-versions and api-resources', async () => {
    const v = ok(await k(['version', '-o', 'json']));
    const vj = JSON.parse(v);
    assert.equal(vj.serverVersion.major, '1');
    assert.equal(vj.serverVersion.minor, '32');
    const ci = ok(await k(['cluster-info']));
    assert.match(ci, /Kubernetes control plane.* is running at .*https:\/\/127\.0\.0\.1:\d+/);
    const av = ok(await k(['api-versions'])).split('\n');
    for (const gv of ['v1', 'apps/v1', 'batch/v1', 'autoscaling/v1', 'autoscaling/v2', 'networking.k8s.io/v1', 'policy/v1', 'rbac.authorization.k8s.io/v1', 'coordination.k8s.io/v1', 'discovery.k8s.io/v1', 'events.k8s.io/v1', 'storage.k8s.io/v1', 'scheduling.k8s.io/v1', 'apiextensions.k8s.io/v1']) {
      assert.ok(av.includes(gv), `api-versions lacks ${gv}: ${av.join(' ')}`);
    }
    const ar = ok(await k(['api-resources']));
    assert.match(ar, /^NAME\s+SHORTNAMES\s+APIVERSION\s+NAMESPACED\s+KIND/m);
    assert.match(ar, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    assert.match(ar, /^pods\s+po\s+v1\s+true\s+Pod$/m);
    assert.match(ar, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
    assert.match(ar, /^horizontalpodautoscalers\s+hpa\s+autoscaling\/v2\s+true\s+HorizontalPodAutoscaler$/m);
    assert.match(ar, /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false\s+CustomResourceDefinition$/m);
  });

  test('create configmap and secret, get in every output format', async () => {
    ok(await k(['create', 'configmap', 'cfg', '-n', ns, '--from-literal=a=1', '--from-literal=b=two']));
    ok(await k(['create', 'secret', 'generic', 'sec', '-n', ns, '--from-literal=password=s3cret']));
    const cm = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.deepEqual(cm.data, { a: '1', b: 'two' });
    assert.match(cm.metadata.uid, /^[0-9a-f-]{36}$/);
    const sec = JSON.parse(ok(await k(['get', 'secret', 'sec', '-n', ns, '-o', 'json'])));
    assert.equal(Buffer.from(sec.data.password, 'base64').toString(), 's3cret');
    assert.equal(sec.type, 'Opaque');
    const y = ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'yaml']));
    assert.match(y, /^ {2}a: "1"$/m);
    assert.equal(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'jsonpath={.data.b}'])), 'two');
    const cc = ok(await k(['get', 'cm', '-n', ns, '-o', 'custom-columns=NAME:.metadata.name,A:.data.a']));
    assert.match(cc, /^NAME\s+A\n/);
    assert.match(cc, /^cfg\s+1$/m);
    const t = ok(await k(['get', 'cm', '-n', ns]));
    assert.match(t, /^NAME\s+DATA\s+AGE/m);
    assert.match(t, /^cfg\s+2\s+/m);
    const st = ok(await k(['get', 'secrets', '-n', ns]));
    assert.match(st, /^sec\s+Opaque\s+1\s+/m);
  });

  test('every typed `kubectl create` (sent as protobuf) works', async () => {
    const pki = join(srv().dataDir, 'tls');
    const cmds = [
      ['create', 'service', 'clusterip', 'cs', '--tcp=80:8080'],
      ['create', 'service', 'nodeport', 'ns1', '--tcp=80:8080'],
      ['create', 'deployment', 'cd', '--image=registry.local/app:1', '--port=80', '--replicas=0'],
      ['create', 'job', 'cj1', '--image=registry.local/app:1', '--', 'echo', 'hi'],
      ['create', 'cronjob', 'cc', '--image=registry.local/app:1', '--schedule=@hourly', '--', 'echo', 'hi'],
      ['create', 'role', 'cr', '--verb=get', '--resource=pods'],
      ['create', 'rolebinding', 'crb', '--role=cr', '--user=bob'],
      ['create', 'quota', 'cq', '--hard=pods=10,requests.cpu=1'],
      ['create', 'poddisruptionbudget', 'cpdb', '--selector=app=x', '--min-available=1'],
      ['create', 'ingress', 'cing', '--rule=a.example.test/=cs:80'],
      ['create', 'serviceaccount', 'csa'],
      ['create', 'secret', 'tls', 'ctls', `--cert=${join(pki, 'serving-kube-apiserver.crt')}`, `--key=${join(pki, 'serving-kube-apiserver.key')}`],
      ['create', 'secret', 'docker-registry', 'cdr', '--docker-server=registry.local', '--docker-username=u', '--docker-password=p'],
    ];
    for (const c of cmds) ok(await k(['-n', ns, ...c]));
    ok(await k(['create', 'clusterrole', `${ns}-ccr`, '--verb=list', '--resource=nodes']));
    ok(await k(['create', 'clusterrolebinding', `${ns}-ccrb`, `--clusterrole=${ns}-ccr`, '--group=devs']));
    ok(await k(['create', 'priorityclass', `${ns}-cpc`, '--value=1000']));
    const ing = JSON.parse(ok(await k(['get', 'ingress', 'cing', '-n', ns, '-o', 'json'])));
    assert.equal(ing.spec.rules[0].http.paths[0].backend.service.name, 'cs');
    const svc = JSON.parse(ok(await k(['get', 'svc', 'cs', '-n', ns, '-o', 'json'])));
    assert.deepEqual(svc.spec.ports, [{ name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 }]);
    const dep = JSON.parse(ok(await k(['get', 'deploy', 'cd', '-n', ns, '-o', 'json'])));
    assert.equal(dep.spec.replicas, 0);
    assert.equal(dep.spec.template.spec.containers[0].ports[0].containerPort, 80);
    const job = JSON.parse(ok(await k(['get', 'job', 'cj1', '-n', ns, '-o', 'json'])));
    assert.deepEqual(job.spec.template.spec.containers[0].command, ['echo', 'hi']);
    assert.equal(job.spec.template.spec.restartPolicy, 'Never');
  });

  test('deployment: apply, get -o wide, describe, scale through the scale subresource', async () => {
    ok(await k(['apply', '-n', ns, '-f', '-'], { input: DEPLOY }));
    const wide = ok(await k(['get', 'deploy', 'web', '-n', ns, '-o', 'wide']));
    assert.match(wide, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR/m);
    assert.match(wide, /^web\s+0\/2\s+0\s+0\s+\S+\s+nginx\s+nginx:1\.27\s+app=web$/m);
    const d = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', ns, '-o', 'json'])));
    assert.equal(d.spec.strategy.type, 'RollingUpdate');
    assert.equal(d.spec.strategy.rollingUpdate.maxSurge, '25%');
    assert.equal(d.spec.revisionHistoryLimit, 10);
    assert.equal(d.spec.progressDeadlineSeconds, 600);
    assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.equal(d.spec.template.spec.restartPolicy, 'Always');
    assert.equal(d.metadata.generation, 1);
    ok(await k(['scale', 'deploy', 'web', '-n', ns, '--replicas=5']));
    const d2 = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', ns, '-o', 'json'])));
    assert.equal(d2.spec.replicas, 5);
    assert.equal(d2.metadata.generation, 2);
    const desc = ok(await k(['describe', 'deploy', 'web', '-n', ns]));
    assert.match(desc, /^Name:\s+web$/m);
    assert.match(desc, /^Replicas:\s+5 desired/m);
    assert.match(desc, /^StrategyType:\s+RollingUpdate$/m);
  });

  test('label, annotate, patch (strategic, merge, json), replace', async () => {
    ok(await k(['label', 'cm', 'cfg', '-n', ns, 'tier=backend']));
    ok(await k(['annotate', 'cm', 'cfg', '-n', ns, 'note=hello']));
    let cm = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.equal(cm.metadata.labels.tier, 'backend');
    assert.equal(cm.metadata.annotations.note, 'hello');
    ok(await k(['label', 'cm', 'cfg', '-n', ns, 'tier-']));
    cm = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.equal(cm.metadata.labels?.tier, undefined);

    ok(await k(['patch', 'deploy', 'web', '-n', ns, '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}']));
    ok(await k(['patch', 'cm', 'cfg', '-n', ns, '--type', 'merge', '-p', '{"data":{"c":"3","a":null}}']));
    ok(await k(['patch', 'cm', 'cfg', '-n', ns, '--type', 'json', '-p', '[{"op":"add","path":"/data/d","value":"4"}]']));
    const d = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', ns, '-o', 'json'])));
    assert.equal(d.spec.template.spec.containers.length, 1);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.equal(d.spec.template.spec.containers[0].ports[0].containerPort, 80);
    cm = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.deepEqual(cm.data, { b: 'two', c: '3', d: '4' });

    const bad = await k(['patch', 'cm', 'cfg', '-n', ns, '--type', 'json', '-p', '[{"op":"remove","path":"/data/nope"}]']);
    assert.notEqual(bad.code, 0);

    cm.data = { replaced: 'yes' };
    delete cm.metadata.resourceVersion;
    ok(await k(['replace', '-f', '-'], { input: JSON.stringify(cm) }));
    const cm2 = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.deepEqual(cm2.data, { replaced: 'yes' });
  });

  test('edit with EDITOR set to a script', async () => {
    const script = join(srv().dataDir, 'editor.sh');
    writeFileSync(script, '#!/bin/sh\nsed -i "s/replaced: .*/replaced: edited/" "$1"\n');
    chmodSync(script, 0o755);
    ok(await k(['edit', 'cm', 'cfg', '-n', ns], { env: { EDITOR: script, KUBE_EDITOR: script } }));
    const cm = JSON.parse(ok(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'json'])));
    assert.equal(cm.data.replaced, 'edited');
  });

  test('explain deployment.spec.strategy', async () => {
    const out = ok(await k(['explain', 'deployment.spec.strategy']));
    assert.match(out, /^GROUP:\s+apps$/m);
    assert.match(out, /^KIND:\s+Deployment$/m);
    assert.match(out, /^VERSION:\s+v1$/m);
    assert.match(out, /^FIELD: strategy <DeploymentStrategy>$/m);
    assert.match(out, /rollingUpdate\s+<RollingUpdateDeployment>/);
    assert.match(out, /type\s+<string>/);
  });

  test('kubectl 1.27 to 1.33 list, create and explain (discovery v2beta1/v2, OpenAPI v2 protobuf/v3)', async () => {
    for (const minor of [27, 28, 29, 30, 31, 33]) {
      const bin = `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
      assert.match(ok(await k(['get', 'ns', 'default', '-o', 'name'], { bin })), /^namespace\/default$/m, `kubectl 1.${minor}`);
      ok(await k(['create', 'configmap', `minor-${minor}`, '-n', ns, '--from-literal=v=1'], { bin }));
      const ex = ok(await k(['explain', 'deployment.spec.strategy'], { bin }));
      assert.match(ex, /rollingUpdate\s+<RollingUpdateDeployment>/, `kubectl 1.${minor} explain`);
    }
  });

  test('delete by label, by name and --all', async () => {
    for (const n of ['d1', 'd2', 'd3']) ok(await k(['create', 'configmap', n, '-n', ns, '--from-literal=x=y']));
    ok(await k(['label', 'cm', 'd1', 'd2', '-n', ns, 'gone=yes']));
    const del = ok(await k(['delete', 'cm', '-n', ns, '-l', 'gone=yes']));
    assert.match(del, /configmap "d1" deleted/);
    assert.match(del, /configmap "d2" deleted/);
    const left = ok(await k(['get', 'cm', '-n', ns, '-o', 'name']));
    assert.match(left, /configmap\/d3/);
    assert.doesNotMatch(left, /configmap\/d1/);
    ok(await k(['delete', 'cm', 'd3', '-n', ns]));
    const gone = await k(['get', 'cm', 'd3', '-n', ns]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /Error from server \(NotFound\): configmaps "d3" not found/);
    ok(await k(['delete', 'secret', '-n', ns, '--all']));
    assert.equal(ok(await k(['get', 'secret', '-n', ns, '-o', 'name'])).trim(), '');
  });
}
