// networking.k8s.io/v1 (ingresses, ingressclasses, networkpolicies) and
// rbac.authorization.k8s.io/v1 (roles, rolebindings, clusterroles, clusterrolebindings).

import { type FieldError, fieldErr, FieldPath } from '../../machinery/field-errors.js';
import { selectorToString, validateLabelSelector } from '../../machinery/labels.js';
import { isDNS1123Subdomain, isStrictSubnet, isValidCIDR, isValidPortName, isValidPortNum, parseCIDR } from '../../machinery/validation.js';
import { labelSelector } from '../meta/v1.js';
import { age, col } from '../printing.js';
import type { ResourceDef } from '../resource.js';
import { arr, enumOf, int32, intOrString, named, obj, str, type Schema } from '../schema.js';
import { createdAtColumns, defineKind } from './define.js';
import { typedLocalObjectReference } from './pod-spec.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const NET = 'io.k8s.api.networking.v1';
const nn = (name: string, s: Schema) => named(`${NET}.${name}`, s);
const net = { group: 'networking.k8s.io', version: 'v1', pkg: NET };
const root = new FieldPath();

// ---- ingresses ---------------------------------------------------------------------------------

const serviceBackendPort = nn('ServiceBackendPort', obj({ name: str(), number: int32() }));
const ingressBackend = nn(
  'IngressBackend',
  obj({ resource: typedLocalObjectReference, service: nn('IngressServiceBackend', obj({ name: str(), port: serviceBackendPort }, { required: ['name'] })) }),
);
const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];

function validateBackend(b: Obj | undefined, p: FieldPath, errs: FieldError[]): void {
  if (!b) return;
  if (b.service && b.resource) errs.push(fieldErr.invalid(p, '', 'cannot set both resource and service backends'));
  else if (!b.service && !b.resource) errs.push(fieldErr.invalid(p, '', 'resource or service backend is required'));
  if (b.service) {
    if (!b.service.name) errs.push(fieldErr.required(p.child('service', 'name'), ''));
    const port = b.service.port ?? {};
    if (port.name && port.number) errs.push(fieldErr.invalid(p.child('service', 'port'), port, 'cannot set both port name & port number'));
    else if (!port.name && !port.number) errs.push(fieldErr.invalid(p.child('service', 'port'), port, 'port name or number is required'));
    if (port.number !== undefined && (port.number < 1 || port.number > 65535)) errs.push(fieldErr.invalid(p.child('service', 'port', 'number'), port.number, 'must be between 1 and 65535, inclusive'));
  }
}

function validateIngress(o: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const p = root.child('spec');
  const s = o.spec ?? {};
  if (!s.defaultBackend && !(s.rules ?? []).length) errs.push(fieldErr.invalid(p, s, 'either `defaultBackend` or `rules` must be specified'));
  validateBackend(s.defaultBackend, p.child('defaultBackend'), errs);
  (s.rules ?? []).forEach((r: Obj, i: number) => {
    const rp = p.child('rules').index(i);
    if (r.host) {
      const h = r.host.startsWith('*.') ? r.host.slice(2) : r.host;
      for (const m of isDNS1123Subdomain(h)) errs.push(fieldErr.invalid(rp.child('host'), r.host, m));
    }
    (r.http?.paths ?? []).forEach((path: Obj, j: number) => {
      const pp = rp.child('http', 'paths').index(j);
      if (!path.pathType) errs.push(fieldErr.required(pp.child('pathType'), 'pathType must be specified'));
      else if (!PATH_TYPES.includes(path.pathType)) errs.push(fieldErr.notSupported(pp.child('pathType'), path.pathType, PATH_TYPES));
      if (path.pathType !== 'ImplementationSpecific' && path.path !== undefined && !String(path.path).startsWith('/')) errs.push(fieldErr.invalid(pp.child('path'), path.path, "must be an absolute path"));
      if (!path.backend) errs.push(fieldErr.required(pp.child('backend'), ''));
      validateBackend(path.backend, pp.child('backend'), errs);
    });
    if (r.http && !(r.http.paths ?? []).length) errs.push(fieldErr.required(rp.child('http', 'paths'), ''));
  });
  return errs;
}

