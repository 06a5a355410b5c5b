// pods/binding and the create-only `bindings` resource (upstream BindingREST and
// LegacyBindingREST): a Binding sets spec.nodeName of an unbound pod once, merges the binding's
// annotations, and marks the pod PodScheduled=True, in one guarded update of the pod.

import type { KubeObject } from '../../api/meta/v1.js';
import { StatusError } from '../../machinery/errors.js';
import { fieldErr, fieldErrorMessage, type FieldError } from '../../machinery/field-errors.js';
import type { CreateAction } from '../rest/handler.js';
import type { ResourceStore } from '../rest/resource-store.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const statusSuccess = (code: number) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code });

function nowRFC3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A non-Status error from upstream's REST code: the handler reports it as 500 with no reason. */
export function plainError(message: string): StatusError {
  return new StatusError(500, '', message);
}

function aggregate(errs: FieldError[]): string {
  const msgs = errs.map(fieldErrorMessage);
  return msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
}

/** upstream podutil.UpdatePodCondition: replace the condition, keeping lastTransitionTime when the status is unchanged. */
export function setPodCondition(pod: Obj, cond: { type: string; status: string; reason?: string; message?: string }): void {
  const status = (pod.status ??= {});
  const conds: Obj[] = (status.conditions ??= []);
  const i = conds.findIndex((c) => c.type === cond.type);
  const prev = i >= 0 ? conds[i] : undefined;
  const next: Obj = { type: cond.type, status: cond.status, lastProbeTime: null, lastTransitionTime: prev && prev.status === cond.status ? prev.lastTransitionTime : nowRFC3339() };
  if (cond.reason) next.reason = cond.reason;
  if (cond.message) next.message = cond.message;
  if (i >= 0) conds[i] = next;
  else conds.push(next);
}

/** The action for POST pods/{name}/binding (subresource) and POST bindings (legacy, name from the body). */
export function bindingAction(pods: ResourceStore): CreateAction {
  return async (r, body, opts) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw StatusError.badRequest(`not a Binding object: ${JSON.stringify(body)?.slice(0, 200)}`);
    const b = body as Obj;
    if (b.kind !== undefined && b.kind !== '' && b.kind !== 'Binding') {
      throw StatusError.badRequest(`the kind in the data (${b.kind}) does not match the expected kind (Binding)`);
    }
    if (b.apiVersion !== undefined && b.apiVersion !== '' && b.apiVersion !== 'v1') {
      throw StatusError.badRequest(`the API version in the data (${b.apiVersion}) does not match the expected API version (v1)`);
    }
    const meta: Obj = b.metadata ?? {};
    const ns = r.namespace!;
    if (meta.namespace && meta.namespace !== ns) throw StatusError.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const name: string = r.subresource ? r.name! : (meta.name ?? '');
    if (r.subresource && meta.name !== name) throw StatusError.badRequest('name in URL does not match name in Binding object');
    if (!name) throw StatusError.badRequest('name is required');
    const target: Obj = b.target ?? {};
    const errs: FieldError[] = [];
    if (target.kind && target.kind !== 'Node') errs.push(fieldErr.notSupported('target.kind', target.kind, ['Node', '<empty>']));
    if (!target.name) errs.push(fieldErr.required('target.name', ''));
    if (errs.length) throw plainError(aggregate(errs));
    const bindingGR = { group: '', resource: 'pods/binding' };
    await pods.guaranteedUpdate(ns, name, { ...opts, subresource: 'binding', managedFieldsHandled: true }, r.ctx, (cur) => {
      const pod = cur as KubeObject;
      // The binding's uid and resourceVersion are preconditions on the pod.
      if (meta.uid && meta.uid !== pod.metadata.uid) {
        throw pods.conflictWith(name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${pod.metadata.uid}`);
      }
      if (meta.resourceVersion && meta.resourceVersion !== pod.metadata.resourceVersion) {
        throw pods.conflictWith(name, `Precondition failed: ResourceVersion in precondition: ${meta.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`);
      }
      if (pod.metadata.deletionTimestamp) throw StatusError.conflict(bindingGR, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      if (pod.spec?.nodeName) throw StatusError.conflict(bindingGR, name, `pod ${name} is already assigned to node ${JSON.stringify(pod.spec.nodeName)}`);
      if (pod.spec?.schedulingGates?.length) throw StatusError.conflict(bindingGR, name, `pod ${name} has non-empty .spec.schedulingGates`);
      pod.spec = { ...(pod.spec ?? {}), nodeName: target.name };
      if (meta.annotations && Object.keys(meta.annotations).length) pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...meta.annotations };
      setPodCondition(pod, { type: 'PodScheduled', status: 'True' });
      return pod;
    });
    return { code: 201, body: statusSuccess(201) };
  };
}
