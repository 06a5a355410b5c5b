// Pod spec → CRI sandbox and container configs: hostname, DNS, port mappings, namespaces,
// security contexts, labels the agent finds its containers by, and the annotations it reads back
// after a restart (spec hash, restart count, termination message settings).

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeObject } from '../../api/meta/v1.js';
import type { KubeletPaths } from '../paths.js';
import {
  ANNOTATION_CONTAINER_HASH,
  ANNOTATION_PRESTOP_GRACE,
  ANNOTATION_RESTART_COUNT,
  ANNOTATION_TERMINATION_MESSAGE_PATH,
  ANNOTATION_TERMINATION_MESSAGE_POLICY,
  LABEL_CONTAINER_NAME,
  LABEL_POD_NAME,
  LABEL_POD_NAMESPACE,
  LABEL_POD_UID,
  type ContainerConfig,
  type DNSConfig,
  type KeyValue,
  type LinuxContainerResources,
  type Mount,
  type NamespaceOption,
  type PodSandboxConfig,
  type PortMapping,
} from '../runtime/runtime.js';

export interface DNSSettings {
  /** Cluster DNS server IPs (--cluster-dns); empty: pods use the host's resolv.conf. */
  clusterDNS: string[];
  clusterDomain: string;
  resolvConf: string;
}

export function podLabels(pod: KubeObject): Record<string, string> {
  return {
    ...(pod.metadata.labels ?? {}),
    [LABEL_POD_NAME]: pod.metadata.name!,
    [LABEL_POD_NAMESPACE]: pod.metadata.namespace!,
    [LABEL_POD_UID]: pod.metadata.uid!,
  };
}

function hostResolv(path: string): DNSConfig {
  const out: DNSConfig = { servers: [], searches: [], options: [] };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [k, ...rest] = line.trim().split(/\s+/);
    if (k === 'nameserver' && rest[0]) out.servers.push(rest[0]);
    else if (k === 'search') out.searches.push(...rest);
    else if (k === 'options') out.options.push(...rest);
  }
  return out;
}

/** Upstream's DNS policies: ClusterFirst, ClusterFirstWithHostNet, Default, None (+ dnsConfig). */
export function podDNS(pod: KubeObject, dns: DNSSettings): DNSConfig | undefined {
  const spec = pod.spec ?? {};
  let policy: string = spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && spec.hostNetwork) policy = 'Default';
  if (policy === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  let out: DNSConfig;
  if (policy === 'None') out = { servers: [], searches: [], options: [] };
  else if (policy === 'ClusterFirst' && dns.clusterDNS.length) {
    const ns = pod.metadata.namespace;
    const host = hostResolv(dns.resolvConf);
    out = {
      servers: [...dns.clusterDNS],
      searches: [`${ns}.svc.${dns.clusterDomain}`, `svc.${dns.clusterDomain}`, dns.clusterDomain, ...host.searches],
      options: ['ndots:5'],
    };
  } else out = hostResolv(dns.resolvConf);
  const extra = spec.dnsConfig;
  if (extra) {
    out.servers.push(...(extra.nameservers ?? []));
    out.searches.push(...(extra.searches ?? []));
    for (const o of extra.options ?? []) {
      const opt = o.value !== undefined ? `${o.name}:${o.value}` : o.name;
      const key = o.name;
      out.options = out.options.filter((x) => x.split(':')[0] !== key);
      out.options.push(opt);
    }
  }
  out.searches = [...new Set(out.searches)].slice(0, 32);
  out.servers = out.servers.slice(0, 3);
  return out;
}

export function namespaceOptions(pod: KubeObject): NamespaceOption {
  const spec = pod.spec ?? {};
  return {
    network: spec.hostNetwork ? 'NODE' : 'POD',
    pid: spec.hostPID ? 'NODE' : spec.shareProcessNamespace ? 'POD' : 'CONTAINER',
    ipc: spec.hostIPC ? 'NODE' : 'POD',
  };
}

function int64(v: unknown) {
  return v === undefined || v === null ? undefined : { value: String(v) };
}

