// The pod's /etc/hosts, managed by the agent as upstream's kubelet does
// (https://kubernetes.io/docs/tasks/network/customize-hosts-file-for-pods/): written to
// <podDir>/etc-hosts and bind-mounted into every container that does not mount /etc/hosts itself.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../../api/meta/v1.js';
import type { KubeletPaths } from '../paths.js';
import type { Mount } from '../runtime/runtime.js';

export const ETC_HOSTS = '/etc/hosts';

export interface HostAlias {
  ip: string;
  hostnames?: string[];
}

function aliasEntries(aliases: HostAlias[] | undefined): string {
  if (!aliases?.length) return '';
  return '\n# Entries added by HostAliases.\n' + aliases.map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}\n`).join('');
}

export function managedHostsFileContent(podIPs: string[], hostname: string, domain: string, aliases?: HostAlias[]): string {
  let s = '# Kubernetes-managed hosts file.\n';
  s += '127.0.0.1\tlocalhost\n';
  s += '::1\tlocalhost ip6-localhost ip6-loopback\n';
  s += 'fe00::0\tip6-localnet\n';
  s += 'fe00::0\tip6-mcastprefix\n';
  s += 'fe00::1\tip6-allnodes\n';
  s += 'fe00::2\tip6-allrouters\n';
  for (const ip of podIPs) s += domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`;
  return s + aliasEntries(aliases);
}

/** hostNetwork pods see the node's hosts file, plus their hostAliases. */
export function nodeHostsFileContent(nodeHosts: string, aliases?: HostAlias[]): string {
  return '# Kubernetes-managed hosts file (host network).\n' + nodeHosts + aliasEntries(aliases);
}

/** The pod's hostname (spec.hostname or its name, at most 63 characters) and domain (`<subdomain>.<ns>.svc.<clusterDomain>`). */
export function podHostnameAndDomain(pod: KubeObject, clusterDomain = 'cluster.local'): { hostname: string; domain: string } {
  let hostname: string = pod.spec?.hostname || pod.metadata.name || '';
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, '');
  const sub: string | undefined = pod.spec?.subdomain;
  const domain = sub ? `${sub}.${pod.metadata.namespace ?? 'default'}.svc.${clusterDomain}` : '';
  return { hostname, domain };
}

export interface HostsFileOptions {
  /** The pod's IPs (for hostNetwork pods, the node's). No IPs: no managed file, as upstream. */
  podIPs: string[];
  clusterDomain?: string;
  /** The node's hosts file, for hostNetwork pods (default /etc/hosts). */
  nodeHostsFile?: string;
}

/** Writes <podDir>/etc-hosts and returns its mount, or undefined when the pod has no IP yet. */
export function ensureHostsFile(paths: KubeletPaths, pod: KubeObject, opts: HostsFileOptions): Mount | undefined {
  if (!opts.podIPs.length) return undefined;
  const aliases: HostAlias[] | undefined = pod.spec?.hostAliases;
  let content: string;
  if (pod.spec?.hostNetwork) {
    let nodeHosts = '';
    try {
      nodeHosts = readFileSync(opts.nodeHostsFile ?? ETC_HOSTS, 'utf8');
    } catch {
      // a node without /etc/hosts: only the aliases
    }
    content = nodeHostsFileContent(nodeHosts, aliases);
  } else {
    const { hostname, domain } = podHostnameAndDomain(pod, opts.clusterDomain);
    content = managedHostsFileContent(opts.podIPs, hostname, domain, aliases);
  }
  const dir = paths.podDir(pod.metadata.uid!);
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  const file = join(dir, 'etc-hosts');
  writeFileSync(file, content, { mode: 0o644 });
  return { container_path: ETC_HOSTS, host_path: file, readonly: false, selinux_relabel: true };
}
