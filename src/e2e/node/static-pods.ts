// Static pods: a manifest dropped in --pod-manifest-path runs without the API, shows as a mirror
// pod, survives the mirror's deletion, and stops when its file goes.

import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { K8tsServer } from '../../testing/k8ts-server.js';
import { eventually, kubectlOf } from '../control-plane/harness.js';
import { BUSYBOX } from './streaming.js';

export function staticPods(srv: () => K8tsServer, manifestDir: string, nodeName: () => string): void {
  const k = kubectlOf(srv);
  it('runs a static pod from --pod-manifest-path with a mirror pod, recreates the mirror, stops it when the file goes', async () => {
    const file = join(manifestDir, 'static-web.yaml');
    writeFileSync(
      file,
      `apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {tier: static}
spec:
  containers:
  - name: web
    image: ${BUSYBOX}
    command: ["sh", "-c", "echo static up; exec sleep 100000"]
`,
    );
    const name = `static-web-${nodeName()}`;
    const mirror = await eventually(async () => {
      const r = await srv().kubectl(['get', 'pod', name, '-n', 'default', '-o', 'json']);
      if (r.code !== 0) return undefined;
      const p = JSON.parse(r.stdout);
      return p.status?.phase === 'Running' ? p : undefined;
    }, 'the mirror pod Running', 60_000);
    assert.ok(mirror.metadata.annotations['kubernetes.io/config.mirror']);
    assert.equal(mirror.metadata.annotations['kubernetes.io/config.source'], 'file');
    assert.equal(mirror.metadata.ownerReferences?.[0]?.kind, 'Node');
    assert.equal(mirror.spec.nodeName, nodeName());
    assert.equal(await k(['logs', name]), 'static up\n');
    const containerID = mirror.status.containerStatuses[0].containerID;
    // Deleting the mirror pod does not stop the static pod: a new mirror appears.
    // --wait=false: kubectl's wait lists the name, then watches for a DELETED event; when the
    // kubelet replaces the mirror between the two (it takes milliseconds), the watch only ever
    // sees the new mirror and kubectl waits out its timeout. The new UID below is the check.
    const del = await srv().kubectl(['delete', 'pod', name, '--wait=false']);
    assert.equal(del.code, 0, `kubectl delete pod ${name}: ${del.stderr}\nagent log:\n${srv().logLines('static-web')}`);
    const again = await eventually(async () => {
      const r = await srv().kubectl(['get', 'pod', name, '-o', 'json']);
      if (r.code !== 0) return undefined;
      const p = JSON.parse(r.stdout);
      return p.metadata.uid !== mirror.metadata.uid && p.status?.containerStatuses?.[0]?.containerID ? p : undefined;
    }, 'a new mirror pod', 60_000);
    assert.equal(again.status.containerStatuses[0].containerID, containerID);
    // Removing the file stops the pod and removes the mirror.
    rmSync(file);
    await eventually(async () => (await srv().kubectl(['get', 'pod', name])).code !== 0, 'the mirror pod gone', 60_000);
  });
}
