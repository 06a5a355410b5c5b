// DefaultPreemption (PostFilter): on nodes where the pod was rejected for a resolvable reason,
// remove every lower-priority pod, check the pod fits, then reprieve as many of them as possible
// (PDB-violating ones first, highest priority first); pick the node as upstream's
// pickOneNodeForPreemption does.

import type { KubeObject } from '../api/meta/v1.js';
import type { Selector } from '../machinery/labels.js';
import { FitError, type Profile } from './framework/profile.js';
import { moreImportant, type NodeInfo, type PodInfo, podInfoOf, safeSelector, type Snapshot, Status } from './framework/types.js';

export const MSG_NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const MSG_NO_VICTIMS = 'No preemption victims found for incoming pod';
export const MSG_POLICY_NEVER = 'not eligible due to preemptionPolicy=Never.';
const MIN_CANDIDATE_NODES_PERCENTAGE = 10;
const MIN_CANDIDATE_NODES_ABSOLUTE = 100;

export interface Candidate {
  nodeName: string;
  /** Victims, most important first. */
  victims: KubeObject[];
  numPDBViolations: number;
}

export type PreemptionResult =
  | { nodeName: string; victims: KubeObject[]; numPDBViolations: number }
  | { nodeName: null; message: string; fitError: FitError };

interface PDB {
  namespace: string;
  selector: Selector;
  allowed: number;
  disrupted: Set<string>;
}

function compilePDBs(pdbs: readonly KubeObject[]): PDB[] {
  return pdbs.map((p) => ({
    namespace: p.metadata?.namespace ?? 'default',
    selector: safeSelector(p.spec?.selector),
    allowed: typeof p.status?.disruptionsAllowed === 'number' ? p.status.disruptionsAllowed : 0,
    disrupted: new Set(Object.keys(p.status?.disruptedPods ?? {})),
  }));
}

/** Splits pods into those whose eviction would violate a PDB and the rest, keeping order. */
export function splitByPDBViolation(pods: PodInfo[], pdbs: PDB[]): [PodInfo[], PodInfo[]] {
  const allowed = pdbs.map((p) => p.allowed);
  const violating: PodInfo[] = [];
  const ok: PodInfo[] = [];
  for (const p of pods) {
    let violated = false;
    if (Object.keys(p.labels).length) {
      pdbs.forEach((pdb, i) => {
        if (pdb.namespace !== p.namespace || pdb.selector.empty() || !pdb.selector.matches(p.labels)) return;
        if (pdb.disrupted.has(p.name)) return;
        allowed[i]--;
        if (allowed[i] < 0) violated = true;
      });
    }
    (violated ? violating : ok).push(p);
  }
  return [violating, ok];
}

export class Preemptor {
  constructor(private readonly profile: Profile) {}

  /**
   * Runs preemption for a pod that failed with `fitError`. On success returns the node to
   * nominate and the victims to delete; otherwise the message and the FitError whose message
   * now carries the "preemption: …" suffix.
   */
  preempt(podObj: KubeObject, snapshot: Snapshot, fitError: FitError, pdbObjects: readonly KubeObject[] = []): PreemptionResult {
    const fail = (msg: string): PreemptionResult => {
      fitError.diagnosis.postFilterMsg = `preemption: ${msg}`;
      return { nodeName: null, message: fitError.message, fitError };
    };
    const pod = podInfoOf(podObj);
    if (podObj.spec?.preemptionPolicy === 'Never') return fail(MSG_POLICY_NEVER);
    // A pod already nominated somewhere with a terminating lower-priority pod waits for it.
    const nominated = podObj.status?.nominatedNodeName as string | undefined;
    if (nominated) {
      const st = fitError.statusOf(nominated);
      if (!st || st.code !== 'UnschedulableAndUnresolvable') {
        const ni = snapshot.get(nominated);
        if (ni?.pods.some((p) => p.terminating && p.priority < pod.priority)) return fail('not eligible due to a terminating pod on the nominated node.');
      }
    }

    const all = snapshot.nodeInfoList;
    const statuses = new Map<string, Status>();
    const potential: NodeInfo[] = [];
    for (const ni of all) {
      const st = fitError.statusOf(ni.name);
      if (st && st.code === 'UnschedulableAndUnresolvable') statuses.set(ni.name, new Status('UnschedulableAndUnresolvable', [MSG_NOT_HELPFUL]));
      else potential.push(ni);
    }

    const pdbs = compilePDBs(pdbObjects);
    const candidates: Candidate[] = [];
    if (potential.length > 0) {
      const numCandidates = Math.min(potential.length, Math.max(Math.trunc((potential.length * MIN_CANDIDATE_NODES_PERCENTAGE) / 100), MIN_CANDIDATE_NODES_ABSOLUTE));
      const offset = Math.floor(this.profile.random() * potential.length);
      let nonViolating = 0;
      let violating = 0;
      for (let i = 0; i < potential.length; i++) {
        const ni = potential[(offset + i) % potential.length];
        const r = this.selectVictimsOnNode(fitError, pod, ni, pdbs);
        if (r instanceof Status) {
          statuses.set(ni.name, r);
          continue;
        }
        candidates.push(r);
        if (r.numPDBViolations === 0) nonViolating++;
        else violating++;
        if (nonViolating > 0 && nonViolating + violating >= numCandidates) break;
      }
    }

    if (candidates.length === 0) {
      const inner = new FitError(podObj, all.length, {
        nodeToStatus: statuses,
        absentStatus: new Status('UnschedulableAndUnresolvable', [MSG_NOT_HELPFUL]),
        unschedulablePlugins: new Set(),
        preFilterMsg: '',
        postFilterMsg: '',
      });
      return fail(inner.message);
    }
    const best = pickOneNodeForPreemption(candidates);
    fitError.diagnosis.postFilterMsg = '';
    return { nodeName: best.nodeName, victims: best.victims, numPDBViolations: best.numPDBViolations };
  }

