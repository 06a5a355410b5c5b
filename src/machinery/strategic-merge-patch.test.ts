import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusError } from './errors.js';
import { goFormat, strategicMergePatch, type PatchSchema } from './strategic-merge-patch.js';

// A slice of the Deployment schema with upstream's patch metadata.
const envVar: PatchSchema = { properties: { name: {}, value: {} } };
const container: PatchSchema = {
  properties: {
    name: {},
    image: {},
    args: { items: {} },
    env: { items: envVar, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' },
    ports: { items: { properties: { containerPort: {}, protocol: {} } }, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'containerPort' },
  },
};
const podSpec: PatchSchema = {
  properties: {
    containers: { items: container, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' },
    volumes: { items: { properties: { name: {} } }, 'x-kubernetes-patch-strategy': 'merge,retainKeys', 'x-kubernetes-patch-merge-key': 'name' },
    nodeSelector: { additionalProperties: {} },
  },
};
const deployment: PatchSchema = {
  properties: {
    metadata: { properties: { finalizers: { items: {}, 'x-kubernetes-patch-strategy': 'merge' }, labels: { additionalProperties: {} } } },
    spec: {
      properties: {
        replicas: {},
        strategy: { properties: { type: {}, rollingUpdate: { properties: { maxSurge: {}, maxUnavailable: {} } } }, 'x-kubernetes-patch-strategy': 'retainKeys' },
        template: { properties: { metadata: {}, spec: podSpec } },
      },
    },
  },
};

const base = () => ({
  metadata: { name: 'web', labels: { app: 'web' }, finalizers: ['a/x'] },
  spec: {
    replicas: 1,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    template: {
      spec: {
        containers: [
          { name: 'app', image: 'nginx:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }] },
          { name: 'sidecar', image: 'busybox', args: ['sleep', '1'] },
        ],
      },
    },
  },
});

const containersOf = (o: unknown) => (o as ReturnType<typeof base>).spec.template.spec.containers;

test('maps merge recursively and null deletes', () => {
  const orig = base();
  const out = strategicMergePatch(orig, { metadata: { labels: { app: null, tier: 'fe' } }, spec: { replicas: 3 } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(out.metadata.labels, { tier: 'fe' });
  assert.equal(out.spec.replicas, 3);
  assert.deepEqual(orig, base(), 'inputs are not modified');
});

test('lists with a merge key merge item by item; new items come first without an order directive', () => {
  const out = strategicMergePatch(base(), { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:2' }, { name: 'new', image: 'redis' }] } } } }, deployment);
  const cs = containersOf(out);
  assert.deepEqual(cs.map((c) => c.name), ['app', 'new', 'sidecar']);
  assert.equal(cs[0].image, 'nginx:2');
  assert.deepEqual(cs[0].env, base().spec.template.spec.containers[0].env, 'untouched fields of a merged item stay');
  const added = strategicMergePatch(base(), { spec: { template: { spec: { containers: [{ name: 'new', image: 'redis' }] } } } }, deployment);
  assert.deepEqual(containersOf(added).map((c) => c.name), ['new', 'app', 'sidecar']);
});

test('kubectl apply patches: $setElementOrder, nested merges, deletions', () => {
  // What kubectl apply sends after the user edits image, adds env C, removes env A and the sidecar, adds a container.
  const patch = {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'app' }, { name: 'log' }],
          containers: [
            { name: 'app', image: 'nginx:3', '$setElementOrder/env': [{ name: 'B' }, { name: 'C' }], env: [{ name: 'C', value: '3' }, { name: 'A', $patch: 'delete' }] },
            { name: 'log', image: 'fluentbit' },
            { name: 'sidecar', $patch: 'delete' },
          ],
        },
      },
    },
  };
  const out = strategicMergePatch(base(), patch, deployment);
  const cs = containersOf(out);
  assert.deepEqual(cs.map((c) => c.name), ['app', 'log']);
  assert.equal(cs[0].image, 'nginx:3');
  assert.deepEqual(cs[0].env, [{ name: 'B', value: '2' }, { name: 'C', value: '3' }]);
  assert.deepEqual(cs[0].ports, [{ containerPort: 80 }]);
  assert.ok(!JSON.stringify(out).includes('$'), 'no directive survives into the object');
});

test('$setElementOrder reorders and keeps server-only items after their predecessors', () => {
  const orig = { list: [{ name: '1' }, { name: '3', v: 3 }, { name: '4' }, { name: '2' }, { name: '9' }] };
  const schema: PatchSchema = { properties: { list: { items: {}, 'x-kubernetes-patch-strategy': 'merge', 'x-kubernetes-patch-merge-key': 'name' } } };
  const out = strategicMergePatch(orig, { '$setElementOrder/list': [{ name: '4' }, { name: '2' }, { name: '3' }, { name: '1' }] }, schema);
  assert.deepEqual((out.list as { name: string }[]).map((x) => x.name), ['4', '2', '3', '1', '9']);
  // Deleting and adding in one patch keeps a server-only item where upstream's in-place merge leaves it.
  const cur = { list: [{ name: '1' }, { name: '2' }, { name: '4' }] };
  const out2 = strategicMergePatch(cur, { '$setElementOrder/list': [{ name: '2' }, { name: '3' }], list: [{ name: '3' }, { name: '1', $patch: 'delete' }] }, schema);
  assert.deepEqual((out2.list as { name: string }[]).map((x) => x.name), ['2', '4', '3']);
});

test('primitive lists: merge strategy is a union, otherwise replaced; $deleteFromPrimitiveList', () => {
  const out = strategicMergePatch(base(), { metadata: { finalizers: ['b/y', 'a/x'] } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(out.metadata.finalizers, ['b/y', 'a/x']);
  const del = strategicMergePatch(base(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['a/x'] } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(del.metadata.finalizers, []);
  const none = strategicMergePatch({ metadata: {} }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a/x'] } }, deployment) as { metadata: object };
  assert.deepEqual(none.metadata, {}, 'deleting from a missing list does not create it');
  const args = strategicMergePatch(base(), { spec: { template: { spec: { containers: [{ name: 'sidecar', args: ['sleep', '2'] }] } } } }, deployment);
  assert.deepEqual(containersOf(args)[1].args, ['sleep', '2']);
});

test('$patch directives: replace a list or a map, delete a map', () => {
  const rep = strategicMergePatch(base(), { spec: { template: { spec: { containers: [{ name: 'only', image: 'x' }, { $patch: 'replace' }] } } } }, deployment);
  assert.deepEqual(containersOf(rep), [{ name: 'only', image: 'x' }]);
  const repMap = strategicMergePatch(base(), { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(repMap.spec.strategy, { type: 'Recreate' });
  const delMap = strategicMergePatch(base(), { spec: { strategy: { $patch: 'delete' } } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(delMap.spec.strategy, {});
  const whole = strategicMergePatch(base(), { $patch: 'replace', kind: 'X' }, deployment);
  assert.deepEqual(whole, { kind: 'X' });
});

test('$retainKeys clears fields the patch does not keep', () => {
  const out = strategicMergePatch(base(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, deployment) as ReturnType<typeof base>;
  assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  assert.throws(() => strategicMergePatch(base(), { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }, deployment), {
    code: 400,
    message: 'invalid patch format of retainKeys',
  });
  assert.throws(() => strategicMergePatch(base(), { spec: { strategy: { $retainKeys: 'type' } } }, deployment), { code: 400 });
});

test('an unknown schema means merge-patch semantics', () => {
  const out = strategicMergePatch({ a: { b: 1, c: [1, 2] } }, { a: { b: null, c: [3], d: { e: null, f: 1 } } }, undefined);
  assert.deepEqual(out, { a: { c: [3], d: { f: 1 } } });
  assert.deepEqual(strategicMergePatch({ a: 1 }, null, undefined), { a: 1 });
});

test('errors map to upstream status codes', () => {
  const err = (patch: unknown) => {
    try {
      strategicMergePatch(base(), patch, deployment);
    } catch (e) {
      assert.ok(e instanceof StatusError);
      return [e.code, e.reason, e.message];
    }
    assert.fail('patch applied');
  };
  assert.deepEqual(err({ spec: { template: { spec: { containers: [{ image: 'x' }] } } } }), [422, 'Invalid', 'map: map[image:x] does not contain declared merge key: name']);
  assert.deepEqual(err({ spec: { template: { spec: { containers: [{ name: 'x', $patch: 'merge' }] } } } }), [422, 'Invalid', 'merging lists cannot yet be specified in the patch']);
  assert.deepEqual(err({ spec: { $patch: 'merge' } }), [422, 'Invalid', 'unknown patch type: merge in map: map[$patch:merge]']);
  assert.deepEqual(err({ metadata: { finalizers: [['a']] } }), [422, 'Invalid', 'list element types are not identical: [[a/x] [[a]]]']);
  assert.throws(() => strategicMergePatch({ metadata: { finalizers: [] } }, { metadata: { finalizers: [['a']] } }, deployment), {
    code: 422,
    reason: 'Invalid',
    message: 'the server rejected our request due to an error in our request',
  });
  assert.deepEqual(err({ metadata: { '$deleteFromPrimitiveListfinalizers': ['a'] } }), [400, 'BadRequest', 'invalid patch format of primitive list']);
  assert.deepEqual(err({ spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'app' }], containers: [{ name: 'app' }, { name: 'sidecar' }] } } } })[0], 422);
  assert.deepEqual(err([1]), [400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}']);
});

test('goFormat prints values as Go %v does', () => {
  assert.equal(goFormat({ b: [1, 'x'], a: null, c: { d: true } }), 'map[a:<nil> b:[1 x] c:map[d:true]]');
  assert.equal(goFormat(1.5), '1.5');
  assert.equal(goFormat(1e-7), '1e-07');
});
