import { INSTANCE_STATUSES, type Instance } from "../domain/instance.ts";
import { placementOf } from "../domain/job.ts";
import { reaperPoints } from "../domain/metrics.ts";
import type { Phase } from "../domain/phases.ts";
import {
  isStuck,
  type JobView,
  jobsWorkedFor,
  type ReapAction,
  type ReapingRules,
  reapingActions,
  STUCK_PHASES,
} from "../domain/reaping.ts";
import type { JobRecord } from "../ports.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { carryOutClose, closeInstance, finishClose } from "./change-instance.ts";
import type { Ports } from "./control-plane.ts";
import { expireCooling, expireStopped } from "./finish-job.ts";
import { applyReconciliation, type ReconcilePorts } from "./reconcile-instance.ts";

/**
 * Every 5 minutes on AWS (docs/reliability.md, "Reconcile and reap"): an instance with no
 * record, or one working for a job that ended or was canceled, is the reaper's a minute on.
 * With the plans' own ends (no grace), no GPU runs more than a period and a grace (6
 * minutes) past its purpose.
 */
export const REAPING: ReapingRules = { graceS: 60 };

export type ReapActionType = ReapAction["type"];

export interface ReapReport {
  /** How many actions of each kind were carried out (not those whose record moved on first). */
  done: Partial<Record<ReapActionType, number>>;
  /** Each action that threw, with the instance or job it was for; the others ran all the same. */
  failed: Array<{ type: ReapActionType | "finishCancel"; id: string; error: string }>;
  /**
   * Instances tagged by gpuctl that no live job holds, each terminated: those with no
   * record, and those whose record names a job that is gone, ended or canceled.
   */
  orphans: string[];
  /** Canceled jobs whose instance is closed now: each ends CANCELED. */
  canceled: string[];
  /**
   * Canceled jobs whose instance could still not be stopped or terminated (CANCELING,
   * DELETE_FAILED): the reaper tries again on its next run; an operator is alarmed.
   */
  deleteFailed: string[];
  /** Jobs longer in one phase than it should take, for an operator: the reaper leaves them be. */
  stuckJobs: Array<{ jobId: string; phase: Phase; since: string }>;
}

const targetOf = (action: ReapAction): string =>
  action.type === "terminateOrphan" ? action.instanceId : action.instance.id;

/** Carries out one action; false when the record moved on first (its own step did the work). */
const carryOut = async (cp: ReconcilePorts, action: ReapAction): Promise<boolean> => {
  switch (action.type) {
    case "terminateOrphan": {
      // The listing is eventually consistent: a launch recorded since must not be terminated.
      const record = await cp.instances.get(action.instanceId);
      const live = record && !(record.status === "CLOSED" && record.substatus === "TERMINATED");
      if (live) return false;
      await carryOutClose(cp, action.instanceId, "terminate");
      return true;
    }
    // Its agent may still run the job: nothing on it is trusted for the next one.
    case "terminateJobless":
      return (await closeInstance(cp, action.instance, "terminate")).ok;
    // A close left half-way (its call failed, or its run died) is done and recorded at once,
    // so the job that waits on it (a cancel) ends on this same run.
    case "reconcile": {
      const { instance, reconciliation } = action;
      if (reconciliation.type === "repeatClose")
        return (await finishClose(cp, instance, reconciliation.action)).ok;
      await applyReconciliation(cp, instance, reconciliation);
      return true;
    }
    // As the instance's own timer would have, so a timer that fires late finds it closed.
    case "expireCooling": {
      const { id, coolingEpoch, coolingUntil, stoppedUntil } = action.instance;
      const stoppedS =
        coolingUntil && stoppedUntil
          ? (Date.parse(stoppedUntil) - Date.parse(coolingUntil)) / 1000
          : 0;
      return (await expireCooling(cp, { instanceId: id, coolingEpoch, stoppedS })).closed;
    }
    case "expireStopped": {
      const { id, coolingEpoch } = action.instance;
      return (await expireStopped(cp, { instanceId: id, coolingEpoch })).terminated;
    }
  }
};

/**
 * Compares the records with what the compute runs and ends what nothing else will: GPUs no
 * record claims or no live job holds, records the compute contradicts, closes left
 * half-way, instances past their cooling plan; then ends the cancels whose instance is
 * closed at last. The records are read before the compute, so an instance launched
 * meanwhile is listed with no record and left alone for its grace period. Each action runs
 * on its own: one that fails is reported, and the others still run.
 */
