// The DefaultIngressClass admission plugin: a new Ingress that names no class (neither
// spec.ingressClassName nor the legacy kubernetes.io/ingress.class annotation) gets the default
// IngressClass (annotation ingressclass.kubernetes.io/is-default-class: "true"); with several
// defaults, the newest (then the first by name), as upstream since 1.28.

import type { KubeObject } from '../../api/meta/v1.js';

import { DEFAULT_INGRESS_CLASS_ANNOTATION as DEFAULT_CLASS_ANNOTATION, LEGACY_INGRESS_CLASS_ANNOTATION as LEGACY_CLASS_ANNOTATION } from '../../api/builtin/networking-rbac.js';

export function admitIngressClass(ingress: KubeObject, classes: () => KubeObject[]): void {
  const spec = (ingress.spec ??= {});
  if (spec.ingressClassName !== undefined && spec.ingressClassName !== null) return;
  if (ingress.metadata.annotations && LEGACY_CLASS_ANNOTATION in ingress.metadata.annotations) return;
  const defaults = classes().filter((c) => c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true');
  if (!defaults.length) return;
  defaults.sort((a, b) => {
    const ta = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
    const tb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
    if (ta !== tb) return tb - ta;
    return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
  });
  spec.ingressClassName = defaults[0].metadata.name;
}
