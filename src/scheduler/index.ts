// Entry points of the scheduling algorithm: a Scheduler holds one profile (and the node
// iteration cursor carried between cycles); schedule() finds a node or a FitError, preempt()
// picks victims for a pod that did not fit.

import type { KubeObject } from '../api/meta/v1.js';
import { FitError, Profile, type ProfileOptions, type ScheduleResult } from './framework/profile.js';
import type { Snapshot } from './framework/types.js';
import { Preemptor, type PreemptionResult } from './preemption.js';

export { FitError, Profile, type ProfileOptions, type ScheduleResult } from './framework/profile.js';
export { NodeInfo, Snapshot, Status, podInfoOf, type PodInfo, type Plugin, CycleState } from './framework/types.js';
export { Preemptor, pickOneNodeForPreemption, type PreemptionResult, type Candidate } from './preemption.js';

export type ScheduleOutcome = ScheduleResult | { error: FitError };

export class Scheduler {
  readonly profile: Profile;
  private readonly preemptor: Preemptor;

  constructor(opts: ProfileOptions = {}) {
    this.profile = new Profile(opts);
    this.preemptor = new Preemptor(this.profile);
  }

  schedule(pod: KubeObject, snapshot: Snapshot): ScheduleOutcome {
    return this.profile.schedule(pod, snapshot);
  }

  /** PostFilter after a FitError from schedule() on the same snapshot; PDBs are policy/v1 objects. */
  preempt(pod: KubeObject, snapshot: Snapshot, fitError: FitError, pdbs: readonly KubeObject[] = []): PreemptionResult {
    return this.preemptor.preempt(pod, snapshot, fitError, pdbs);
  }
}

const defaultScheduler = new Scheduler();

/** One cycle with a shared default profile (its start-node cursor persists across calls). */
export function schedule(pod: KubeObject, snapshot: Snapshot, opts?: ProfileOptions): ScheduleOutcome {
  return (opts ? new Scheduler(opts) : defaultScheduler).schedule(pod, snapshot);
}

export function preempt(pod: KubeObject, snapshot: Snapshot, fitError: FitError, pdbs: readonly KubeObject[] = [], opts?: ProfileOptions): PreemptionResult {
  return (opts ? new Scheduler(opts) : defaultScheduler).preempt(pod, snapshot, fitError, pdbs);
}
