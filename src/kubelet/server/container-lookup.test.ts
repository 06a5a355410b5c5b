import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectContainerInstance, type ContainerInstance } from './container-lookup.js';

const inst = (id: string, attempt: number, state: ContainerInstance['status']['state']): ContainerInstance => ({
  id,
  attempt,
  status: { state, log_path: `/logs/c/${attempt}.log`, reason: '' },
});

test('picks the newest instance, the previous exited one, or says why not', () => {
  const sel = (instances: ContainerInstance[], previous = false) => selectContainerInstance({ podName: 'web', container: 'c', instances, previous });
  assert.deepEqual(sel([inst('a', 0, 'CONTAINER_EXITED'), inst('b', 1, 'CONTAINER_RUNNING')]), { containerId: 'b', logPath: '/logs/c/1.log' });
  assert.deepEqual(sel([inst('b', 1, 'CONTAINER_RUNNING'), inst('a', 0, 'CONTAINER_EXITED')], true), { containerId: 'a', logPath: '/logs/c/0.log' });
  assert.equal(sel([inst('b', 0, 'CONTAINER_RUNNING')], true), 'previous terminated container "c" in pod "web" not found');
  assert.equal(sel([]), 'container "c" in pod "web" is waiting to start: ContainerCreating');
  assert.deepEqual(sel([inst('a', 0, 'CONTAINER_EXITED')]), { containerId: 'a', logPath: '/logs/c/0.log' });
  assert.deepEqual(sel([inst('a', 0, 'CONTAINER_EXITED'), inst('b', 1, 'CONTAINER_CREATED')]), { containerId: 'a', logPath: '/logs/c/0.log' });
});
