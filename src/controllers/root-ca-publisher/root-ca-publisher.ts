// The root CA certificate publisher: every namespace has a ConfigMap `kube-root-ca.crt` whose
// `ca.crt` is the cluster CA bundle (pods read it to trust the API server), put back when
// deleted or changed.

import type { KubeObject } from '../../api/meta/v1.js';
import { R } from '../../client/resources.js';
import { isAlreadyExists, isNotFound } from '../../client/transport.js';
import { WorkQueue } from '../../client/workqueue.js';
import type { Controller, ControllerContext } from '../context.js';
import { startWorkers } from '../workers.js';

export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

export class RootCAPublisher implements Controller {
  readonly name = 'root-ca-certificate-publisher';
  private readonly queue = new WorkQueue<string>();

  constructor(private readonly caCert: string) {}

  start(ctx: ControllerContext): void {
    const namespaces = ctx.informers.for(R.namespaces);
    const cms = ctx.informers.for(R.configmaps);
    namespaces.addEventHandler({ add: (n) => this.queue.add(n.metadata.name!), update: (_o, n) => this.queue.add(n.metadata.name!) });
    const onCM = (c: KubeObject) => c.metadata.name === ROOT_CA_CONFIGMAP && this.queue.add(c.metadata.namespace!);
    cms.addEventHandler({ update: (_o, c) => onCM(c), delete: onCM });
    startWorkers(ctx, this.queue, 'root-ca', (k) => this.sync(ctx, k));
  }

  private async sync(ctx: ControllerContext, ns: string): Promise<void> {
    const n = ctx.informers.for(R.namespaces).indexer.getByName(undefined, ns);
    if (!n || n.metadata.deletionTimestamp) return;
    const cm = ctx.informers.for(R.configmaps).indexer.getByName(ns, ROOT_CA_CONFIGMAP);
    const api = ctx.client.resource(R.configmaps);
    const annotations = { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' };
    try {
      if (!cm) await api.create(ns, { metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns, annotations }, data: { 'ca.crt': this.caCert } });
      else if (cm.data?.['ca.crt'] !== this.caCert) await api.update({ ...cm, data: { ...(cm.data ?? {}), 'ca.crt': this.caCert } });
    } catch (e) {
      if (isAlreadyExists(e) || isNotFound(e) || (e as { code?: number }).code === 403) return;
      throw e;
    }
  }
}
