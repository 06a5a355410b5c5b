import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { applyJsonPatch, applyMergePatch } from './patch.js';
import { strategicMergePatch, type PatchSchema } from './smp.js';

const container: PatchSchema = {
  properties: {
    ports: { items: {}, 'x-kubernetes-patch-merge-key': 'containerPort', 'x-kubernetes-patch-strategy': 'merge' },
    env: { items: {}, 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
    args: { items: {} },
  },
};
const schema: PatchSchema = {
  properties: {
    metadata: { properties: { finalizers: { items: {}, 'x-kubernetes-patch-strategy': 'merge' }, labels: { additionalProperties: {} } } },
    spec: {
      properties: {
        strategy: { 'x-kubernetes-patch-strategy': 'retainKeys', properties: { rollingUpdate: {}, type: {} } },
        containers: { items: container, 'x-kubernetes-patch-merge-key': 'name', 'x-kubernetes-patch-strategy': 'merge' },
      },
    },
  },
};

const live = () => ({
  metadata: { labels: { a: '1', b: '2' }, finalizers: ['x'] },
  spec: {
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
    containers: [
      { name: 'app', image: 'app:1', ports: [{ containerPort: 80 }], args: ['a', 'b'] },
      { name: 'side', image: 'side:1' },
    ],
  },
});

test('merges list items by their merge key and keeps the rest', () => {
  const out = strategicMergePatch(live(), { spec: { containers: [{ name: 'app', image: 'app:2', ports: [{ containerPort: 8080 }] }] } }, schema) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(out.spec.containers.length, 2);
  assert.equal(out.spec.containers[0].image, 'app:2');
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80 }, { containerPort: 8080 }]);
  assert.deepEqual(out.spec.containers[0].args, ['a', 'b']);
});

test('non-merge lists are replaced; null deletes; primitive merge lists are unions', () => {
  const out = strategicMergePatch(live(), { metadata: { labels: { a: null, c: '3' }, finalizers: ['y'] }, spec: { containers: [{ name: 'app', args: ['z'] }] } }, schema) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
  assert.deepEqual(out.metadata.finalizers, ['x', 'y']);
  assert.deepEqual(out.spec.containers[0].args, ['z']);
});

test('directives: $patch delete/replace, $setElementOrder, $deleteFromPrimitiveList, $retainKeys', () => {
  let out = strategicMergePatch(live(), { spec: { containers: [{ name: 'side', $patch: 'delete' }] } }, schema) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(out.spec.containers.map((c: { name: string }) => c.name), ['app']);
  out = strategicMergePatch(live(), { spec: { containers: [{ name: 'only', image: 'o' }, { $patch: 'replace' }] } }, schema);
  assert.deepEqual(out.spec.containers, [{ name: 'only', image: 'o' }]);
  out = strategicMergePatch(live(), { spec: { $setElementOrder: undefined, '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }], containers: [{ name: 'app', image: 'app:3' }] } }, schema);
  assert.deepEqual(out.spec.containers.map((c: { name: string }) => c.name), ['side', 'app']);
  out = strategicMergePatch(live(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }, schema);
  assert.deepEqual(out.metadata.finalizers, []);
  out = strategicMergePatch(live(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, schema);
  assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  out = strategicMergePatch(live(), { spec: { $patch: 'replace', containers: [] } }, schema);
  assert.deepEqual(out.spec, { containers: [] });
});

test('what kubectl apply sends for a changed image applies cleanly', () => {
  const patch = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: { template: undefined, '$setElementOrder/containers': [{ name: 'app' }, { name: 'side' }], containers: [{ image: 'app:9', name: 'app' }] },
  };
  const out = strategicMergePatch(live(), patch, schema) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(out.spec.containers[0].image, 'app:9');
  assert.equal(out.spec.containers[1].image, 'side:1');
});

test('a list item without its merge key is rejected with 422', () => {
  assert.throws(() => strategicMergePatch(live(), { spec: { containers: [{ image: 'x' }] } }, schema), (e: unknown) => e instanceof StatusError && e.code === 422);
});

test('JSON patch and merge patch', () => {
  assert.deepEqual(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/b', value: 2 }, { op: 'remove', path: '/a' }]), { b: 2 });
  assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '/zz' }]), (e: unknown) => e instanceof StatusError && e.code === 422);
  assert.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]), (e: unknown) => e instanceof StatusError && e.code === 422);
  assert.throws(() => applyJsonPatch({ a: 1 }, { op: 'add' }), (e: unknown) => e instanceof StatusError && e.code === 400);
  assert.deepEqual(applyMergePatch({ a: { b: 1, c: 2 }, l: [1, 2] }, { a: { b: null, d: 3 }, l: [3] }), { a: { c: 2, d: 3 }, l: [3] });
});
