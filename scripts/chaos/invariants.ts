/**
 * What must hold after any run, whatever failed during it: no job lost, no instance held by
 * two jobs, no GPU left running with no purpose. The chaos campaign and the model test both
 * judge a run by these, from the records and the compute's own list.
 */
import type { Instance } from "../../lambdas/domain/instance.ts";
import { type Job, placementOf, rankOf } from "../../lambdas/domain/job.ts";
import { HOLDING_PHASES, isTerminal, type Phase } from "../../lambdas/domain/phases.ts";
import type { ComputeInstance } from "../../lambdas/ports.ts";

/** Phases in which a job still uses the instance it names (its release is yet to come). */
const USING_PHASES: ReadonlySet<Phase> = new Set([...HOLDING_PHASES, "PREEMPTING", "CANCELING"]);

export interface RunState {
  jobs: readonly Job[];
  instances: readonly Instance[];
  compute: readonly ComputeInstance[];
  /** Whether the job's workflow still drives it (a live phase nothing moves on is lost). */
  driven: (job: Job) => boolean;
  now: string;
  /** How long past its plan an instance may run before the reaper ends it. */
  graceS: number;
}

export interface Violations {
  /** Jobs neither ended nor moved on by anything. */
  lost: string[];
  /** Instances running (or stopped) with no live job and no cooling plan in force. */
  orphans: string[];
  /** Instances two jobs hold, or that a job holds while its record serves another. */
  doubleAssigned: string[];
}

const withinPlan = (until: string | undefined, now: number, graceS: number) =>
  until !== undefined && Date.parse(until) + graceS * 1000 >= now;

/**
 * Why an instance the compute has may exist, from its record and the job it works for:
 * undefined when it may not. A stopped one bills its disk only, but one that nobody will
 * reuse or end is an orphan all the same.
 */
const purpose = (
  view: ComputeInstance,
  record: Instance | undefined,
  holder: Job | undefined,
  now: number,
  graceS: number,
): string | undefined => {
  if (view.state === "terminated" || view.state === "shutting-down") return "gone";
  if (!record)
    return withinPlan(view.launchedAt, now, graceS) ? "launch being recorded" : undefined;
  if (record.status === "LAUNCHING" || record.status === "EXECUTING")
    return holder && !isTerminal(holder.phase) ? `job ${holder.id}` : undefined;
  if (record.status === "COOLING")
    return withinPlan(record.coolingUntil, now, graceS) ? "cooling" : undefined;
  if (record.status === "CLOSED" && record.substatus === "STOPPED" && view.state === "stopped")
    return withinPlan(record.stoppedUntil, now, graceS) ? "stopped for reuse" : undefined;
  if (record.status === "CLOSING")
    return withinPlan(record.updatedAt, now, graceS) ? "closing" : undefined;
  return undefined;
};

export const checkRun = (state: RunState): Violations => {
  const now = Date.parse(state.now);
  const records = new Map(state.instances.map((instance) => [instance.id, instance]));
  const holders = new Map<string, Job[]>();
  for (const job of state.jobs) {
    if (!USING_PHASES.has(job.phase)) continue;
    // Every rank's instance: a multi-node job holds its workers' as its leader's.
    for (const instanceId of placementOf(job))
      holders.set(instanceId, [...(holders.get(instanceId) ?? []), job]);
  }
  const doubleAssigned = [...holders].flatMap(([instanceId, jobs]) => {
    const record = records.get(instanceId);
    const servesAnother =
      (record?.status === "LAUNCHING" || record?.status === "EXECUTING") &&
      jobs.some((job) => job.id !== record.jobId);
    return jobs.length > 1 || servesAnother ? [instanceId] : [];
  });
  const jobsById = new Map(state.jobs.map((job) => [job.id, job]));
  const orphans = state.compute.flatMap((view) => {
    const record = records.get(view.instanceId);
    const working = record?.status === "LAUNCHING" || record?.status === "EXECUTING";
    const job = working ? jobsById.get(record.jobId) : undefined;
    const holder = job && rankOf(job, view.instanceId) !== undefined ? job : undefined;
    return purpose(view, record, holder, now, state.graceS) ? [] : [view.instanceId];
  });
  const lost = state.jobs
    .filter((job) => !isTerminal(job.phase) && !state.driven(job))
    .map((job) => job.id);
  return { lost, orphans, doubleAssigned };
};

/** The campaign's last words: the counts, in the order the summary line gives them. */
export const summaryCounts = (violations: Violations) =>
  `lost=${violations.lost.length} orphans=${violations.orphans.length} double_assigned=${violations.doubleAssigned.length}`;

export const clean = (violations: Violations): boolean =>
  violations.lost.length + violations.orphans.length + violations.doubleAssigned.length === 0;