function ingressPorts(o: Obj): string {
  return (o.spec?.tls ?? []).length ? '80, 443' : '80';
}

const ingresses = defineKind({
  ...net,
  kind: 'Ingress',
  plural: 'ingresses',
  namespaced: true,
  shortNames: ['ing'],
  status: true,
  properties: {
    spec: nn(
      'IngressSpec',
      obj({
        defaultBackend: ingressBackend,
        ingressClassName: str(),
        rules: arr(
          nn(
            'IngressRule',
            obj({
              host: str(),
              http: nn(
                'HTTPIngressRuleValue',
                obj({ paths: arr(nn('HTTPIngressPath', obj({ backend: ingressBackend, path: str(), pathType: enumOf(PATH_TYPES) }, { required: ['pathType', 'backend'] })), { listType: 'atomic' }) }, { required: ['paths'] }),
              ),
            }),
          ),
          { listType: 'atomic' },
        ),
        tls: arr(nn('IngressTLS', obj({ hosts: arr(str(), { listType: 'atomic' }), secretName: str() })), { listType: 'atomic' }),
      }),
    ),
    status: nn(
      'IngressStatus',
      obj({
        loadBalancer: nn(
          'IngressLoadBalancerStatus',
          obj({ ingress: arr(nn('IngressLoadBalancerIngress', obj({ hostname: str(), ip: str(), ports: arr(obj({ error: str(), port: int32(), protocol: str() }), { listType: 'atomic' }) })), { listType: 'atomic' }) }),
        ),
      }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    validate: (o) => validateIngress(o),
    validateUpdate: (o, _old, ctx) => (ctx.subresource === 'status' ? [] : validateIngress(o)),
  },
  columns: [col('Class'), col('Hosts'), col('Address'), col('Ports'), col('Age')],
  cells: (o, now) => {
    const hosts = ((o.spec?.rules ?? []) as Obj[]).map((r) => r.host || '*');
    const addrs = ((o.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip || i.hostname).filter(Boolean);
    return [o.spec?.ingressClassName ?? '<none>', hosts.length ? hosts.join(',') : '*', addrs.join(','), ingressPorts(o), age(o.metadata.creationTimestamp, now)];
  },
});

/** The IngressClass annotation that makes it the default (DefaultIngressClass admission, controllers). */
export const DEFAULT_INGRESS_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
/** The pre-IngressClass way for an Ingress to pick a controller, still honoured. */
export const LEGACY_INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

const ingressclasses = defineKind({
  ...net,
  kind: 'IngressClass',
  plural: 'ingressclasses',
  namespaced: false,
  properties: {
    spec: nn(
      'IngressClassSpec',
      obj({ controller: str(), parameters: nn('IngressClassParametersReference', obj({ apiGroup: str(), kind: str(), name: str(), namespace: str(), scope: str() }, { required: ['kind', 'name'] })) }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    validate(o) {
      const errs: FieldError[] = [];
      if (o.spec?.controller && o.spec.controller.length > 250) errs.push(fieldErr.tooLong('spec.controller', '', 250));
      return errs;
    },
    validateUpdate(o, old) {
      if (o.spec?.controller !== old.spec?.controller) return [fieldErr.invalid('spec.controller', o.spec?.controller, 'field is immutable')];
      return [];
    },
  },
  columns: [col('Controller'), col('Parameters'), col('Age')],
  cells: (o, now) => {
    const pr = o.spec?.parameters;
    return [o.spec?.controller ?? '', pr ? `${pr.kind}/${pr.name}` : '<none>', age(o.metadata.creationTimestamp, now)];
  },
});

// Upstream's ValidateNetworkPolicySpec: selectors, ports (protocol, port number or name, endPort
// range), peers (exactly one kind, ipBlock alone, except a strict subset of cidr), policyTypes.
function validateNetworkPolicySpec(spec: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const sp = root.child('spec');
  errs.push(...validateLabelSelector(spec.podSelector, sp.child('podSelector')));
  const rules = (kind: 'ingress' | 'egress', peers: 'from' | 'to') =>
    ((spec[kind] ?? []) as Obj[]).forEach((rule, i) => {
      const rp = sp.child(kind).index(i);
      ((rule?.ports ?? []) as Obj[]).forEach((port, j) => validateNetworkPolicyPort(port ?? {}, rp.child('ports').index(j), errs));
      ((rule?.[peers] ?? []) as Obj[]).forEach((peer, j) => validateNetworkPolicyPeer(peer ?? {}, rp.child(peers).index(j), errs));
    });
  rules('ingress', 'from');
  rules('egress', 'to');
  const types = (spec.policyTypes ?? []) as string[];
  if (types.length > 2) {
    errs.push(fieldErr.invalid(sp.child('policyTypes'), types, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errs.push(fieldErr.notSupported(sp.child('policyTypes').index(i), t, ['Ingress', 'Egress']));
  });
  return errs;
}

function validateNetworkPolicyPort(port: Obj, p: FieldPath, errs: FieldError[]): void {
  if (port.protocol !== undefined && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) errs.push(fieldErr.notSupported(p.child('protocol'), port.protocol, ['TCP', 'UDP', 'SCTP']));
  const end = port.endPort;
  if (port.port === undefined || port.port === null) {
    if (end !== undefined) errs.push(fieldErr.invalid(p.child('endPort'), end, 'may not be specified when `port` is not specified'));
  } else if (typeof port.port === 'number') {
    for (const m of isValidPortNum(port.port)) errs.push(fieldErr.invalid(p.child('port'), port.port, m));
    if (end !== undefined) {
      if (end < port.port) errs.push(fieldErr.invalid(p.child('endPort'), end, 'must be greater than or equal to `port`'));
      for (const m of isValidPortNum(end)) errs.push(fieldErr.invalid(p.child('endPort'), end, m));
    }
  } else {
    if (end !== undefined) errs.push(fieldErr.invalid(p.child('endPort'), end, 'may not be specified when `port` is non-numeric'));
    for (const m of isValidPortName(String(port.port))) errs.push(fieldErr.invalid(p.child('port'), port.port, m));
  }
}

function validateNetworkPolicyPeer(peer: Obj, p: FieldPath, errs: FieldError[]): void {
  let n = 0;
  if (peer.podSelector) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, p.child('podSelector')));
  }
  if (peer.namespaceSelector) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, p.child('namespaceSelector')));
  }
  if (peer.ipBlock) {
    n++;
    const bp = p.child('ipBlock');
    const cidr = peer.ipBlock.cidr ?? '';
    if (cidr === '') errs.push(fieldErr.required(bp.child('cidr'), ''));
    else {
      for (const m of isValidCIDR(cidr)) errs.push(fieldErr.invalid(bp.child('cidr'), cidr, m));
      const outer = parseCIDR(cidr);
      if (outer) {
        ((peer.ipBlock.except ?? []) as string[]).forEach((ex, i) => {
          const ep = bp.child('except').index(i);
          for (const m of isValidCIDR(ex)) errs.push(fieldErr.invalid(ep, ex, m));
          const inner = parseCIDR(ex);
          if (inner && !isStrictSubnet(inner, outer)) errs.push(fieldErr.invalid(ep, ex, 'must be a strict subset of `cidr`'));
        });
      }
    }
  }
  if (n === 0) errs.push(fieldErr.required(p, 'must specify a peer'));
  else if (n > 1 && peer.ipBlock) errs.push(fieldErr.forbidden(p, 'may not specify both ipBlock and another peer'));
}