  /** Victims on one node, or the status saying why preemption there cannot help. */
  selectVictimsOnNode(fitError: FitError, pod: PodInfo, original: NodeInfo, pdbs: PDB[]): Candidate | Status {
    const profile = this.profile;
    const base = fitError.state;
    if (!base) return new Status('Error', ['no cycle state']);
    const state = base.clone();
    const node = original.clone();
    const potential: PodInfo[] = [];
    for (const p of original.pods) {
      if (p.priority < pod.priority) {
        potential.push(p);
        node.removePod(p);
        profile.runRemovePod(state, pod, p, node);
      }
    }
    if (potential.length === 0) return new Status('UnschedulableAndUnresolvable', [MSG_NO_VICTIMS]);
    const st = profile.runFilters(state, pod, node);
    if (st) return st;

    potential.sort((a, b) => (moreImportant(a, b) ? -1 : moreImportant(b, a) ? 1 : 0));
    const [violatingPods, okPods] = splitByPDBViolation(potential, pdbs);
    const victims: PodInfo[] = [];
    let numViolating = 0;
    const reprieve = (p: PodInfo): boolean => {
      node.addPod(p);
      profile.runAddPod(state, pod, p, node);
      if (profile.runFilters(state, pod, node) === null) return true;
      node.removePod(p);
      profile.runRemovePod(state, pod, p, node);
      victims.push(p);
      return false;
    };
    for (const p of violatingPods) if (!reprieve(p)) numViolating++;
    for (const p of okPods) reprieve(p);
    if (violatingPods.length && okPods.length) victims.sort((a, b) => (moreImportant(a, b) ? -1 : moreImportant(b, a) ? 1 : 0));
    return { nodeName: original.name, victims: victims.map((v) => v.pod), numPDBViolations: numViolating };
  }
}

/**
 * upstream's pickOneNodeForPreemption: fewest PDB violations, then the lowest highest-priority
 * victim, the smallest sum of priorities, the fewest victims, the latest start among the
 * highest-priority victims; then the first candidate.
 */
export function pickOneNodeForPreemption(candidates: Candidate[]): Candidate {
  for (const c of candidates) if (c.victims.length === 0) return c;
  const info = new Map(candidates.map((c) => [c, c.victims.map(podInfoOf)]));
  const OFFSET = 2 ** 31;
  const criteria: ((c: Candidate) => number)[] = [
    (c) => -c.numPDBViolations,
    (c) => -(info.get(c)![0]?.priority ?? 0),
    (c) => -info.get(c)!.reduce((s, p) => s + p.priority + OFFSET, 0),
    (c) => -c.victims.length,
    (c) => {
      // The earliest start among the highest-priority victims; later is better.
      const v = info.get(c)!;
      const top = v[0].priority;
      let earliest = Number.POSITIVE_INFINITY;
      for (const p of v) if (p.priority === top && p.startTime < earliest) earliest = p.startTime;
      return earliest;
    },
  ];
  let list = candidates;
  for (const score of criteria) {
    let best = Number.NEGATIVE_INFINITY;
    let next: Candidate[] = [];
    for (const c of list) {
      const s = score(c);
      if (s > best) {
        best = s;
        next = [c];
      } else if (s === best) next.push(c);
    }
    list = next;
    if (list.length === 1) return list[0];
  }
  return list[0];
}
