// Persistent volume binding, with a built-in provisioner (like k3s's local-path):
// - a pending PVC binds to an Available PV that satisfies it (class, access modes, size), or,
//   when its StorageClass is provisioned by `k8ts.io/local-path`, to a new hostPath PV made for it;
// - a PVC without a class gets the default StorageClass, as upstream's admission does;
// - a released PV is deleted (reclaimPolicy Delete) or marked Released (Retain).
// The `local-path` StorageClass is created at start if missing and marked default.
// The PV's folder lies under settings.localStoragePath; the node agent creates it (mode 0777) on
// first mount. On simulated nodes nothing is written to disk.

import { join } from 'node:path';
import type { KubeObject } from '../../api/meta/v1.js';
import { keyOf, splitKey } from '../../client/informer.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/transport.js';
import { runWorkers, WorkQueue } from '../../client/workqueue.js';
import { quantityFrom } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../context.js';

export const LOCAL_PATH_PROVISIONER = 'k8ts.io/local-path';
const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

const storageClasses = { group: 'storage.k8s.io', version: 'v1', plural: 'storageclasses', kind: 'StorageClass', namespaced: false };

function bytes(q: unknown): bigint {
  try {
    return BigInt(quantityFrom(q).value());
  } catch {
    return 0n;
  }
}

export class PersistentVolumeController implements Controller {
  readonly name = 'persistentvolume-binder';
  private readonly claims = new WorkQueue<string>();
  private readonly volumes = new WorkQueue<string>();

  start(ctx: ControllerContext): void {
    const pvcs = ctx.informers.for(R.persistentvolumeclaims);
    const pvs = ctx.informers.for(R.persistentvolumes);
    ctx.informers.for(storageClasses);
    pvcs.addEventHandler({ add: (c) => this.claims.add(keyOf(c)), update: (_o, c) => this.claims.add(keyOf(c)), delete: (c) => this.releaseFor(ctx, c) });
    pvs.addEventHandler({
      add: (v) => this.volumes.add(keyOf(v)),
      update: (_o, v) => this.volumes.add(keyOf(v)),
    });
    ctx.signal.addEventListener('abort', () => (this.claims.shutdown(), this.volumes.shutdown()), { once: true });
    void (async () => {
      await this.ensureDefaultClass(ctx).catch((err) => ctx.log.warn({ err }, 'could not create the local-path StorageClass'));
      await ctx.informers.waitForSync();
      // Claims one at a time: two claims must never bind the same volume.
      void runWorkers(this.claims, 1, (k) => this.syncClaim(ctx, k), (k, err) => ctx.log.debug({ err, k }, 'pvc: retry'));
      await runWorkers(this.volumes, 2, (k) => this.syncVolume(ctx, k), (k, err) => ctx.log.debug({ err, k }, 'pv: retry'));
    })();
  }