const npPort = nn('NetworkPolicyPort', obj({ endPort: int32(), port: intOrString(), protocol: str() }));
const npPeer = nn(
  'NetworkPolicyPeer',
  obj({ ipBlock: nn('IPBlock', obj({ cidr: str(), except: arr(str(), { listType: 'atomic' }) }, { required: ['cidr'] })), namespaceSelector: labelSelector, podSelector: labelSelector }),
);

const networkpolicies = defineKind({
  ...net,
  kind: 'NetworkPolicy',
  plural: 'networkpolicies',
  namespaced: true,
  shortNames: ['netpol'],
  properties: {
    spec: nn(
      'NetworkPolicySpec',
      obj({
        egress: arr(nn('NetworkPolicyEgressRule', obj({ ports: arr(npPort, { listType: 'atomic' }), to: arr(npPeer, { listType: 'atomic' }) })), { listType: 'atomic' }),
        ingress: arr(nn('NetworkPolicyIngressRule', obj({ from: arr(npPeer, { listType: 'atomic' }), ports: arr(npPort, { listType: 'atomic' }) })), { listType: 'atomic' }),
        podSelector: labelSelector,
        policyTypes: arr(str(), { listType: 'atomic' }),
      }),
    ),
  },
  strategy: {
    tracksGeneration: true,
    defaults(o) {
      const s = (o.spec ??= {});
      s.podSelector ??= {};
      if (!s.policyTypes) {
        s.policyTypes = ['Ingress'];
        if ((s.egress ?? []).length) s.policyTypes.push('Egress');
      }
      for (const r of [...(s.ingress ?? []), ...(s.egress ?? [])]) for (const port of r.ports ?? []) port.protocol ??= 'TCP';
    },
    validate: (o) => validateNetworkPolicySpec(o.spec ?? {}),
  },
  columns: [col('Pod-Selector'), col('Age')],
  cells: (o, now) => {
    let sel = '';
    try {
      sel = selectorToString(o.spec?.podSelector ?? {});
    } catch {
      sel = '';
    }
    return [sel || '<none>', age(o.metadata.creationTimestamp, now)];
  },
});

