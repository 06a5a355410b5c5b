// The service proxy (kube-proxy's iptables mode) and the built-in LoadBalancer (ServiceLB).
export { ServiceProxy, type ServiceProxyOptions, type SyncStats } from './proxier.js';
export { ServiceLBController, loadBalancerIngress } from './service-lb.js';
export { iptablesRunner, type IptablesRunner } from './iptables.js';
export { buildRules, buildRuleSet, renderRestore, buildCleanupRules, type ProxyRuleState } from './rules.js';
