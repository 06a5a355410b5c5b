// The agent's volume manager: prepares each pod volume on this node (folders, tmpfs mounts,
// files from ConfigMaps, Secrets and the downward API, persistent volumes), keeps API-backed
// volumes current, and removes them when the pod is gone.
// Plugins and their folders follow upstream: https://kubernetes.io/docs/concepts/storage/volumes/
//
// How the pod worker uses it:
//   1. setUpPod(pod) on every sync, before creating the sandbox's containers; a VolumeError
//      (reason FailedMount) means: wait and retry on the next sync (an event is recorded).
//   2. makeEnvironment(...) then containerMounts(pod, container, volumes, { env, hosts }) for each
//      container start (it makes the termination-message file of that start).
//   3. refreshPod(pod) every ~10 s for running pods, so ConfigMap/Secret/label edits arrive.
//   4. tearDownPod(uid) once the pod's containers and sandbox are gone; podUIDsOnDisk() lists
//      pods with folders, to clean up after pods deleted while the agent was down.

import { chmod, chown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import type { EventRecorder } from '../../client/events.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { quantityFrom } from '../../machinery/quantity.js';
import { apiGetters, type ObjectGetters } from '../env/container-env.js';
import type { PodRuntimeFacts } from '../env/downward.js';
import type { KubeletPaths } from '../paths.js';
import type { Mount } from '../runtime/runtime.js';
import { AtomicWriter, type Payload } from './atomic-writer.js';
import { containerMounts, type ContainerMountOptions } from './container-mounts.js';
import { checkHostPathType } from './host-path.js';
import { isMountPoint, mountsUnder, mountTmpfs, unmount } from './mounts.js';
import { DEFAULT_MODE, downwardAPIPayload, objectPayload } from './payloads.js';
import { ServiceAccountTokens } from './service-account-token.js';
import { type Logger } from '../../machinery/logger.js';

export interface PodVolume {
  /** Where the volume is on this node: the source of the containers' bind mounts. */
  hostPath: string;
  readOnly: boolean;
  /** The volume source's field name: emptyDir, hostPath, configMap, secret, ... */
  kind: string;
}

export type PodVolumes = Map<string, PodVolume>;

/** A volume could not be set up; the pod waits (event reason FailedMount). */
export class VolumeError extends Error {
  readonly reason = 'FailedMount';
  constructor(
    message: string,
    /** Every volume that failed, with its message. */
    readonly failures: { volume: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'VolumeError';
  }
}

export type VolumeLogger = Pick<Logger, 'info' | 'warn' | 'debug'>;

export interface VolumeManagerOptions {
  paths: KubeletPaths;
  client: Client;
  nodeName: string;
  log: VolumeLogger;
  recorder?: EventRecorder;
  /**
   * Node allocatable (cpu, memory, ...), or a function that returns the current one: unset limits
   * in resourceFieldRef, and the size of memory-backed emptyDirs. Missing entries: this host's
   * CPUs and memory.
   */
  allocatable?: Record<string, string | number> | (() => Record<string, string | number>);
  /** Where ConfigMaps and Secrets are read (e.g. informer caches); default: a GET each time. */
  getters?: ObjectGetters;
}

/** Upstream's folder names: <pod>/volumes/<plugin>/<volume>. */
const PLUGIN_DIRS: Record<string, string> = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
};

const API_BACKED = new Set(['configMap', 'secret', 'downwardAPI', 'projected']);

/** The field of the volume that names its source. */
export function volumeKind(v: KubeObject['spec']): string {
  return Object.keys(v ?? {}).find((k) => k !== 'name' && v[k] != null) ?? '';
}

class SetUpFailure extends Error {}

export class VolumeManager {
  private readonly paths: KubeletPaths;
  private readonly client: Client;
  private readonly log: VolumeLogger;
  private readonly recorder?: EventRecorder;
  private readonly allocatableSource?: VolumeManagerOptions['allocatable'];
  private readonly tokens: ServiceAccountTokens;
  private readonly getters: ObjectGetters;
  /** Volumes set up per pod uid, with the spec they were set up from. */
  private readonly ready = new Map<string, Map<string, { spec: string; volume: PodVolume }>>();
  /** One operation at a time per pod: setUp, refresh and tearDown write the same folders. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private tokenSkipLogged = false;

  constructor(opts: VolumeManagerOptions) {
    this.paths = opts.paths;
    this.client = opts.client;
    this.log = opts.log;
    this.recorder = opts.recorder;
    this.allocatableSource = opts.allocatable;
    this.tokens = new ServiceAccountTokens(opts.client);
    this.getters = opts.getters ?? apiGetters(opts.client);
  }

  private get allocatable(): Record<string, string | number> {
    const a = typeof this.allocatableSource === 'function' ? this.allocatableSource() : this.allocatableSource;
    return { cpu: String(cpus().length), memory: String(totalmem()), ...a };
  }

  private locked<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(uid) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(uid, tail);
    void tail.then(() => {
      if (this.locks.get(uid) === tail) this.locks.delete(uid);
    });
    return next;
  }

  /**
   * Prepares every volume of the pod; idempotent (volumes already set up from the same spec are
   * not redone). Throws VolumeError naming the first volume that failed, after trying them all.
   */
  setUpPod(pod: KubeObject): Promise<PodVolumes> {
    const uid = pod.metadata.uid!;
    return this.locked(uid, async () => {
      const done = this.ready.get(uid) ?? new Map<string, { spec: string; volume: PodVolume }>();
      this.ready.set(uid, done);
      const out: PodVolumes = new Map();
      const failures: { volume: string; message: string }[] = [];
      for (const v of pod.spec?.volumes ?? []) {
        const spec = JSON.stringify(v);
        const prev = done.get(v.name);
        if (prev && prev.spec === spec) {
          out.set(v.name, prev.volume);
          continue;
        }
        try {
          const volume = await this.setUpVolume(pod, v);
          done.set(v.name, { spec, volume });
          out.set(v.name, volume);
        } catch (e) {
          const message = `MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}`;
          failures.push({ volume: v.name, message });
          this.recorder?.event(pod, 'Warning', 'FailedMount', message);
          if (!(e instanceof SetUpFailure)) this.log.debug({ err: e, pod: pod.metadata.name, volume: v.name }, 'volume set-up failed');
        }
      }
      if (failures.length) throw new VolumeError(failures[0].message, failures);
      return out;
    });
  }

  /** See containerMounts in container-mounts.ts. */
  containerMounts(pod: KubeObject, container: KubeObject['spec'], volumes: PodVolumes, opts: ContainerMountOptions = {}): Mount[] {
    return containerMounts(this.paths, pod, container, volumes, opts);
  }

  /**
   * Rewrites the pod's configMap, secret, downwardAPI and projected volumes whose content changed
   * (atomically; subPath mounts keep their old file, as upstream). Returns the names of the
   * volumes that changed. Failures are reported as events; the old content stays.
   */
  refreshPod(pod: KubeObject, facts: PodRuntimeFacts = {}): Promise<string[]> {
    const uid = pod.metadata.uid!;
    return this.locked(uid, async () => {
      const done = this.ready.get(uid);
      const changed: string[] = [];
      if (!done) return changed;
      for (const v of pod.spec?.volumes ?? []) {
        const kind = volumeKind(v);
        if (!API_BACKED.has(kind) || !done.has(v.name)) continue;
        try {
          if (await this.writeApiVolume(pod, v, kind, facts)) changed.push(v.name);
        } catch (e) {
          this.recorder?.event(pod, 'Warning', 'FailedMount', `MountVolume.SetUp failed for volume "${v.name}" : ${(e as Error).message}`);
        }
      }
      return changed;
    });
  }

  /** Unmounts what the pod's folder holds and removes it. hostPath and persistent volume data live elsewhere and are not touched. */
  tearDownPod(uid: string): Promise<void> {
    return this.locked(uid, async () => {
      const dir = this.paths.podDir(uid);
      for (const m of await mountsUnder(dir)) await unmount(m);
      const left = await mountsUnder(dir);
      // Never delete through a mount: that would remove data that is not the pod's.
      if (left.length) throw new Error(`pod ${uid}: cannot remove ${dir}: still mounted: ${left.join(', ')}`);
      await rm(dir, { recursive: true, force: true });
      this.ready.delete(uid);
      this.tokens.forget(uid);
    });
  }

  /** Pod uids with a folder on this node (to find pods that are gone). */
  async podUIDsOnDisk(): Promise<string[]> {
    try {
      return (await readdir(this.paths.podsDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  private dirFor(pod: KubeObject, kind: string, name: string): string {
    return this.paths.podVolumeDir(pod.metadata.uid!, PLUGIN_DIRS[kind], name);
  }

  private async setUpVolume(pod: KubeObject, v: KubeObject['spec']): Promise<PodVolume> {
    const kind = volumeKind(v);
    switch (kind) {
      case 'emptyDir':
        return this.setUpEmptyDir(pod, v);
      case 'hostPath':
        await checkHostPathType(v.hostPath.path, v.hostPath.type);
        return { hostPath: v.hostPath.path, readOnly: false, kind };
      case 'configMap':
      case 'secret':
      case 'downwardAPI':
      case 'projected':
        await this.writeApiVolume(pod, v, kind, {});
        return { hostPath: this.dirFor(pod, kind, v.name), readOnly: true, kind };
      case 'persistentVolumeClaim':
        return this.setUpClaim(pod, v.persistentVolumeClaim.claimName, !!v.persistentVolumeClaim.readOnly, false);
      case 'ephemeral':
        // A generic ephemeral volume is the claim <pod>-<volume>, made for (owned by) this pod.
        return this.setUpClaim(pod, `${pod.metadata.name}-${v.name}`, false, true);
      case '':
        throw new SetUpFailure('the volume has no source');
      default:
        throw new SetUpFailure(`no volume plugin matched: ${kind} volumes are not supported by k8ts (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim, ephemeral)`);
    }
  }

  private async setUpEmptyDir(pod: KubeObject, v: KubeObject['spec']): Promise<PodVolume> {
    const dir = this.dirFor(pod, 'emptyDir', v.name);
    const medium: string = v.emptyDir.medium ?? '';
    await mkdir(dir, { recursive: true, mode: 0o777 });
    if (medium === 'Memory') {
      if (!(await isMountPoint(dir))) await mountTmpfs(dir, this.memoryVolumeSize(pod, v.emptyDir.sizeLimit));
    } else if (medium !== '') {
      throw new SetUpFailure(`emptyDir medium ${medium} is not supported by k8ts (use "" or Memory)`);
    }
    // World-writable as upstream: containers may run as any user. With fsGroup, the folder is
    // the group's and new files inherit it (setgid), as upstream's SetVolumeOwnership.
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    if (typeof fsGroup === 'number') await chown(dir, (await stat(dir)).uid, fsGroup);
    await chmod(dir, typeof fsGroup === 'number' ? 0o2777 : 0o777);
    return { hostPath: dir, readOnly: false, kind: 'emptyDir' };
  }

  /** min(sizeLimit, the pod's memory limit when every container sets one, node allocatable memory). */
  private memoryVolumeSize(pod: KubeObject, sizeLimit: unknown): number {
    const bytes = (q: unknown) => {
      try {
        return quantityFrom(q).value();
      } catch {
        return 0;
      }
    };
    let size = bytes(this.allocatable.memory) || totalmem();
    const containers: KubeObject['spec'][] = pod.spec?.containers ?? [];
    const limits = containers.map((c) => bytes(c.resources?.limits?.memory));
    if (limits.length && limits.every((l) => l > 0)) size = Math.min(size, limits.reduce((a, b) => a + b, 0));
    const want = sizeLimit === undefined ? 0 : bytes(sizeLimit);
    if (want > 0) size = Math.min(size, want);
    return size;
  }

  private getObject(gvr: typeof R.configmaps, ns: string, name: string): Promise<KubeObject | undefined> {
    return gvr === R.secrets ? this.getters.getSecret(ns, name) : this.getters.getConfigMap(ns, name);
  }

  /** The volume's files, from the API. */
  private async payloadFor(pod: KubeObject, v: KubeObject['spec'], kind: string, facts: PodRuntimeFacts): Promise<Payload> {
    const ns = pod.metadata.namespace ?? 'default';
    const dflt = (m: number | undefined) => m ?? DEFAULT_MODE;
    const opts = { facts, allocatable: this.allocatable };
    switch (kind) {
      case 'configMap': {
        const src = v.configMap;
        const cm = await this.getObject(R.configmaps, ns, src.name);
        if (!cm && !src.optional) throw new SetUpFailure(`configmap "${src.name}" not found`);
        return objectPayload('configmap', cm, src.items, dflt(src.defaultMode), !!src.optional);
      }
      case 'secret': {
        const src = v.secret;
        const s = await this.getObject(R.secrets, ns, src.secretName);
        if (!s && !src.optional) throw new SetUpFailure(`secret "${src.secretName}" not found`);
        return objectPayload('secret', s, src.items, dflt(src.defaultMode), !!src.optional);
      }
      case 'downwardAPI':
        return downwardAPIPayload(pod, v.downwardAPI.items, dflt(v.downwardAPI.defaultMode), opts);
      case 'projected':
        return this.projectedPayload(pod, v.projected, facts);
    }
    throw new SetUpFailure(`${kind} is not an API-backed volume`);
  }

  private async projectedPayload(pod: KubeObject, src: KubeObject['spec'], facts: PodRuntimeFacts): Promise<Payload> {
    const ns = pod.metadata.namespace ?? 'default';
    const mode: number = src.defaultMode ?? DEFAULT_MODE;
    const payload: Payload = new Map();
    const add = (p: Payload) => p.forEach((f, k) => payload.set(k, f));
    for (const s of src.sources ?? []) {
      if (s.configMap) {
        const cm = await this.getObject(R.configmaps, ns, s.configMap.name);
        if (!cm && !s.configMap.optional) throw new SetUpFailure(`configmap "${s.configMap.name}" not found`);
        add(objectPayload('configmap', cm, s.configMap.items, mode, !!s.configMap.optional));
      } else if (s.secret) {
        const sec = await this.getObject(R.secrets, ns, s.secret.name);
        if (!sec && !s.secret.optional) throw new SetUpFailure(`secret "${s.secret.name}" not found`);
        add(objectPayload('secret', sec, s.secret.items, mode, !!s.secret.optional));
      } else if (s.downwardAPI) {
        add(downwardAPIPayload(pod, s.downwardAPI.items, mode, { facts, allocatable: this.allocatable }));
      } else if (s.serviceAccountToken) {
        if (!(await this.tokens.available())) {
          if (!this.tokenSkipLogged) this.log.warn({}, 'the API server has no TokenRequest API (serviceaccounts/token): projected serviceAccountToken sources are left out');
          this.tokenSkipLogged = true;
          continue;
        }
        const token = await this.tokens.token(pod, s.serviceAccountToken);
        // Upstream narrows the token to 0600 when the pod sets fsGroup (the group gets read through it).
        const fsGroup = pod.spec?.securityContext?.fsGroup;
        payload.set(s.serviceAccountToken.path, { data: Buffer.from(token), mode: fsGroup !== undefined ? 0o600 : mode });
      } else {
        const other = Object.keys(s)[0] ?? 'empty';
        throw new SetUpFailure(`projected source ${other} is not supported by k8ts`);
      }
    }
    return payload;
  }

  /** Writes an API-backed volume; returns whether its content changed. */
  private async writeApiVolume(pod: KubeObject, v: KubeObject['spec'], kind: string, facts: PodRuntimeFacts): Promise<boolean> {
    const payload = await this.payloadFor(pod, v, kind, facts);
    const dir = this.dirFor(pod, kind, v.name);
    await mkdir(dir, { recursive: true, mode: 0o777 });
    // Secrets and projected volumes (service account tokens) stay off the disk, as upstream.
    if ((kind === 'secret' || kind === 'projected') && !(await isMountPoint(dir))) await mountTmpfs(dir);
    // The volume's own folder is an emptyDir upstream: 0777 (its files are read-only to containers).
    await chmod(dir, 0o777);
    const fsGroup = pod.spec?.securityContext?.fsGroup;
    return new AtomicWriter(dir).write(payload, { fsGroup: typeof fsGroup === 'number' ? fsGroup : undefined });
  }

  private async setUpClaim(pod: KubeObject, claimName: string, readOnly: boolean, ephemeral: boolean): Promise<PodVolume> {
    const ns = pod.metadata.namespace ?? 'default';
    const fail = (msg: string) => new SetUpFailure(`error processing PVC ${ns}/${claimName}: ${msg}`);
    let claim: KubeObject;
    try {
      claim = await this.client.resource(R.persistentvolumeclaims).get(ns, claimName);
    } catch (e) {
      if (ephemeral && isNotFound(e)) throw new SetUpFailure(`waiting for ephemeral volume controller to create the persistentvolumeclaim "${claimName}"`);
      throw fail(`failed to fetch PVC from API server: ${(e as Error).message}`);
    }
    if (ephemeral && !(claim.metadata.ownerReferences ?? []).some((o) => o.controller && o.uid === pod.metadata.uid)) {
      throw new SetUpFailure(`PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata.name} (pod is not owner)`);
    }
    if (claim.metadata.deletionTimestamp) throw fail('PVC is being deleted');
    const pvName: string | undefined = claim.spec?.volumeName;
    if (claim.status?.phase !== 'Bound' || !pvName) throw fail('PVC is not bound');
    let pv: KubeObject;
    try {
      pv = await this.client.resource(R.persistentvolumes).get(undefined, pvName);
    } catch (e) {
      throw fail(`failed to fetch PV ${pvName} from API server: ${(e as Error).message}`);
    }
    const ref = pv.spec?.claimRef;
    if (!ref || ref.name !== claimName || (ref.namespace ?? '') !== ns || (ref.uid && ref.uid !== claim.metadata.uid)) {
      throw fail(`found PV object "${pvName}" but its claimRef does not point to this claim`);
    }
    if (pv.spec?.hostPath?.path) {
      const { path, type } = pv.spec.hostPath;
      if (!type || type === 'DirectoryOrCreate') await this.ensureVolumeDir(path);
      else await checkHostPathType(path, type);
      return { hostPath: path, readOnly, kind: ephemeral ? 'ephemeral' : 'persistentVolumeClaim' };
    }
    if (pv.spec?.local?.path) {
      await this.ensureVolumeDir(pv.spec.local.path);
      return { hostPath: pv.spec.local.path, readOnly, kind: ephemeral ? 'ephemeral' : 'persistentVolumeClaim' };
    }
    const source = Object.keys(pv.spec ?? {}).find((k) => !['capacity', 'accessModes', 'claimRef', 'persistentVolumeReclaimPolicy', 'storageClassName', 'mountOptions', 'volumeMode', 'nodeAffinity'].includes(k));
    throw fail(`no volume plugin matched: PV ${pvName} is ${source ?? 'without a source'}; k8ts mounts hostPath and local persistent volumes`);
  }

  /** A persistent volume's folder: made world-writable when the agent creates it (as k3s's local-path helper). */
  private async ensureVolumeDir(path: string): Promise<void> {
    try {
      const st = await stat(path);
      if (!st.isDirectory()) throw new SetUpFailure(`hostPath type check failed: ${path} is not a directory`);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    await mkdir(path, { recursive: true, mode: 0o777 });
    await chmod(path, 0o777);
  }
}