// ---- rbac --------------------------------------------------------------------------------------

const RBAC = 'io.k8s.api.rbac.v1';
const rn = (name: string, s: Schema) => named(`${RBAC}.${name}`, s);
const rbac = { group: 'rbac.authorization.k8s.io', version: 'v1', pkg: RBAC };

const policyRule = rn(
  'PolicyRule',
  obj(
    {
      apiGroups: arr(str(), { listType: 'atomic' }),
      nonResourceURLs: arr(str(), { listType: 'atomic' }),
      resourceNames: arr(str(), { listType: 'atomic' }),
      resources: arr(str(), { listType: 'atomic' }),
      verbs: arr(str(), { listType: 'atomic' }),
    },
    { required: ['verbs'] },
  ),
);
const subject = rn('Subject', obj({ apiGroup: str(), kind: str(), name: str(), namespace: str() }, { required: ['kind', 'name'], 'x-kubernetes-map-type': 'atomic' }));
const roleRef = rn('RoleRef', obj({ apiGroup: str(), kind: str(), name: str() }, { required: ['apiGroup', 'kind', 'name'], 'x-kubernetes-map-type': 'atomic' }));

function validateRules(rules: Obj[] | undefined, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  (rules ?? []).forEach((r, i) => {
    const p = root.child('rules').index(i);
    if (!(r.verbs ?? []).length) errs.push(fieldErr.required(p.child('verbs'), 'verbs must contain at least one value'));
    if ((r.nonResourceURLs ?? []).length) {
      if (namespaced) errs.push(fieldErr.invalid(p.child('nonResourceURLs'), r.nonResourceURLs, 'namespaced rules cannot apply to non-resource URLs'));
      if ((r.apiGroups ?? []).length || (r.resources ?? []).length) errs.push(fieldErr.invalid(p.child('nonResourceURLs'), r.nonResourceURLs, 'rules cannot apply to both regular resources and non-resource URLs'));
    } else {
      if (!(r.apiGroups ?? []).length) errs.push(fieldErr.required(p.child('apiGroups'), 'resource rules must supply at least one api group'));
      if (!(r.resources ?? []).length) errs.push(fieldErr.required(p.child('resources'), 'resource rules must supply at least one resource'));
    }
  });
  return errs;
}

