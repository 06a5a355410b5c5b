import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appsV1Resources } from '../../api/builtin/apps-v1.js';
import { coreV1Resources } from '../../api/builtin/core-v1.js';
import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { defaultFieldManager, serverSideApply, trackUpdate } from './managed-fields.js';

const deploy = appsV1Resources.find((d) => d.kind === 'Deployment')!;
const cms = coreV1Resources.find((d) => d.kind === 'ConfigMap')!;

const applied = (replicas: number, image = 'app:1'): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'ns', labels: { app: 'web' } },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 80, protocol: 'TCP' }] }] } } },
});

test('apply creates the object and records the applier with upstream FieldsV1 paths', () => {
  const out = serverSideApply({ def: deploy, live: undefined, applied: applied(2), manager: 'kubectl', force: false, subresource: '' });
  assert.equal(out.spec.replicas, 2);
  const [entry] = out.metadata.managedFields!;
  assert.equal(entry.manager, 'kubectl');
  assert.equal(entry.operation, 'Apply');
  const fs = entry.fieldsV1 as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.deepEqual(fs['f:metadata'], { 'f:labels': { 'f:app': {} } });
  assert.deepEqual(fs['f:spec']['f:replicas'], {});
  const container = fs['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"app"}'];
  assert.deepEqual(container['.'], {});
  assert.ok(container['f:ports']['k:{"containerPort":80,"protocol":"TCP"}']);
});

test('another manager that changes an owned field conflicts with upstream wording; force takes it over', () => {
  const live = serverSideApply({ def: deploy, live: undefined, applied: applied(2), manager: 'kubectl', force: false, subresource: '' });
  assert.throws(
    () => serverSideApply({ def: deploy, live, applied: applied(5), manager: 'hpa', force: false, subresource: '' }),
    (e: unknown) => e instanceof StatusError && e.code === 409 && e.message === 'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas' && e.details?.causes?.[0]?.field === '.spec.replicas',
  );
  const forced = serverSideApply({ def: deploy, live, applied: applied(5), manager: 'hpa', force: true, subresource: '' });
  assert.equal(forced.spec.replicas, 5);
  const kubectl = forced.metadata.managedFields!.find((m) => m.manager === 'kubectl')!.fieldsV1 as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(kubectl['f:spec']['f:replicas'], undefined);
  // Same value from a second manager: shared ownership, no conflict.
  assert.doesNotThrow(() => serverSideApply({ def: deploy, live, applied: applied(2), manager: 'other', force: false, subresource: '' }));
});

test('a field the applier stops applying is removed when nobody else owns it', () => {
  const cm = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns' }, data });
  const live = serverSideApply({ def: cms, live: undefined, applied: cm({ a: '1', b: '2' }), manager: 'm1', force: false, subresource: '' });
  const next = serverSideApply({ def: cms, live, applied: cm({ a: '1' }), manager: 'm1', force: false, subresource: '' });
  assert.deepEqual(next.data, { a: '1' });
});

test('updates move ownership of the changed fields to the writer', () => {
  const old: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns' }, data: { a: '1' } };
  trackUpdate({ obj: old, old: undefined, def: cms, manager: 'kubectl-create', userAgent: '', operation: 'Update', subresource: '', now: new Date(0) });
  assert.deepEqual(old.metadata.managedFields![0].fieldsV1, { 'f:data': { '.': {}, 'f:a': {} } });
  const next: KubeObject = structuredClone(old);
  next.data = { a: '2' };
  trackUpdate({ obj: next, old, def: cms, manager: undefined, userAgent: 'kubectl-edit/v1.32.4 (linux/amd64)', operation: 'Update', subresource: '', now: new Date(0) });
  const byManager = Object.fromEntries(next.metadata.managedFields!.map((m) => [m.manager, m.fieldsV1]));
  assert.deepEqual(byManager['kubectl-edit'], { 'f:data': { 'f:a': {} } });
  assert.deepEqual(byManager['kubectl-create'], { 'f:data': { '.': {} } });
  assert.equal(defaultFieldManager('kubectl-edit/v1.32.4 (linux/amd64)'), 'kubectl-edit');
});
