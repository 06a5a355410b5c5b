// The node agent's NetworkPolicy enforcer: watches NetworkPolicies, Pods (all of them: peers can
// be anywhere) and Namespaces, and keeps the filter-table rules for this node's pods in line with
// them. Level-triggered: every sync rebuilds the whole rule set from the informers' caches and
// applies it as one `iptables-restore --noflush` transaction, which also drops stale chains.

import { readFileSync } from 'node:fs';
import type { KubeObject } from '../../api/meta/v1.js';
import type { Client } from '../../client/client.js';
import { SharedInformer } from '../../client/informer.js';
import { R, type GVR } from '../../client/resources.js';
import { isGone } from '../../client/transport.js';
import { iptablesRunner, type IptablesRunner } from './iptables-runner.js';
import { buildCleanupRules, buildPolicyRules, parseExistingRules } from './policy-rules.js';
import { type Logger } from '../../machinery/logger.js';

export const NETWORK_POLICIES: GVR = { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true };

export interface NetworkPolicyControllerOptions {
  client: Client;
  nodeName: string;
  /** Default: iptables of the host, or of `netns` when given. */
  iptables?: IptablesRunner;
  netns?: string;
  log: Logger;
  /** Rules are re-applied this often even without changes, repairing outside edits. Default 60 s. */
  resyncMs?: number;
  /** Changes arriving within this window share one sync. Default 100 ms. */
  batchMs?: number;
}

/** What of a pod matters to policies; status-only churn (conditions, container states) does not. */
function podFingerprint(p: KubeObject): string {
  return JSON.stringify([
    p.metadata.labels,
    p.spec?.nodeName,
    p.spec?.hostNetwork,
    p.status?.podIP,
    p.status?.podIPs,
    p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
    [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].map((c: { ports?: unknown }) => c?.ports),
  ]);
}

export class NetworkPolicyController {
  private readonly iptables: IptablesRunner;
  private readonly pods: SharedInformer;
  private readonly namespaces: SharedInformer;
  private readonly policies: SharedInformer;
  private readonly resyncMs: number;
  private readonly batchMs: number;
  private dirty = true;
  private wake?: () => void;
  private running = false;
  private stopped = false;
  /** Serialises applies (the loop, syncNow, cleanup). */
  private chain: Promise<unknown> = Promise.resolve();
  private lastApplied = '';
  private lastProblems = new Set<string>();

  constructor(private readonly o: NetworkPolicyControllerOptions) {
    this.iptables = o.iptables ?? iptablesRunner({ netns: o.netns });
    this.resyncMs = o.resyncMs ?? 60_000;
    this.batchMs = o.batchMs ?? 100;
    // Until every cache has synced nothing is enforced, so a failing watch is worth a warning (once per message).
    const lastError = new Map<string, string>();
    const onError = (what: string) => (e: unknown) => {
      if (isGone(e)) return; // a compacted version: the reflector lists again, nothing is wrong
      const err = e instanceof Error ? e.message : String(e);
      if (lastError.get(what) !== err) o.log.warn({ err, resource: what }, 'network policy controller cannot list/watch, retrying');
      lastError.set(what, err);
    };
    this.pods = new SharedInformer(o.client, R.pods, { onError: onError('pods') });
    this.namespaces = new SharedInformer(o.client, R.namespaces, { onError: onError('namespaces') });
    this.policies = new SharedInformer(o.client, NETWORK_POLICIES, { onError: onError('networkpolicies') });
    const changed = () => this.markDirty();
    this.policies.addEventHandler({ add: changed, update: changed, delete: changed });
    this.namespaces.addEventHandler({ add: changed, update: (a, b) => JSON.stringify(a.metadata.labels) !== JSON.stringify(b.metadata.labels) && changed(), delete: changed });
    this.pods.addEventHandler({ add: changed, update: (a, b) => podFingerprint(a) !== podFingerprint(b) && changed(), delete: changed });
  }