function validateBinding(o: Obj, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const rr = o.roleRef ?? {};
  if (!rr.name) errs.push(fieldErr.required('roleRef.name', ''));
  const kinds = namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(rr.kind)) errs.push(fieldErr.notSupported('roleRef.kind', rr.kind, kinds));
  if (rr.apiGroup !== 'rbac.authorization.k8s.io') errs.push(fieldErr.notSupported('roleRef.apiGroup', rr.apiGroup, ['rbac.authorization.k8s.io']));
  (o.subjects ?? []).forEach((s: Obj, i: number) => {
    const p = root.child('subjects').index(i);
    if (!s.name) errs.push(fieldErr.required(p.child('name'), ''));
    if (!['ServiceAccount', 'User', 'Group'].includes(s.kind)) errs.push(fieldErr.notSupported(p.child('kind'), s.kind, ['ServiceAccount', 'User', 'Group']));
    if (s.kind === 'ServiceAccount' && !namespaced && !s.namespace) errs.push(fieldErr.required(p.child('namespace'), ''));
  });
  return errs;
}

function bindingDefaults(o: Obj): void {
  // SetDefaults_Subject: users and groups belong to the RBAC API group (service accounts to "").
  for (const s of o.subjects ?? []) {
    if ((s.kind === 'User' || s.kind === 'Group') && !s.apiGroup) s.apiGroup = 'rbac.authorization.k8s.io';
  }
}

function bindingCells(o: Obj): [string, string, string] {
  const subj = (o.subjects ?? []) as Obj[];
  const of = (k: string) => subj.filter((s) => s.kind === k).map((s) => (k === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : s.name)).join(', ');
  return [of('User'), of('Group'), of('ServiceAccount')];
}

const roles = defineKind({ ...rbac, kind: 'Role', plural: 'roles', namespaced: true, properties: { rules: arr(policyRule, { listType: 'atomic' }) }, strategy: { validate: (o) => validateRules(o.rules, true) }, ...createdAtColumns() });
const clusterroles = defineKind({
  ...rbac,
  kind: 'ClusterRole',
  plural: 'clusterroles',
  namespaced: false,
  properties: { aggregationRule: rn('AggregationRule', obj({ clusterRoleSelectors: arr(labelSelector, { listType: 'atomic' }) })), rules: arr(policyRule, { listType: 'atomic' }) },
  strategy: { validate: (o) => validateRules(o.rules, false) },
  ...createdAtColumns(),
});
const bindingColumns = (namespaced: boolean) => ({
  columns: [col('Role'), col('Age'), col('Users', { priority: 1 }), col('Groups', { priority: 1 }), col('ServiceAccounts', { priority: 1 })],
  cells: (o: Obj, now: number) => [`${o.roleRef?.kind}/${o.roleRef?.name}`, age(o.metadata?.creationTimestamp, now), ...bindingCells(o)],
  strategy: {
    defaults: (o: Obj) => bindingDefaults(o),
    validate: (o: Obj) => validateBinding(o, namespaced),
    validateUpdate(o: Obj, old: Obj) {
      const errs = validateBinding(o, namespaced);
      if (JSON.stringify(o.roleRef) !== JSON.stringify(old.roleRef)) errs.push(fieldErr.invalid('roleRef', o.roleRef, 'cannot change roleRef'));
      return errs;
    },
  },
});
const rolebindings = defineKind({
  ...rbac,
  kind: 'RoleBinding',
  plural: 'rolebindings',
  namespaced: true,
  properties: { roleRef, subjects: arr(subject, { listType: 'atomic' }) },
  required: ['roleRef'],
  ...bindingColumns(true),
});
const clusterrolebindings = defineKind({
  ...rbac,
  kind: 'ClusterRoleBinding',
  plural: 'clusterrolebindings',
  namespaced: false,
  properties: { roleRef, subjects: arr(subject, { listType: 'atomic' }) },
  required: ['roleRef'],
  ...bindingColumns(false),
});

export const networkingV1Resources: ResourceDef[] = [ingresses, ingressclasses, networkpolicies];
export const rbacV1Resources: ResourceDef[] = [roles, rolebindings, clusterroles, clusterrolebindings];
