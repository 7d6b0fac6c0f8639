import { INSTANCE_STATUSES } from "../domain/instance.ts";
import { type ReapAction, type ReapingRules, reapingActions } from "../domain/reaping.ts";
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
  const report: ReapReport = { done: {}, failed: [] };
  for (const action of reapingActions(records, compute, cp.clock.now(), rules)) {
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
  return report;
};
