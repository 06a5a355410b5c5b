import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinResources } from './builtin.js';
import { buildOpenAPIV2, buildOpenAPIV3 } from './openapi-builder.js';

test('v3 documents reference named schemas and carry what kubectl checks for', () => {
  const v3 = buildOpenAPIV3(builtinResources(), 'v1.32.0');
  const apps = JSON.parse(v3.docs.get('apis/apps/v1')!.json);
  const dep = apps.components.schemas['io.k8s.api.apps.v1.Deployment'];
  assert.deepEqual(dep['x-kubernetes-group-version-kind'], [{ group: 'apps', version: 'v1', kind: 'Deployment' }]);
  assert.deepEqual(dep.properties.spec, { allOf: [{ $ref: '#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec' }] });
  const strategy = apps.components.schemas['io.k8s.api.apps.v1.DeploymentSpec'].properties.strategy;
  assert.equal(strategy.allOf[0].$ref, '#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy');
  const containers = apps.components.schemas['io.k8s.api.core.v1.PodSpec'].properties.containers;
  assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
  assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
  const patch = apps.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'].patch;
  assert.deepEqual(patch['x-kubernetes-group-version-kind'], { group: 'apps', version: 'v1', kind: 'Deployment' });
  for (const p of ['dryRun', 'fieldManager', 'fieldValidation', 'force']) assert.ok(patch.parameters.some((x: { name: string }) => x.name === p), p);
  assert.ok(v3.docs.has('api/v1'));
  assert.match(v3.docs.get('api/v1')!.hash, /^[0-9A-F]{128}$/);
});

test('v2 uses #/definitions refs and int-or-string as a string format', () => {
  const v2 = buildOpenAPIV2(builtinResources(), 'v1.32.0') as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(v2.swagger, '2.0');
  assert.equal(v2.definitions['io.k8s.api.apps.v1.Deployment'].properties.spec.$ref, '#/definitions/io.k8s.api.apps.v1.DeploymentSpec');
  assert.deepEqual(v2.definitions['io.k8s.apimachinery.pkg.util.intstr.IntOrString'], { format: 'int-or-string', type: 'string' });
});
