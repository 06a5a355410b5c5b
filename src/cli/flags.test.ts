import assert from 'node:assert/strict';
import { isAbsolute, resolve } from 'node:path';
import { test } from 'node:test';
import { parseServerFlags } from './flags.js';
import { KubeletPaths } from '../kubelet/paths.js';

test('a relative --data-dir (make run passes ./data) becomes absolute, and so does the agent dir', () => {
  const f = parseServerFlags(['--data-dir', './data']);
  assert.ok(f !== 'help');
  assert.equal(f.dataDir, resolve('data'));
  assert.ok(isAbsolute(new KubeletPaths('data/agent').containerdDir));
  assert.ok(f.agent, 'the embedded agent is on by default');
  assert.equal(parseServerFlags(['--disable-agent']) !== 'help' && (parseServerFlags(['--disable-agent']) as { agent?: unknown }).agent, undefined);
});

test('agent flags are validated', () => {
  assert.throws(() => parseServerFlags(['--kubelet-port', '70000']), /invalid --kubelet-port/);
  assert.throws(() => parseServerFlags(['--register-with-taints', 'bad']), /invalid taint/);
});
