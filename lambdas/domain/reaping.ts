/**
 * What the records and the compute disagreeing about an instance calls for: EC2's own events
 * (an instance stopped or terminated without the control plane) and the reaper's periodic
 * comparison, so no GPU runs on unrecorded, and no record claims a GPU that is gone.
 */
import type { CloseAction, Instance } from "./instance.ts";
import { isTerminal, type Phase } from "./phases.ts";

/** An instance's state as the compute reports it (EC2's names). */
export type ComputeState =
  | "pending"
  | "running"
  | "stopping"
  | "stopped"
  | "shutting-down"
  | "terminated";

/** One instance the compute lists: the gpuctl id it is tagged with, its state and launch time. */
export interface ComputeView {
  instanceId: string;
  state: ComputeState;
  launchedAt: string;
}

export type Ending = "stopped" | "terminated";

/**
 * - `vanished`: an instance in use (LAUNCHING, EXECUTING, COOLING) stopped or went away
 *   without the control plane: it is recorded so, and its job moves on.
 * - `recordClosed`: the compute shows the close the record waits for, or a stopped instance
 *   terminated since: the record follows.
 * - `repeatClose`: a close recorded but not yet seen on the compute: it is asked again.
 * - `terminate`: the record says terminated, but the compute still has the instance.
 */
export type Reconciliation =
  | { type: "vanished"; as: Ending }
  | { type: "recordClosed"; as: Ending }
  | { type: "repeatClose"; action: CloseAction }
  | { type: "terminate" };

const GONE: ReadonlySet<ComputeState | undefined> = new Set([
  undefined,
  "shutting-down",
  "terminated",
]);

/**
 * What the record needs when the compute says its instance is in `state` (`undefined`: the
 * compute no longer knows it), or nothing when both agree or the compute is on its way.
 * `observedAt`: when the compute saw that state (an event's time), if known.
 */
export const reconcile = (
  instance: Instance,
  state: ComputeState | undefined,
  observedAt?: string,
): Reconciliation | undefined => {
  const gone = GONE.has(state);
  if (instance.status !== "CLOSING" && instance.status !== "CLOSED") {
    if (gone) return { type: "vanished", as: "terminated" };
    // One being started again may still be stopping, and EC2 reports that stop after the
    // record says LAUNCHING: not news, unless the stop was seen after the record last
    // changed (an agent that died before it registered). Without a time (the reaper's
    // listing), its agent's registration deadline covers it.
    const seenSince =
      observedAt !== undefined &&
      instance.updatedAt !== undefined &&
      Date.parse(observedAt) > Date.parse(instance.updatedAt);
    const starting = instance.status === "LAUNCHING" && !instance.agentReady && !seenSince;
    return (state === "stopping" || state === "stopped") && !starting
      ? { type: "vanished", as: "stopped" }
      : undefined;
  }
  if (gone) {
    return instance.substatus === "TERMINATED"
      ? undefined
      : { type: "recordClosed", as: "terminated" };
  }
  if (instance.status === "CLOSED")
    return instance.substatus === "TERMINATED" ? { type: "terminate" } : undefined;
  if (instance.substatus === "TERMINATING") return { type: "repeatClose", action: "terminate" };
  if (state === "stopped") return { type: "recordClosed", as: "stopped" };
  return state === "stopping" ? undefined : { type: "repeatClose", action: "stop" };
};

export type ReapAction =
  | { type: "terminateOrphan"; instanceId: string }
  | { type: "reconcile"; instance: Instance; reconciliation: Reconciliation }
  | { type: "expireCooling"; instance: Instance }
  | { type: "expireStopped"; instance: Instance }
  /** Working for a job that is gone, ended, or canceled, whose release never freed it. */
  | { type: "terminateJobless"; instance: Instance };

export interface ReapingRules {
  /**
   * What the control plane's own steps take before the reaper does their work instead: how
   * old an instance with no record must be before it counts as an orphan (a launch is
   * recorded just after the compute answers), and how long a job's release may take after
   * the job ended or was canceled. A plan's end needs no grace: the reaper and the
   * instance's timer both close it conditionally on its cooling epoch, so only one does.
   */
  graceS: number;
}

/**
 * A job as the reaper weighs it: its phase, when it last moved and, when known, every
 * instance it still holds (its placement, and a lost one its release has yet to free);
 * undefined when it is gone.
 */
export type JobView = { phase: Phase; updatedAt: string; holds?: readonly string[] } | undefined;

/** Past `at` by more than the grace; a time that is not there (no plan, no launch time) is long past. */
const pastBy = (at: string | undefined, now: number, graceS: number): boolean => {
  const time = at === undefined ? Number.NaN : Date.parse(at);
  return Number.isNaN(time) || time + graceS * 1000 < now;
};