export function sandboxConfig(pod: KubeObject, o: { attempt: number; paths: KubeletPaths; dns: DNSSettings; cgroupParent?: string }): PodSandboxConfig {
  const spec = pod.spec ?? {};
  const meta = pod.metadata;
  const ports: PortMapping[] = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (!p.hostPort) continue;
      ports.push({ protocol: (p.protocol ?? 'TCP').toUpperCase(), container_port: p.containerPort, host_port: p.hostPort, host_ip: p.hostIP ?? '' });
    }
  }
  const psc = spec.securityContext ?? {};
  const sysctls: Record<string, string> = {};
  for (const s of psc.sysctls ?? []) sysctls[s.name] = String(s.value);
  let hostname: string | undefined = spec.hostNetwork ? undefined : (spec.hostname ?? meta.name!).slice(0, 63).replace(/[-.]+$/, '');
  return {
    metadata: { name: meta.name!, uid: meta.uid!, namespace: meta.namespace!, attempt: o.attempt },
    hostname,
    log_directory: o.paths.podLogDir(meta.namespace!, meta.name!, meta.uid!),
    dns_config: podDNS(pod, o.dns),
    port_mappings: ports,
    labels: podLabels(pod),
    annotations: { ...(meta.annotations ?? {}) },
    linux: {
      cgroup_parent: o.cgroupParent ?? '',
      security_context: {
        namespace_options: namespaceOptions(pod),
        run_as_user: int64(psc.runAsUser),
        run_as_group: int64(psc.runAsGroup),
        supplemental_groups: (psc.supplementalGroups ?? []).map(String),
        privileged: [...(spec.initContainers ?? []), ...(spec.containers ?? [])].some((c: any) => c.securityContext?.privileged),
        seccomp: psc.seccompProfile ? seccomp(psc.seccompProfile) : undefined,
      },
      sysctls,
    },
  };
}

function seccomp(p: { type: string; localhostProfile?: string }) {
  if (p.type === 'RuntimeDefault') return { profile_type: 'RuntimeDefault' };
  if (p.type === 'Localhost') return { profile_type: 'Localhost', localhost_ref: p.localhostProfile ?? '' };
  return { profile_type: 'Unconfined' };
}

/** A hash of the container's spec: a change restarts the container (upstream's container hash). */
export function containerHash(container: unknown): string {
  return createHash('sha256').update(JSON.stringify(container)).digest('hex').slice(0, 16);
}

function capabilities(list: string[] | undefined): string[] | undefined {
  if (!list) return undefined;
  return list.map((c) => (c.toUpperCase() === 'ALL' ? 'ALL' : c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`));
}

export function containerConfig(
  pod: KubeObject,
  container: any,
  o: {
    restartCount: number;
    imageRef: string;
    command: string[];
    args: string[];
    envs: KeyValue[];
    mounts: Mount[];
    resources?: LinuxContainerResources;
  },
): ContainerConfig {
  const psc = pod.spec?.securityContext ?? {};
  const sc = container.securityContext ?? {};
  const runAsUser = sc.runAsUser ?? psc.runAsUser;
  const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
  const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
  return {
    metadata: { name: container.name, attempt: o.restartCount },
    image: { image: o.imageRef },
    command: o.command,
    args: o.args,
    working_dir: container.workingDir ?? '',
    envs: o.envs,
    mounts: o.mounts,
    labels: {
      [LABEL_POD_NAME]: pod.metadata.name!,
      [LABEL_POD_NAMESPACE]: pod.metadata.namespace!,
      [LABEL_POD_UID]: pod.metadata.uid!,
      [LABEL_CONTAINER_NAME]: container.name,
    },
    annotations: {
      [ANNOTATION_CONTAINER_HASH]: containerHash(container),
      [ANNOTATION_RESTART_COUNT]: String(o.restartCount),
      [ANNOTATION_TERMINATION_MESSAGE_PATH]: container.terminationMessagePath ?? '/dev/termination-log',
      [ANNOTATION_TERMINATION_MESSAGE_POLICY]: container.terminationMessagePolicy ?? 'File',
      [ANNOTATION_PRESTOP_GRACE]: String(grace),
    },
    log_path: `${container.name}/${o.restartCount}.log`,
    stdin: !!container.stdin,
    stdin_once: !!container.stdinOnce,
    tty: !!container.tty,
    linux: {
      resources: o.resources,
      security_context: {
        capabilities: sc.capabilities ? { add_capabilities: capabilities(sc.capabilities.add), drop_capabilities: capabilities(sc.capabilities.drop) } : undefined,
        privileged: !!sc.privileged,
        namespace_options: namespaceOptions(pod),
        run_as_user: int64(runAsUser),
        run_as_group: int64(runAsGroup),
        run_as_username: '',
        readonly_rootfs: !!sc.readOnlyRootFilesystem,
        supplemental_groups: (psc.supplementalGroups ?? []).map(String),
        no_new_privs: sc.allowPrivilegeEscalation === false,
        seccomp: sc.seccompProfile ? seccomp(sc.seccompProfile) : psc.seccompProfile ? seccomp(psc.seccompProfile) : undefined,
      },
    },
  };
}
