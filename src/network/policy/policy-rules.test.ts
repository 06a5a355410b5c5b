import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeObject } from '../../api/meta/v1.js';
import { computePodPolicies, type PolicyState } from './allow-lists.js';
import { buildCleanupRules, buildPolicyRules, egressChain, FORWARD_CHAIN, ingressChain, parseExistingRules } from './policy-rules.js';

function pod(ns: string, name: string, ip: string, labels: Record<string, string>, o: { node?: string; ports?: object[]; phase?: string; hostNetwork?: boolean } = {}): KubeObject {
  return {
    metadata: { namespace: ns, name, labels },
    spec: { nodeName: o.node ?? 'n1', hostNetwork: o.hostNetwork, containers: [{ name: 'c', ports: o.ports ?? [] }] },
    status: { phase: o.phase ?? 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}
const ns = (name: string, labels: Record<string, string> = {}): KubeObject => ({ metadata: { name, labels } });
const np = (namespace: string, name: string, spec: object): KubeObject => ({ metadata: { namespace, name }, spec });

const pods = [
  pod('prod', 'client', '10.1.0.2', { app: 'client' }),
  pod('prod', 'web', '10.1.0.3', { app: 'web' }, { ports: [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
  pod('dev', 'client', '10.1.0.4', { app: 'client' }),
  pod('dev', 'remote', '10.2.0.9', { app: 'web' }, { node: 'n2', ports: [{ name: 'http', containerPort: 9090 }] }),
];
const namespaces = [ns('prod', { env: 'prod' }), ns('dev', { env: 'dev' })];
const state = (policies: KubeObject[]): PolicyState => ({ nodeName: 'n1', pods, namespaces, policies });
const policyOf = (policies: KubeObject[], name: string) => computePodPolicies(state(policies)).find((p) => p.name === name && p.namespace === 'prod');

test('no policy: nothing isolated, only the dispatch chain and its jump', () => {
  const text = buildPolicyRules(state([]));
  assert.equal(
    text,
    [
      '*filter',
      `:${FORWARD_CHAIN} - [0:0]`,
      `-A ${FORWARD_CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-I FORWARD 1 -m comment --comment "k8ts network policies" -j ${FORWARD_CHAIN}`,
      'COMMIT',
      '',
    ].join('\n'),
  );
});

test('default deny: an empty podSelector isolates every pod of the namespace for ingress only', () => {
  const policies = [np('prod', 'deny', { podSelector: {} })];
  const pp = computePodPolicies(state(policies));
  assert.deepEqual(pp.map((p) => [p.namespace, p.name, p.ingress?.length, p.egress]), [
    ['prod', 'client', 0, undefined],
    ['prod', 'web', 0, undefined],
  ]);
  const text = buildPolicyRules(state(policies));
  const web = ingressChain('10.1.0.3');
  assert.equal(web, 'K8TS-NWPLCY-I-0A010003');
  assert.match(text, new RegExp(`^-A ${FORWARD_CHAIN} -d 10.1.0.3/32 -m comment --comment "prod/web ingress" -j ${web}$`, 'm'));
  assert.match(text, new RegExp(`^-A ${web} -m comment --comment "prod/web ingress not allowed by prod/deny" -j DROP$`, 'm'));
  assert.doesNotMatch(text, /-E-/);
});

test('podSelector peers are in the policy namespace; namespaceSelector and both together (AND)', () => {
  const same = policyOf([np('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] })], 'web');
  assert.deepEqual(same?.ingress, [{ peer: '10.1.0.2/32' }]);
  const anyNs = policyOf([np('prod', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] })], 'web');
  assert.deepEqual(anyNs?.ingress?.map((e) => e.peer), ['10.1.0.2/32', '10.1.0.3/32', '10.1.0.4/32', '10.2.0.9/32']);
  const both = policyOf([np('prod', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { app: 'client' } } }] }] })], 'web');
  assert.deepEqual(both?.ingress, [{ peer: '10.1.0.4/32' }]);
  // Two peers are a union, and the namespace name label works without being set.
  const union = policyOf(
    [np('prod', 'p', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }, { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dev' } } }] }] })],
    'web',
  );
  assert.deepEqual(union?.ingress?.map((e) => e.peer), ['10.1.0.2/32', '10.1.0.4/32', '10.2.0.9/32']);
});

test('rules and policies are unions; an empty rule allows everything', () => {
  const p = policyOf(
    [
      np('prod', 'a', { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80 }] }] }),
      np('prod', 'b', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ protocol: 'UDP', port: 53 }] }] }),
    ],
    'web',
  );
  assert.deepEqual(p?.ingress, [
    { protocol: 'UDP', port: 53 },
    { peer: '10.1.0.2/32', protocol: 'TCP', port: 80 },
  ]);
  assert.deepEqual(p?.policies, ['prod/a', 'prod/b']);
  const all = policyOf([np('prod', 'a', { podSelector: {}, ingress: [{}] })], 'web');
  assert.deepEqual(all?.ingress, [{}]);
  const text = buildPolicyRules(state([np('prod', 'a', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{}] })]));
  assert.match(text, /^-A K8TS-NWPLCY-I-0A010003 -j RETURN$/m);
});

