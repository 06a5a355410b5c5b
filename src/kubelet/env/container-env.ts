// A container's environment as the kubelet builds it (upstream makeEnvironmentVariables):
// envFrom first, then env (values expanded against what came before and the service variables),
// then the service link variables that env did not override.
// https://kubernetes.io/docs/tasks/inject-data-application/define-environment-variable-container/

import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import type { EventRecorder } from '../../client/events.js';
import { R } from '../../client/resources.js';
import { isNotFound } from '../../client/transport.js';
import { isEnvVarName } from '../../machinery/validation.js';
import type { KeyValue } from '../runtime/runtime.js';
import { containerResourceValue, findContainer, podFieldValue, type PodRuntimeFacts } from './downward.js';
import { expand, mappingFor } from './expansion.js';
import { masterService, serviceEnvVars, servicesForPod } from './service-env.js';

/** The container cannot be configured; the kubelet reports it as its waiting reason. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

/** Reads ConfigMaps and Secrets; undefined when the object does not exist. */
export interface ObjectGetters {
  getConfigMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  getSecret(namespace: string, name: string): Promise<KubeObject | undefined>;
}

/** Getters over the API (one GET each; a 404 is undefined). */
export function apiGetters(client: Client): ObjectGetters {
  const get = async (gvr: typeof R.configmaps, ns: string, name: string) => {
    try {
      return await client.resource(gvr).get(ns, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  return { getConfigMap: (ns, n) => get(R.configmaps, ns, n), getSecret: (ns, n) => get(R.secrets, ns, n) };
}

export interface EnvironmentOptions extends PodRuntimeFacts {
  /** A client, or getters (e.g. over informer caches). */
  client?: Client;
  getters?: ObjectGetters;
  /** Services of the pod's namespace (for enableServiceLinks). */
  services?: KubeObject[];
  /** The `kubernetes` Service's cluster IP and port, for KUBERNETES_SERVICE_*. */
  masterServiceIP?: string;
  masterServicePort?: number;
  /** The node's allocatable resources: the value of limits a container does not set. */
  allocatable?: Record<string, string | number>;
  /** For InvalidEnvironmentVariableNames warnings. */
  recorder?: EventRecorder;
}

const decodeSecret = (v: string) => Buffer.from(v, 'base64').toString('utf8');

export async function makeEnvironment(pod: KubeObject, container: KubeObject['spec'], opts: EnvironmentOptions): Promise<KeyValue[]> {
  const getters = opts.getters ?? (opts.client ? apiGetters(opts.client) : undefined);
  const ns = pod.metadata.namespace ?? 'default';
  // One read of each object per call, as upstream caches within one container's env.
  const configMaps = new Map<string, Promise<KubeObject | undefined>>();
  const secrets = new Map<string, Promise<KubeObject | undefined>>();
  const need = () => {
    if (!getters) throw new ContainerConfigError('cannot read ConfigMaps and Secrets: the agent has no API client');
    return getters;
  };
  const configMap = (name: string) => {
    if (!configMaps.has(name)) configMaps.set(name, need().getConfigMap(ns, name));
    return configMaps.get(name)!;
  };
  const secret = (name: string) => {
    if (!secrets.has(name)) secrets.set(name, need().getSecret(ns, name));
    return secrets.get(name)!;
  };

  const master = opts.masterServiceIP ? masterService(opts.masterServiceIP, opts.masterServicePort) : undefined;
  const enableLinks = pod.spec?.enableServiceLinks !== false;
  const serviceEnv = new Map(serviceEnvVars(servicesForPod(ns, enableLinks, opts.services ?? [], master)).map((kv) => [kv.key, kv.value]));
  const env = new Map<string, string>();

  for (const from of container?.envFrom ?? []) {
    const prefix: string = from.prefix ?? '';
    let data: Record<string, string>;
    let what: string;
    let name: string;
    if (from.configMapRef) {
      name = from.configMapRef.name ?? '';
      what = 'configMap';
      const cm = await configMap(name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${name}" not found`);
      }
      data = cm.data ?? {};
    } else if (from.secretRef) {
      name = from.secretRef.name ?? '';
      what = 'secret';
      const s = await secret(name);
      if (!s) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${name}" not found`);
      }
      data = Object.fromEntries(Object.entries<string>(s.data ?? {}).map(([k, v]) => [k, decodeSecret(v)]));
    } else continue;
    const invalid: string[] = [];
    for (const k of Object.keys(data).sort()) {
      const key = prefix + k;
      if (isEnvVarName(key).length) {
        invalid.push(key);
        continue;
      }
      env.set(key, data[k]);
    }
    if (invalid.length) {
      opts.recorder?.event(pod, 'Warning', 'InvalidEnvironmentVariableNames', `Keys [${invalid.join(', ')}] from the EnvFrom ${what} ${ns}/${name} were skipped since they are considered invalid environment variable names.`);
    }
  }

  for (const e of container?.env ?? []) {
    const name: string = e.name;
    if (e.value) {
      env.set(name, expand(e.value, mappingFor(env, serviceEnv)));
      continue;
    }
    const from = e.valueFrom;
    if (!from) {
      env.set(name, '');
      continue;
    }
    if (from.fieldRef) {
      try {
        env.set(name, podFieldValue(pod, from.fieldRef.fieldPath, opts));
      } catch (err) {
        throw new ContainerConfigError((err as Error).message);
      }
    } else if (from.resourceFieldRef) {
      const sel = from.resourceFieldRef;
      const target = sel.containerName ? findContainer(pod, sel.containerName) : container;
      if (!target) throw new ContainerConfigError(`container ${sel.containerName} not found`);
      try {
        env.set(name, containerResourceValue(target, sel, opts.allocatable));
      } catch (err) {
        throw new ContainerConfigError((err as Error).message);
      }
    } else if (from.configMapKeyRef) {
      const { name: cmName = '', key, optional } = from.configMapKeyRef;
      const cm = await configMap(cmName);
      if (!cm) {
        if (optional) continue;
        throw new ContainerConfigError(`configmap "${cmName}" not found`);
      }
      const v: string | undefined = cm.data?.[key];
      if (v === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${ns}/${cmName}`);
      }
      env.set(name, v);
    } else if (from.secretKeyRef) {
      const { name: sName = '', key, optional } = from.secretKeyRef;
      const s = await secret(sName);
      if (!s) {
        if (optional) continue;
        throw new ContainerConfigError(`secret "${sName}" not found`);
      }
      const v = s.data?.[key];
      if (v === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in Secret ${ns}/${sName}`);
      }
      env.set(name, decodeSecret(v));
    } else {
      env.set(name, '');
    }
  }

  const out: KeyValue[] = [...env].map(([key, value]) => ({ key, value }));
  for (const [key, value] of serviceEnv) if (!env.has(key)) out.push({ key, value });
  return out;
}

/** `$(VAR)` in command and args, against the container's final environment. */
export function expandCommand(args: string[] | undefined, env: KeyValue[]): string[] | undefined {
  if (!args) return args;
  const mapping = mappingFor(new Map(env.map((kv) => [kv.key, kv.value])));
  return args.map((a) => expand(a, mapping));
}
