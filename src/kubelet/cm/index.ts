// Container management: QoS classes, pod/QoS cgroups, CRI container resources.
export { CgroupManager, type CgroupManagerOptions, type StrayProcessPolicy } from './cgroup-manager.js';
export { getPodQOS, computePodQOS, containerOOMScoreAdj, type QOSClass } from './qos.js';
export { containerResources, podResourceConfig, podRequests, podLimits, milliCPUToShares, milliCPUToQuota } from './resources.js';