test('ports: protocol, number, endPort range, named ports from the target pod', () => {
  const p = policyOf(
    [np('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ ports: [{ port: 8000, endPort: 8100 }, { port: 'http' }, { protocol: 'UDP', port: 'dns' }, { port: 'nope' }, { protocol: 'SCTP' }] }] })],
    'web',
  );
  assert.deepEqual(p?.ingress, [
    { protocol: 'SCTP' },
    { protocol: 'TCP', port: 8000, endPort: 8100 },
    { protocol: 'TCP', port: 8080 },
    { protocol: 'UDP', port: 53 },
  ]);
  const text = buildPolicyRules(state([np('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 8000, endPort: 8100 }, { protocol: 'SCTP' }] }] })]));
  assert.match(text, /^-A K8TS-NWPLCY-I-0A010003 -s 10.1.0.2\/32 -p tcp -m tcp --dport 8000:8100 -j RETURN$/m);
  assert.match(text, /^-A K8TS-NWPLCY-I-0A010003 -s 10.1.0.3\/32 -p sctp -j RETURN$/m);
  // Only unresolvable named ports: the rule allows nothing (not everything).
  const none = policyOf([np('prod', 'p', { podSelector: { matchLabels: { app: 'client' } }, ingress: [{ ports: [{ port: 'http' }] }] })], 'client');
  assert.deepEqual(none?.ingress, []);
});

test('ipBlock with except becomes the remaining prefixes', () => {
  const p = policyOf([np('prod', 'p', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/29', except: ['10.1.0.2/32', '10.1.0.6/31'] } }] }] })], 'web');
  assert.deepEqual(p?.ingress?.map((e) => e.peer), ['10.1.0.0/31', '10.1.0.3/32', '10.1.0.4/31']);
});

test('egress: default types add Egress when egress rules exist; named ports resolve per destination pod', () => {
  const policies = [np('prod', 'e', { podSelector: { matchLabels: { app: 'client' } }, egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] }] })];
  const p = policyOf(policies, 'client');
  assert.deepEqual(p?.ingress, []);
  assert.deepEqual(p?.egress, [
    { peer: '10.1.0.3/32', protocol: 'TCP', port: 8080 },
    { peer: '10.2.0.9/32', protocol: 'TCP', port: 9090 },
  ]);
  const text = buildPolicyRules(state(policies));
  const chain = egressChain('10.1.0.2');
  assert.match(text, new RegExp(`^-A ${FORWARD_CHAIN} -s 10.1.0.2/32 -m comment --comment "prod/client egress" -j ${chain}$`, 'm'));
  assert.match(text, new RegExp(`^-A ${chain} -d 10.1.0.3/32 -p tcp -m tcp --dport 8080 -j RETURN$`, 'm'));
  assert.match(text, new RegExp(`^-A ${chain} -m comment --comment "prod/client egress not allowed by prod/e" -j DROP$`, 'm'));
  // Egress only: not isolated for ingress.
  const eonly = policyOf([np('prod', 'e', { podSelector: {}, policyTypes: ['Egress'] })], 'web');
  assert.deepEqual([eonly?.ingress, eonly?.egress], [undefined, []]);
  // A named port with no `to`: every pod that has it.
  const anyDest = policyOf([np('prod', 'e', { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'http' }] }] })], 'client');
  assert.deepEqual(anyDest?.egress?.map((e) => `${e.peer}:${e.port}`), ['10.1.0.3/32:8080', '10.2.0.9/32:9090']);
});

test('remote, finished and host-network pods are not enforced here; bad input is reported, not thrown', () => {
  const problems: string[] = [];
  const extra = [...pods, pod('prod', 'done', '10.1.0.7', {}, { phase: 'Succeeded' }), pod('prod', 'host', '192.168.1.5', {}, { hostNetwork: true })];
  const pp = computePodPolicies(
    {
      nodeName: 'n1',
      pods: extra,
      namespaces,
      policies: [
        np('prod', 'bad', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: 'nonsense' } }, {}], ports: [{ protocol: 'ICMP' }] }] }),
        np('dev', 'badsel', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Near' }] } }),
      ],
    },
    (m) => problems.push(m),
  );
  assert.deepEqual(pp.map((p) => `${p.namespace}/${p.name}`), ['prod/client', 'prod/web']);
  assert.deepEqual(pp[0].ingress, []);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /ipBlock.cidr "nonsense"/);
  assert.match(problems.join('\n'), /unsupported protocol "ICMP"/);
});