  private async ensureDefaultClass(ctx: ControllerContext): Promise<void> {
    try {
      await ctx.client.resource(storageClasses).create(undefined, {
        metadata: { name: 'local-path', annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
        provisioner: LOCAL_PATH_PROVISIONER,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'Immediate',
      });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  private classOf(ctx: ControllerContext, name: string | undefined): KubeObject | undefined {
    const classes = ctx.informers.for(storageClasses).indexer;
    if (name) return classes.getByName(undefined, name);
    return classes.list().find((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  }

  private releaseFor(ctx: ControllerContext, claim: KubeObject): void {
    const pvName = claim.spec?.volumeName;
    if (pvName) this.volumes.add(pvName);
  }

  private async syncClaim(ctx: ControllerContext, key: string): Promise<void> {
    const claim = ctx.informers.for(R.persistentvolumeclaims).indexer.get(key);
    if (!claim || claim.metadata.deletionTimestamp) return;
    const { namespace, name } = splitKey(key);
    const api = ctx.client.resource(R.persistentvolumeclaims);
    if (claim.spec?.volumeName) {
      if (claim.status?.phase !== 'Bound') {
        const pv = ctx.informers.for(R.persistentvolumes).indexer.getByName(undefined, claim.spec.volumeName);
        if (pv) await this.markClaimBound(ctx, claim, pv);
      }
      return;
    }
    let className: string | undefined = claim.spec?.storageClassName ?? undefined;
    if (className === undefined) {
      const def = this.classOf(ctx, undefined);
      if (def) {
        await api.patch(namespace, name, 'merge', { spec: { storageClassName: def.metadata.name } });
        return; // the update comes back through the informer
      }
      className = '';
    }
    const want = bytes(claim.spec?.resources?.requests?.storage);
    const modes: string[] = claim.spec?.accessModes ?? [];
    // Smallest Available volume that satisfies the claim (upstream's FindMatchingVolume).
    const candidates = ctx.informers.for(R.persistentvolumes).indexer.list().filter((pv) => {
      if (pv.metadata.deletionTimestamp || pv.spec?.claimRef) return false;
      if ((pv.spec?.storageClassName ?? '') !== className) return false;
      if (!modes.every((m) => (pv.spec?.accessModes ?? []).includes(m))) return false;
      return bytes(pv.spec?.capacity?.storage) >= want;
    });
    candidates.sort((a, b) => (bytes(a.spec?.capacity?.storage) < bytes(b.spec?.capacity?.storage) ? -1 : 1));
    let pv = candidates[0];
    const cls = className ? this.classOf(ctx, className) : undefined;
    if (!pv && cls?.provisioner === LOCAL_PATH_PROVISIONER) {
      const pvName = `pvc-${claim.metadata.uid}`;
      try {
        pv = await ctx.client.resource(R.persistentvolumes).create(undefined, {
          metadata: { name: pvName, annotations: { 'pv.kubernetes.io/provisioned-by': LOCAL_PATH_PROVISIONER } },
          spec: {
            capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
            accessModes: modes.length ? modes : ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
            storageClassName: className,
            hostPath: { path: join(ctx.settings.localStoragePath, `${pvName}_${namespace}_${name}`), type: 'DirectoryOrCreate' },
            volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
          },
        });
        ctx.recorder('persistentvolume-controller').event(claim, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        pv = await ctx.client.resource(R.persistentvolumes).get(undefined, pvName);
      }
    }
    if (!pv) {
      if (!cls && className) {
        ctx.recorder('persistentvolume-controller').event(claim, 'Warning', 'ProvisioningFailed', `storageclass.storage.k8s.io "${className}" not found`);
      } else {
        ctx.recorder('persistentvolume-controller').event(claim, 'Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set');
      }
      return;
    }
    // Bind: the volume first (claimRef), then the claim (volumeName), as upstream.
    try {
      pv = await ctx.client.resource(R.persistentvolumes).update({
        ...pv,
        spec: { ...pv.spec, claimRef: { kind: 'PersistentVolumeClaim', namespace, name, uid: claim.metadata.uid, apiVersion: 'v1', resourceVersion: claim.metadata.resourceVersion } },
      });
    } catch (e) {
      if (isConflict(e)) throw e; // retried
      throw e;
    }
    await ctx.client.resource(R.persistentvolumes).patch(undefined, pv.metadata.name!, 'merge', { status: { phase: 'Bound' } }, { subresource: 'status' });
    const bound = await api.patch(namespace, name, 'merge', {
      metadata: { annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' } },
      spec: { volumeName: pv.metadata.name },
    });
    await this.markClaimBound(ctx, bound, pv);
  }

  private async markClaimBound(ctx: ControllerContext, claim: KubeObject, pv: KubeObject): Promise<void> {
    await ctx.client.resource(R.persistentvolumeclaims).patch(claim.metadata.namespace, claim.metadata.name!, 'merge', {
      status: { phase: 'Bound', accessModes: pv.spec?.accessModes, capacity: pv.spec?.capacity },
    }, { subresource: 'status' });
  }

  private async syncVolume(ctx: ControllerContext, name: string): Promise<void> {
    const pv = ctx.informers.for(R.persistentvolumes).indexer.getByName(undefined, name);
    if (!pv || pv.metadata.deletionTimestamp) return;
    const ref = pv.spec?.claimRef;
    const pvApi = ctx.client.resource(R.persistentvolumes);
    if (!ref) {
      if (pv.status?.phase !== 'Available') await pvApi.patch(undefined, name, 'merge', { status: { phase: 'Available' } }, { subresource: 'status' });
      return;
    }
    const claim = ctx.informers.for(R.persistentvolumeclaims).indexer.getByName(ref.namespace, ref.name);
    if (claim && (!ref.uid || claim.metadata.uid === ref.uid)) return;
    // Confirm with the API before releasing: the informer may lag behind a new claim.
    try {
      const live = await ctx.client.resource(R.persistentvolumeclaims).get(ref.namespace, ref.name);
      if (!ref.uid || live.metadata.uid === ref.uid) return;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if ((pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain') === 'Delete') {
      try {
        await pvApi.delete(undefined, name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    } else if (pv.status?.phase !== 'Released') {
      await pvApi.patch(undefined, name, 'merge', { status: { phase: 'Released' } }, { subresource: 'status' });
    }
  }
}
