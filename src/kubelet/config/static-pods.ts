// Static pods (upstream's file source, --pod-manifest-path): pod manifests in a folder that the
// agent runs by itself, API server or not. Each gets a UID from a hash of the node and the
// manifest, the name `<name>-<node>`, and the config annotations; a mirror pod in the API shows
// it to kubectl. The folder is re-read every few seconds: new files start pods, changed files
// replace them, removed files stop them.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../api/meta/v1.js';

export const CONFIG_SOURCE = 'kubernetes.io/config.source';
export const CONFIG_HASH = 'kubernetes.io/config.hash';
export const CONFIG_MIRROR = 'kubernetes.io/config.mirror';
export const CONFIG_SEEN = 'kubernetes.io/config.seen';

export function isMirrorPod(pod: KubeObject): boolean {
  return !!pod.metadata.annotations?.[CONFIG_MIRROR];
}

/** The defaults the API server would apply, for the fields the agent reads (it runs static pods before any API sees them). */
function applyDefaults(spec: any): void {
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const tagged = /:[^/]+$/.test(c.image ?? '') && !/:latest$/.test(c.image ?? '');
    c.imagePullPolicy ??= tagged || /@sha256:/.test(c.image ?? '') ? 'IfNotPresent' : 'Always';
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
  }
}

export interface StaticPodError {
  file: string;
  message: string;
}

/** Reads the manifests of `dir` into pods for `nodeName`; files that are not a valid Pod are reported, not fatal. */
export function readStaticPods(dir: string, nodeName: string): { pods: KubeObject[]; errors: StaticPodError[] } {
  const pods: KubeObject[] = [];
  const errors: StaticPodError[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    return { pods, errors: [{ file: dir, message: String((err as Error).message) }] };
  }
  for (const name of names) {
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, 'utf8');
      const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
      if (docs.length !== 1) throw new Error(`expected one Pod, found ${docs.length} documents`);
      if (docs[0].errors.length) throw new Error(docs[0].errors[0].message);
      const obj = docs[0].toJSON() as KubeObject;
      if (obj?.kind !== 'Pod' || (obj.apiVersion ?? 'v1') !== 'v1') throw new Error(`expected kind Pod (apiVersion v1), got ${obj?.kind ?? 'nothing'}`);
      if (!obj.metadata?.name) throw new Error('metadata.name is required');
      if (!Array.isArray(obj.spec?.containers) || !obj.spec.containers.length) throw new Error('spec.containers: Required value');
      const hash = createHash('md5').update(nodeName).update('\0').update(file).update('\0').update(text).digest('hex');
      const spec = { ...obj.spec, nodeName };
      applyDefaults(spec);
      pods.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          ...obj.metadata,
          name: `${obj.metadata.name}-${nodeName}`,
          namespace: obj.metadata.namespace || 'default',
          uid: hash,
          annotations: { ...(obj.metadata.annotations ?? {}), [CONFIG_SOURCE]: 'file', [CONFIG_HASH]: hash, [CONFIG_SEEN]: new Date().toISOString() },
        },
        spec,
        status: { phase: 'Pending' },
      });
    } catch (err) {
      errors.push({ file, message: String((err as Error).message) });
    }
  }
  return { pods, errors };
}

/** The mirror pod the API shows for a static pod: same spec, the mirror annotation, owned by the Node. */
export function mirrorPodOf(pod: KubeObject, node: { name: string; uid?: string }): KubeObject {
  const { uid: _uid, resourceVersion: _rv, ...meta } = pod.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...meta,
      annotations: { ...(meta.annotations ?? {}), [CONFIG_MIRROR]: pod.metadata.annotations![CONFIG_HASH] },
      ...(node.uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid, controller: true }] } : {}),
    },
    spec: pod.spec,
  };
}
