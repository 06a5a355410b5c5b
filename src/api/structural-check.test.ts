import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appsV1Resources } from './builtin/apps-v1.js';
import { canonicalizeQuantities, structuralCheck } from './structural-check.js';

const deployment = appsV1Resources.find((d) => d.kind === 'Deployment')!;
const body = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'x', labels: { a: 'b' } },
  spec: { replicas: 2, selector: { matchLabels: { a: 'b' } }, strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: 1 } }, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], resources: { limits: { cpu: 1, memory: '1Gi' } } }] } } },
});

test('a valid object has no unknown fields and no type error', () => {
  assert.deepEqual(structuralCheck(body(), deployment.schema, { prune: false }), { unknownFields: [], typeError: undefined });
});

test('unknown fields are reported with upstream paths and pruned when asked', () => {
  const b: any = body(); // eslint-disable-line @typescript-eslint/no-explicit-any
  b.bogus = 1;
  b.spec.template.spec.containers[0].imagee = 'x';
  b.metadata.labelz = {};
  const r = structuralCheck(b, deployment.schema, { prune: true });
  assert.deepEqual(r.unknownFields.sort(), ['bogus', 'metadata.labelz', 'spec.template.spec.containers[0].imagee']);
  assert.equal(b.bogus, undefined);
  assert.equal(b.spec.template.spec.containers[0].imagee, undefined);
});

test('wrong types give Go-style decode errors', () => {
  const b: any = body(); // eslint-disable-line @typescript-eslint/no-explicit-any
  b.spec.replicas = 'three';
  assert.equal(structuralCheck(b, deployment.schema, { prune: false }).typeError, 'json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
  const c: any = body(); // eslint-disable-line @typescript-eslint/no-explicit-any
  c.spec.template.spec.containers = 'nope';
  assert.match(structuralCheck(c, deployment.schema, { prune: false }).typeError!, /cannot unmarshal string into Go struct field PodSpec\.spec\.template\.spec\.containers of type \[\]v1\.Container/);
  const d: any = body(); // eslint-disable-line @typescript-eslint/no-explicit-any
  d.spec.replicas = 2 ** 40;
  assert.match(structuralCheck(d, deployment.schema, { prune: false }).typeError!, /cannot unmarshal number 1099511627776/);
});

test('quantities are stored in canonical form', async () => {
  const { canonicalQuantity } = await import('../machinery/quantity.js');
  const b: any = body(); // eslint-disable-line @typescript-eslint/no-explicit-any
  b.spec.template.spec.containers[0].resources = { requests: { cpu: '1000m', memory: '1024Mi' }, limits: { cpu: 2, memory: 'bogus' } };
  canonicalizeQuantities(b, deployment.schema, (v) => {
    try {
      return canonicalQuantity(v);
    } catch {
      return undefined;
    }
  });
  assert.deepEqual(b.spec.template.spec.containers[0].resources, { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: 'bogus' } });
});
