// Acceptance: kubectl apply of a multi-document manifest (created / unchanged / configured),
// kubectl diff, and server-side apply with conflicts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';

const ok = (r: { code: number; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, `kubectl failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
};

export function manifest(ns: string, replicas = 2): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: ${ns}
data:
  mode: production
  level: info
---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
  namespace: ${ns}
type: Opaque
data:
  token: c2VjcmV0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: ${ns}
  labels:
    app: app
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
      - name: app
        image: registry.local/app:1.0
        ports:
        - containerPort: 8080
          name: http
        env:
        - name: MODE
          valueFrom:
            configMapKeyRef:
              name: app-config
              key: mode
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
          limits:
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: ${ns}
spec:
  selector:
    app: app
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app
  namespace: ${ns}
spec:
  rules:
  - host: app.example.test
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: app
            port:
              number: 80
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
  namespace: ${ns}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: registry.local/report:1.0
            args: ["--daily"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: ${ns}
rules:
- apiGroups: [""]
  resources: ["pods", "configmaps"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader-binding
  namespace: ${ns}
subjects:
- kind: ServiceAccount
  name: default
  namespace: ${ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: reader
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: ${ns}-high
value: 100000
globalDefault: false
description: high priority for ${ns}
`;
}

const KINDS = [
  /^namespace\/(\S+) (\w+)$/m,
  /^configmap\/app-config (\w+)$/m,
  /^secret\/app-secret (\w+)$/m,
  /^deployment\.apps\/app (\w+)$/m,
  /^service\/app (\w+)$/m,
  /^ingress\.networking\.k8s\.io\/app (\w+)$/m,
  /^cronjob\.batch\/report (\w+)$/m,
  /^role\.rbac\.authorization\.k8s\.io\/reader (\w+)$/m,
  /^rolebinding\.rbac\.authorization\.k8s\.io\/reader-binding (\w+)$/m,
  /^priorityclass\.scheduling\.k8s\.io\/\S+ (\w+)$/m,
];

function verdicts(out: string): string[] {
  return KINDS.map((re) => {
    const m = re.exec(out);
    assert.ok(m, `no line for ${re} in:\n${out}`);
    return m[m.length - 1];
  });
}

export function kubectlApply(srv: () => K8tsServer, ns: string): void {
  const k = (args: string[], opts?: Parameters<K8tsServer['kubectl']>[1]) => srv().kubectl(args, opts);

  test('apply: created, then unchanged, diff, then configured', async () => {
    const first = ok(await k(['apply', '-f', '-'], { input: manifest(ns) }));
    assert.deepEqual(verdicts(first), Array(10).fill('created'));
    const again = ok(await k(['apply', '-f', '-'], { input: manifest(ns) }));
    assert.deepEqual(verdicts(again), Array(10).fill('unchanged'));

    const diff = await k(['diff', '-f', '-'], { input: manifest(ns, 4) });
    assert.equal(diff.code, 1, `kubectl diff should exit 1 when there are changes:\n${diff.stderr}`);
    assert.match(diff.stdout, /^-\s+replicas: 2$/m);
    assert.match(diff.stdout, /^\+\s+replicas: 4$/m);
    // The diff was a dry run: nothing changed.
    const d0 = JSON.parse(ok(await k(['get', 'deploy', 'app', '-n', ns, '-o', 'json'])));
    assert.equal(d0.spec.replicas, 2);

    const third = ok(await k(['apply', '-f', '-'], { input: manifest(ns, 4) }));
    const v = verdicts(third);
    assert.equal(v[3], 'configured');
    assert.deepEqual(v.filter((_, i) => i !== 3), Array(9).fill('unchanged'));
    const d = JSON.parse(ok(await k(['get', 'deploy', 'app', '-n', ns, '-o', 'json'])));
    assert.equal(d.spec.replicas, 4);
    assert.equal(d.metadata.generation, 2);
    const noDiff = await k(['diff', '-f', '-'], { input: manifest(ns, 4) });
    assert.equal(noDiff.code, 0, noDiff.stdout + noDiff.stderr);
  });

  test('get of the applied kinds prints upstream columns', async () => {
    const cj = ok(await k(['get', 'cronjob', '-n', ns]));
    assert.match(cj, /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE/m);
    assert.match(cj, /^report\s+\*\/5 \* \* \* \*\s+<none>\s+False\s+0\s+<none>\s+\S+$/m);
    const ing = ok(await k(['get', 'ingress', '-n', ns]));
    assert.match(ing, /^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE/m);
    assert.match(ing, /^app\s+<none>\s+app\.example\.test\s+80\s+\S+$/m);
    const svc = ok(await k(['get', 'svc', '-n', ns]));
    assert.match(svc, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE/m);
    const rb = ok(await k(['get', 'rolebinding', '-n', ns, '-o', 'wide']));
    assert.match(rb, /^reader-binding\s+Role\/reader\s+\S+\s+\s*\S*/m);
    const pc = ok(await k(['get', 'priorityclass', `${ns}-high`]));
    assert.match(pc, /^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY/m);
    assert.match(pc, new RegExp(`^${ns}-high\\s+100000\\s+false\\s+\\S+\\s+PreemptLowerPriority$`, 'm'));
  });

  test('server-side apply: managed fields, conflicts, --force-conflicts', async () => {
    const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: ${ns}\ndata:\n  owner: ${v}\n`;
    const created = ok(await k(['apply', '--server-side', '-f', '-'], { input: cm('one') }));
    assert.match(created, /configmap\/ssa serverside-applied/);
    const obj = JSON.parse(ok(await k(['get', 'cm', 'ssa', '-n', ns, '-o', 'json', '--show-managed-fields'])));
    const entry = obj.metadata.managedFields.find((m: any) => m.manager === 'kubectl'); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.ok(entry, JSON.stringify(obj.metadata.managedFields));
    assert.equal(entry.operation, 'Apply');
    assert.deepEqual(entry.fieldsV1, { 'f:data': { 'f:owner': {} } });
    const conflict = await k(['apply', '--server-side', '--field-manager', 'other', '-f', '-'], { input: cm('two') });
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /Apply failed with 1 conflict: conflict with "kubectl" using v1: \.data\.owner/);
    ok(await k(['apply', '--server-side', '--field-manager', 'other', '--force-conflicts', '-f', '-'], { input: cm('two') }));
    const after = JSON.parse(ok(await k(['get', 'cm', 'ssa', '-n', ns, '-o', 'json'])));
    assert.equal(after.data.owner, 'two');
  });
}