  /** Pods on one bridge talk past iptables unless br_netfilter hands bridged IPv4 to it. */
  private checkBridgeNetfilter(): void {
    let value: string;
    try {
      value = readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim();
    } catch {
      value = 'missing (br_netfilter not loaded)';
    }
    if (value !== '1') this.o.log.warn({ 'net.bridge.bridge-nf-call-iptables': value }, 'traffic between pods on this node bypasses iptables, network policies cannot filter it: modprobe br_netfilter and set net.bridge.bridge-nf-call-iptables=1');
  }

  private markDirty(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Runs until `signal` aborts. Rules stay in place afterwards (a restarted agent takes them over); see cleanup(). */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error('NetworkPolicyController is already running');
    if (signal.aborted) return;
    if (!this.o.iptables && !this.o.netns) this.checkBridgeNetfilter();
    this.running = true;
    this.stopped = false;
    for (const inf of [this.pods, this.namespaces, this.policies]) void inf.run(signal);
    const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    try {
      await Promise.race([Promise.all([this.pods.waitForSync(), this.namespaces.waitForSync(), this.policies.waitForSync()]), aborted]);
      let failures = 0;
      let lastFull = 0;
      while (!signal.aborted) {
        const full = Date.now() - lastFull >= this.resyncMs;
        if (this.dirty || full) {
          this.dirty = false;
          try {
            await this.syncOnce(full);
            if (full) lastFull = Date.now();
            failures = 0;
          } catch (e) {
            failures++;
            this.dirty = true;
            this.o.log.error({ err: e instanceof Error ? e.message : String(e) }, 'applying network policy rules failed');
            await this.sleep(Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
            continue;
          }
        }
        await this.sleep(this.dirty ? this.batchMs : Math.max(0, lastFull + this.resyncMs - Date.now()), signal, !this.dirty);
        // Let a burst of events land before rebuilding.
        if (this.dirty && !signal.aborted) await this.sleep(this.batchMs, signal);
      }
    } finally {
      this.running = false;
    }
  }

  private sleep(ms: number, signal: AbortSignal, wakeOnChange = false): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      if (wakeOnChange) this.wake = done;
      if (signal.aborted) done();
    });
  }

  /** Rebuilds and applies the rules now (after the caches have synced); resolves when they are in place. */
  async syncNow(): Promise<void> {
    if (!this.running) throw new Error('NetworkPolicyController.syncNow: run() has not been started');
    await Promise.all([this.pods.waitForSync(), this.namespaces.waitForSync(), this.policies.waitForSync()]);
    this.dirty = false;
    await this.syncOnce(true);
  }

  private syncOnce(force: boolean): Promise<void> {
    const next = this.chain.then(async () => {
      if (this.stopped) return;
      const state = { nodeName: this.o.nodeName, pods: this.pods.indexer.list(), namespaces: this.namespaces.indexer.list(), policies: this.policies.indexer.list() };
      const problems = new Set<string>();
      // The rules wanted, regardless of what is in place: unchanged means nothing to do (unless forced).
      const desired = buildPolicyRules(state, (m) => problems.add(m));
      for (const m of problems) if (!this.lastProblems.has(m)) this.o.log.warn({ problem: m }, 'network policy cannot be enforced as written');
      this.lastProblems = problems;
      if (!force && desired === this.lastApplied) return;
      const started = Date.now();
      const existing = parseExistingRules(await this.iptables.saveFilter());
      const text = buildPolicyRules({ ...state, existing });
      await this.iptables.restore(text);
      this.lastApplied = desired;
      this.o.log.debug({ lines: text.split('\n').length, ms: Date.now() - started }, 'network policy rules applied');
    });
    this.chain = next.catch(() => {});
    return next;
  }

  /** Removes every chain and jump this controller added. Abort run() first; no further syncs are applied afterwards. */
  async cleanup(): Promise<void> {
    this.stopped = true;
    const next = this.chain.then(async () => {
      await removeNetworkPolicyRules(this.iptables);
      this.lastApplied = '';
    });
    this.chain = next.catch(() => {});
    await next;
  }
}

/** Removes every K8TS-NWPLCY chain and the FORWARD jump, without a controller (for `k8ts down`). */
export async function removeNetworkPolicyRules(iptables: IptablesRunner = iptablesRunner()): Promise<void> {
  const text = buildCleanupRules(parseExistingRules(await iptables.saveFilter()));
  if (text) await iptables.restore(text);
}
