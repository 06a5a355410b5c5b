import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { describeRuntimeConformance, type ConformanceTarget } from '../runtime/conformance.js';
import { SimulatedRuntime } from './simulated-runtime.js';

let target: ConformanceTarget;
const dir = mkdtempSync(join(tmpdir(), 'k8ts-simrt-'));
before(async () => {
  const runtime = new SimulatedRuntime();
  await runtime.pullImage({ image: 'docker.io/library/busybox:latest' });
  target = { runtime, image: 'docker.io/library/busybox:latest', logDir: dir };
});
after(() => {
  target?.runtime.close();
  rmSync(dir, { recursive: true, force: true });
});
describeRuntimeConformance('simulated', () => target);