export const reap = async (cp: ReconcilePorts, rules = REAPING): Promise<ReapReport> => {
  const records = (
    await Promise.all(INSTANCE_STATUSES.map((status) => cp.instances.listByStatus(status)))
  ).flat();
  const jobs = await jobViews(cp, jobsWorkedFor(records));
  const compute = await cp.compute.list();
  const now = cp.clock.now();
  const actions = reapingActions({ records, jobs, compute }, now, rules);
  const report: ReapReport = {
    done: {},
    failed: [],
    orphans: actions.flatMap((action) =>
      action.type === "terminateOrphan" || action.type === "terminateJobless"
        ? [targetOf(action)]
        : [],
    ),
    canceled: [],
    deleteFailed: [],
    stuckJobs: await stuckJobs(cp, now),
  };
  for (const action of actions) {
    try {
      if (await carryOut(cp, action))
        report.done[action.type] = (report.done[action.type] ?? 0) + 1;
    } catch (error) {
      report.failed.push({ type: action.type, id: targetOf(action), error: String(error) });
    }
  }
  for (const record of await cp.jobs.listByPhase("CANCELING")) {
    try {
      if (await finishCancel(cp, record)) report.canceled.push(record.job.id);
      else if (record.job.reason === "DELETE_FAILED") report.deleteFailed.push(record.job.id);
    } catch (error) {
      report.failed.push({ type: "finishCancel", id: record.job.id, error: String(error) });
    }
  }
  cp.metrics.record(
    reaperPoints({
      orphans: report.orphans.length,
      stuckJobs: report.stuckJobs.length,
      failures: report.failed.length,
      deleteFailed: report.deleteFailed.length,
    }),
  );
  return report;
};

/** Each job an instance record works for, as the reaper weighs it: one read each. */
const jobViews = async (
  cp: ReconcilePorts,
  jobIds: readonly string[],
): Promise<Map<string, JobView>> =>
  new Map(
    await Promise.all(
      jobIds.map(async (jobId): Promise<[string, JobView]> => {
        const record = await cp.jobs.get(jobId);
        if (!record) return [jobId, undefined];
        const { job, updatedAt } = record;
        const holds = [...placementOf(job), ...(job.formerInstanceIds ?? [])];
        return [jobId, { phase: job.phase, updatedAt, holds }];
      }),
    ),
  );

/**
 * A canceled job ends CANCELED once its instance no longer works for it and is not left
 * closing: closed, freed, or never had. Its workflow's release does this; the reaper does
 * it for a release that could not close the instance (DELETE_FAILED) or died. A job still
 * acquiring meets a refused claim or launch, which frees what it got. True once the
 * cancel is over, whoever ended it.
 */
export const finishCancel = async (
  cp: Ports<"jobs" | "instances" | "events" | "metrics" | "clock">,
  record: JobRecord,
): Promise<boolean> => {
  const { id, instanceId } = record.job;
  const instance = instanceId ? await cp.instances.get(instanceId) : undefined;
  if (instance && holds(instance, id)) return false;
  if ((await applyJobEvent(cp, id, { type: "released" })).ok) return true;
  // Its workflow's release, retried, may have ended the cancel since the record was read.
  return (await cp.jobs.get(id))?.job.phase === "CANCELED";
};

const holds = (instance: Instance, jobId: string): boolean =>
  instance.status === "CLOSING" ||
  ((instance.status === "LAUNCHING" || instance.status === "EXECUTING") &&
    instance.jobId === jobId);

/** One query per phase that has a bound: at rest, each reads an empty index partition. */
const stuckJobs = async (cp: ReconcilePorts, now: string): Promise<ReapReport["stuckJobs"]> => {
  const byPhase = await Promise.all(STUCK_PHASES.map((phase) => cp.jobs.listByPhase(phase)));
  return byPhase
    .flat()
    .filter(({ job, updatedAt, spec }) =>
      isStuck(
        {
          phase: job.phase,
          updatedAt,
          spotWaitS: spec.instance.spot ? spec.instance.waitRequestS : 0,
        },
        now,
      ),
    )
    .map(({ job, updatedAt }) => ({ jobId: job.id, phase: job.phase, since: updatedAt }));
};