/** What one record calls for, given the compute's view of its instance and its job's record. */
const recordAction = (
  instance: Instance,
  view: ComputeView | undefined,
  job: JobView,
  now: number,
  rules: ReapingRules,
): ReapAction | undefined => {
  // A record never launched (no EC2 id) cannot be missing from the compute's list.
  const known = view !== undefined || instance.providerId !== undefined;
  const reconciliation = known ? reconcile(instance, view?.state) : undefined;
  if (reconciliation) return { type: "reconcile", instance, reconciliation };
  const working = instance.status === "LAUNCHING" || instance.status === "EXECUTING";
  if (working && (holdsNoLiveJob(job, now, rules) || movedOff(instance, job, now, rules)))
    return { type: "terminateJobless", instance };
  if (instance.status === "COOLING" && pastBy(instance.coolingUntil, now, 0))
    return { type: "expireCooling", instance };
  const stopped = instance.status === "CLOSED" && instance.substatus === "STOPPED";
  if (stopped && pastBy(instance.stoppedUntil, now, 0)) return { type: "expireStopped", instance };
  return undefined;
};

/** The jobs an instance record says it works for (LAUNCHING, EXECUTING): the reaper reads these. */
export const jobsWorkedFor = (records: readonly Instance[]): string[] => [
  ...new Set(
    records.flatMap((instance) =>
      instance.status === "LAUNCHING" || instance.status === "EXECUTING" ? [instance.jobId] : [],
    ),
  ),
];

/**
 * The reaper's decisions, from the records and their jobs (read first), the compute's list
 * (read after) and the time: each instance the compute has that no record claims, each
 * record the compute contradicts, each instance working for no live job, each cooling or
 * stopped instance past its plan.
 */
export const reapingActions = (
  world: {
    records: readonly Instance[];
    /** The job of each id `jobsWorkedFor` names; a job missing here is gone. */
    jobs: ReadonlyMap<string, JobView>;
    compute: readonly ComputeView[];
  },
  at: string,
  rules: ReapingRules,
): ReapAction[] => {
  const { records, jobs, compute } = world;
  const now = Date.parse(at);
  const views = new Map(compute.map((view) => [view.instanceId, view]));
  const recorded = new Set(records.map((instance) => instance.id));
  const orphans = compute
    .filter(
      (view) =>
        !recorded.has(view.instanceId) &&
        !GONE.has(view.state) &&
        pastBy(view.launchedAt, now, rules.graceS),
    )
    .map((view): ReapAction => ({ type: "terminateOrphan", instanceId: view.instanceId }));
  const fromRecords = records.flatMap((instance) => {
    const job = "jobId" in instance ? jobs.get(instance.jobId) : undefined;
    const action = recordAction(instance, views.get(instance.id), job, now, rules);
    return action ? [action] : [];
  });
  return [...orphans, ...fromRecords];
};

/**
 * How long a job may stay in a phase the control plane drives before it counts as stuck:
 * each bound well past what that phase's workflow state allows itself (a task's timeout,
 * the back-off cap), so a stuck job is one its workflow lost. Phases that wait on people,
 * on capacity or on the job's own run (PENDING_REVIEW, QUEUED, TRAINING) have no bound.
 */
export const STUCK_AFTER_S: Partial<Record<Phase, number>> = {
  SUBMITTED: 900,
  REQUESTING_SERVER: 3600,
  CONNECTING_SERVER: 3600,
  // Heartbeats keep these alive while an image pulls or data moves: hours are plausible.
  GEARING_UP_ENV: 6 * 3600,
  SENDING_MODEL_AND_DATA: 6 * 3600,
  RETURNING: 6 * 3600,
  RETRY_BACKOFF: 3600,
  PREEMPTING: 3600,
  CANCELING: 3600,
};

export const STUCK_PHASES = Object.keys(STUCK_AFTER_S) as Phase[];

/**
 * Whether a job last moved at `updatedAt` is stuck in `phase` at `at`. Requesting a spot
 * server may wait out the job's own spot request first.
 */
export const isStuck = (
  job: { phase: Phase; updatedAt: string; spotWaitS: number },
  at: string,
): boolean => {
  const bound = STUCK_AFTER_S[job.phase];
  if (bound === undefined) return false;
  const allowed = bound + (job.phase === "REQUESTING_SERVER" ? job.spotWaitS : 0);
  return pastBy(job.updatedAt, Date.parse(at), allowed);
};

/**
 * Whether an instance working for a live job is one its job moved off (requeued, placed
 * elsewhere) without freeing it, longer ago than the grace its release may take: nothing
 * will ever use it, and it would bill until someone noticed.
 */
const movedOff = (instance: Instance, job: JobView, now: number, rules: ReapingRules): boolean =>
  job?.holds !== undefined &&
  !job.holds.includes(instance.id) &&
  pastBy(job.updatedAt, now, rules.graceS);

/**
 * Whether an instance that says it is working for a job (LAUNCHING, EXECUTING) is an
 * orphan: its job is gone, or ended or was canceled longer ago than the grace its release
 * may take (a release that ran would have freed it).
 */
const holdsNoLiveJob = (job: JobView, now: number, rules: ReapingRules): boolean =>
  job === undefined ||
  ((isTerminal(job.phase) || job.phase === "CANCELING") &&
    pastBy(job.updatedAt, now, rules.graceS));