test('existing rules: stale chains are flushed and deleted, the jump kept once and first; cleanup removes everything', () => {
  const save = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    `:${FORWARD_CHAIN} - [0:0]`,
    ':K8TS-NWPLCY-I-0A0100FF - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    `-A FORWARD -m comment --comment "k8ts network policies" -j ${FORWARD_CHAIN}`,
    '-A FORWARD -j KUBE-FORWARD',
    `-A ${FORWARD_CHAIN} -d 10.1.0.255/32 -j K8TS-NWPLCY-I-0A0100FF`,
    'COMMIT',
  ].join('\n');
  const existing = parseExistingRules(save);
  assert.deepEqual(existing, {
    chains: [FORWARD_CHAIN, 'K8TS-NWPLCY-I-0A0100FF'],
    forwardJumps: [`-A FORWARD -m comment --comment "k8ts network policies" -j ${FORWARD_CHAIN}`],
    jumpIsFirst: true,
  });
  const text = buildPolicyRules({ ...state([]), existing });
  assert.match(text, /^:K8TS-NWPLCY-I-0A0100FF - \[0:0\]$/m);
  assert.match(text, /^-X K8TS-NWPLCY-I-0A0100FF$/m);
  assert.doesNotMatch(text, /FORWARD 1|-D FORWARD/);
  // Not first any more (someone inserted before us): moved back to the top.
  const moved = buildPolicyRules({ ...state([]), existing: { ...existing, jumpIsFirst: false } });
  assert.match(moved, new RegExp(`^-D FORWARD -m comment --comment "k8ts network policies" -j ${FORWARD_CHAIN}\n-I FORWARD 1 `, 'm'));
  assert.equal(
    buildCleanupRules(existing),
    [
      '*filter',
      `:${FORWARD_CHAIN} - [0:0]`,
      ':K8TS-NWPLCY-I-0A0100FF - [0:0]',
      `-D FORWARD -m comment --comment "k8ts network policies" -j ${FORWARD_CHAIN}`,
      `-X ${FORWARD_CHAIN}`,
      '-X K8TS-NWPLCY-I-0A0100FF',
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.equal(buildCleanupRules({ chains: [], forwardJumps: [] }), '');
});
