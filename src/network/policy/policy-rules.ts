// The filter-table rules that enforce NetworkPolicy on this node, as iptables-restore input for
// `--noflush` (only our chains are touched). Layout:
//   FORWARD ─(first rule)─► K8TS-NWPLCY-FORWARD: replies of allowed flows (conntrack) RETURN;
//     `-s <pod IP>` → K8TS-NWPLCY-E-<hex IP> (egress), `-d <pod IP>` → K8TS-NWPLCY-I-<hex IP>;
//   each pod chain RETURNs what its allow-list permits and DROPs the rest.
// Our chains never ACCEPT: an allowed packet goes on through FORWARD, so the host's own rules
// (and the service proxy's) still apply. Traffic from the node to its pods (OUTPUT) and from pods
// to the node (INPUT) is not filtered, as upstream lets pods be reached by their own node.

import { computePodPolicies, type AllowEntry, type PodPolicy, type PolicyState } from './allow-lists.js';
import { ipv4Hex, parseIPv4 } from './ipv4.js';

export const CHAIN_PREFIX = 'K8TS-NWPLCY-';
export const FORWARD_CHAIN = 'K8TS-NWPLCY-FORWARD';
export const JUMP_COMMENT = 'k8ts network policies';

/** What our part of the filter table looks like now (from `iptables-save -t filter`). */
export interface ExistingRules {
  /** Our chains (K8TS-NWPLCY-*). */
  chains: string[];
  /** The FORWARD rules that jump to K8TS-NWPLCY-FORWARD, as iptables-save prints them (`-A FORWARD ...`). */
  forwardJumps: string[];
  /** Whether the first rule of FORWARD is one of those jumps. */
  jumpIsFirst?: boolean;
}

export function ingressChain(ip: string): string {
  return `${CHAIN_PREFIX}I-${ipv4Hex(parseIPv4(ip) ?? 0)}`;
}

export function egressChain(ip: string): string {
  return `${CHAIN_PREFIX}E-${ipv4Hex(parseIPv4(ip) ?? 0)}`;
}

export function parseExistingRules(iptablesSave: string): ExistingRules {
  const chains: string[] = [];
  const forwardJumps: string[] = [];
  let forwardRules = 0;
  let jumpIsFirst = false;
  for (const line of iptablesSave.split('\n')) {
    const chain = /^:(\S+)\s/.exec(line)?.[1];
    if (chain?.startsWith(CHAIN_PREFIX)) chains.push(chain);
    else if (line.startsWith('-A FORWARD ')) {
      forwardRules++;
      if (new RegExp(`\\s-j ${FORWARD_CHAIN}(\\s|$)`).test(line)) {
        forwardJumps.push(line.trim());
        if (forwardRules === 1) jumpIsFirst = true;
      }
    }
  }
  return { chains, forwardJumps, jumpIsFirst };
}

function quote(s: string): string {
  // iptables-restore splits on spaces and honours double quotes; comments are at most 256 bytes.
  return `"${s.replace(/["\\]/g, '').slice(0, 250)}"`;
}

function portMatch(e: AllowEntry): string {
  if (!e.protocol) return '';
  const p = e.protocol.toLowerCase();
  if (e.port === undefined) return ` -p ${p}`;
  return ` -p ${p} -m ${p} --dport ${e.port}${e.endPort !== undefined ? `:${e.endPort}` : ''}`;
}

function podChainRules(chain: string, pod: PodPolicy, entries: AllowEntry[], direction: 'ingress' | 'egress'): string[] {
  const peerFlag = direction === 'ingress' ? '-s' : '-d';
  const lines = entries.map((e) => `-A ${chain}${e.peer ? ` ${peerFlag} ${e.peer}` : ''}${portMatch(e)} -j RETURN`);
  lines.push(`-A ${chain} -m comment --comment ${quote(`${pod.namespace}/${pod.name} ${direction} not allowed by ${pod.policies.join(',')}`)} -j DROP`);
  return lines;
}

/** The rules for `state` (and the removal of stale chains in `existing`), as one iptables-restore transaction. */
export function buildPolicyRules(state: PolicyState & { existing?: ExistingRules }, report?: (message: string) => void): string {
  const pods = computePodPolicies(state, report);
  const existing = state.existing ?? { chains: [], forwardJumps: [] };
  const chains: string[] = [FORWARD_CHAIN];
  const dispatch: string[] = [`-A ${FORWARD_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`];
  const podRules: string[] = [];
  for (const pod of pods) {
    if (pod.egress) {
      const chain = egressChain(pod.ip);
      chains.push(chain);
      dispatch.push(`-A ${FORWARD_CHAIN} -s ${pod.ip}/32 -m comment --comment ${quote(`${pod.namespace}/${pod.name} egress`)} -j ${chain}`);
      podRules.push(...podChainRules(chain, pod, pod.egress, 'egress'));
    }
    if (pod.ingress) {
      const chain = ingressChain(pod.ip);
      chains.push(chain);
      dispatch.push(`-A ${FORWARD_CHAIN} -d ${pod.ip}/32 -m comment --comment ${quote(`${pod.namespace}/${pod.name} ingress`)} -j ${chain}`);
      podRules.push(...podChainRules(chain, pod, pod.ingress, 'ingress'));
    }
  }
  const wanted = new Set(chains);
  const stale = existing.chains.filter((c) => !wanted.has(c));
  const lines = ['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...stale.map((c) => `:${c} - [0:0]`), ...dispatch, ...podRules];
  lines.push(...stale.map((c) => `-X ${c}`));
  // Our chain must come first in FORWARD: a rule before it could ACCEPT a denied packet.
  // (`-D` removes the first identical rule, so duplicates are all removed and one inserted.)
  const keep = existing.jumpIsFirst && existing.forwardJumps.length === 1 ? 1 : 0;
  for (const extra of existing.forwardJumps.slice(keep)) lines.push(extra.replace(/^-A /, '-D '));
  if (!keep) lines.push(`-I FORWARD 1 -m comment --comment ${quote(JUMP_COMMENT)} -j ${FORWARD_CHAIN}`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Removes every chain and jump we added; empty when there is nothing to remove. */
export function buildCleanupRules(existing: ExistingRules): string {
  if (!existing.chains.length && !existing.forwardJumps.length) return '';
  const lines = ['*filter', ...existing.chains.map((c) => `:${c} - [0:0]`)];
  for (const j of existing.forwardJumps) lines.push(j.replace(/^-A /, '-D '));
  lines.push(...existing.chains.map((c) => `-X ${c}`), 'COMMIT', '');
  return lines.join('\n');
}
