import { INSTANCE_STATUSES, type Instance } from "../domain/instance.ts";
import { reaperPoints } from "../domain/metrics.ts";
import type { Phase } from "../domain/phases.ts";
import {
  holdsNoLiveJob,
  isStuck,
  type ReapAction,
  type ReapingRules,
  reapingActions,
  STUCK_PHASES,
} from "../domain/reaping.ts";
import { carryOutClose } from "./change-instance.ts";
import { expireCooling, expireStopped } from "./finish-job.ts";
import { applyReconciliation, type ReconcilePorts } from "./reconcile-instance.ts";

/**
 * Every 5 minutes (docs/aws.md, "Reconcile and reaper"); an instance 10 minutes past its
 * plan, or 10 minutes old with no record, is the reaper's.
 */
export const REAPING: ReapingRules = { graceS: 600 };

export type ReapActionType = ReapAction["type"];

export interface ReapReport {
  /** How many actions of each kind were carried out. */
  done: Partial<Record<ReapActionType, number>>;
  /** Each action that threw, with the instance it was for; the others ran all the same. */
  failed: Array<{ type: ReapActionType; instanceId: string; error: string }>;
  /**
   * Instances tagged by gpuctl that no live job holds: those with no record (terminated
   * as orphans), and those whose record names a job that is gone or ended (left for an
   * operator: their job's release should have freed them).
   */
  orphans: string[];
  /** Jobs longer in one phase than it should take, for an operator: the reaper leaves them be. */
  stuckJobs: Array<{ jobId: string; phase: Phase; since: string }>;
}

const instanceOf = (action: ReapAction): string =>
  action.type === "terminateOrphan" ? action.instanceId : action.instance.id;

const carryOut = async (cp: ReconcilePorts, action: ReapAction): Promise<void> => {
  switch (action.type) {
    case "terminateOrphan": {
      // The listing is eventually consistent: a launch recorded since must not be terminated.
      const record = await cp.instances.get(action.instanceId);
      const live = record && !(record.status === "CLOSED" && record.substatus === "TERMINATED");
      if (!live) await carryOutClose(cp, action.instanceId, "terminate");
      return;
    }
    case "reconcile":
      return applyReconciliation(cp, action.instance, action.reconciliation);
    // As the instance's own timer would have, so a timer that fires late finds it closed.
    case "expireCooling": {
      const { id, coolingEpoch, coolingUntil, stoppedUntil } = action.instance;
      const stoppedS =
        coolingUntil && stoppedUntil
          ? (Date.parse(stoppedUntil) - Date.parse(coolingUntil)) / 1000
          : 0;
      await expireCooling(cp, { instanceId: id, coolingEpoch, stoppedS });
      return;
    }
    case "expireStopped": {
      const { id, coolingEpoch } = action.instance;
      await expireStopped(cp, { instanceId: id, coolingEpoch });
      return;
    }
  }
};

/**
 * Compares the records with what the compute runs and ends what nothing else will: GPUs no
 * record claims, records the compute contradicts, instances past their cooling plan. The
 * records are read before the compute, so an instance launched meanwhile is listed with no
 * record and left alone for its grace period. Each action runs on its own: one that fails
 * is reported, and the others still run.
 */
export const reap = async (cp: ReconcilePorts, rules = REAPING): Promise<ReapReport> => {
  const records = (
    await Promise.all(INSTANCE_STATUSES.map((status) => cp.instances.listByStatus(status)))
  ).flat();
  const compute = await cp.compute.list();
  const now = cp.clock.now();
  const actions = reapingActions(records, compute, now, rules);
  const report: ReapReport = {
    done: {},
    failed: [],
    orphans: [
      ...actions.flatMap((action) =>
        action.type === "terminateOrphan" ? [action.instanceId] : [],
      ),
      ...(await joblessInstances(cp, records, now, rules)),
    ],
    stuckJobs: await stuckJobs(cp, now),
  };
  for (const action of actions) {
    try {
      await carryOut(cp, action);
      report.done[action.type] = (report.done[action.type] ?? 0) + 1;
    } catch (error) {
      report.failed.push({
        type: action.type,
        instanceId: instanceOf(action),
        error: String(error),
      });
    }
  }
  cp.metrics.record(
    reaperPoints({
      orphans: report.orphans.length,
      stuckJobs: report.stuckJobs.length,
      failures: report.failed.length,
    }),
  );
  return report;
};

/** Instances working for a job, by their record, whose job is gone or ended: one read each. */
const joblessInstances = async (
  cp: ReconcilePorts,
  records: readonly Instance[],
  now: string,
  rules: ReapingRules,
): Promise<string[]> => {
  const working = records.flatMap((instance) =>
    instance.status === "LAUNCHING" || instance.status === "EXECUTING"
      ? [{ id: instance.id, jobId: instance.jobId }]
      : [],
  );
  const jobless = await Promise.all(
    working.map(async ({ id, jobId }) => {
      const record = await cp.jobs.get(jobId);
      const job = record && { phase: record.job.phase, updatedAt: record.updatedAt };
      return holdsNoLiveJob(job, now, rules) ? [id] : [];
    }),
  );
  return jobless.flat();
};

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
