// The runtime conformance suite on containerd through the CRI (the simulated runtime runs the
// same suite in simulated/simulated-runtime.test.ts).

import { after, before } from 'node:test';
import { canRunPods } from '../../testing/agent-cluster.js';
import { describeRuntimeConformance, type ConformanceTarget } from '../runtime/conformance.js';
import { startTestContainerd, type TestContainerd } from './testing.js';

const skip = canRunPods();
let t: TestContainerd | undefined;
let target: ConformanceTarget;
if (!skip) {
  before(async () => {
    t = await startTestContainerd();
    target = { runtime: t.runtime, image: t.images.busybox, logDir: `${t.paths.agentDir}/logs` };
  });
  after(async () => {
    await t?.stop();
  });
  describeRuntimeConformance('containerd (CRI)', () => target);
}
