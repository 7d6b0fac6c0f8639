import { HOLDING_PHASES, type Phase } from "../domain/phases.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { closeInstance } from "./change-instance.ts";
import type { Ports } from "./control-plane.ts";
import { recoveryRerun } from "./execution-names.ts";
import { finishCancel } from "./reap.ts";
import { startJobWorkflows } from "./submit-job.ts";

const WAITING_FOR_A_SERVER: Phase[] = [
  "SUBMITTED",
  "PENDING_REVIEW",
  "QUEUED",
  "REQUESTING_SERVER",
  "RETRY_BACKOFF",
];

export interface RecoveryReport {
  /** Instances whose close failed: left recorded closing, for the reaper. */
  closeFailures: Array<{ instanceId: string; error: string }>;
}

/**
 * Picks up after a restart of the local control plane, whose workflows, agent processes
 * and timers did not survive it: waiting jobs get their workflow again, jobs that were on
 * an instance are requeued as their agent was lost (`heartbeatLost`: uncounted, up to the
 * cap), cancels finish (unless their instance could not be closed: the reaper retries it),
 * and instances whose agent is gone are recorded as stopped, ready to be started for the
 * next job of their pool.
 * The lost executions' names stay taken, as on Step Functions: the restarted ones get new ones.
 */
export const recoverAfterRestart = async (
  cp: Ports<
    "jobs" | "instances" | "compute" | "commands" | "workflows" | "events" | "metrics" | "clock",
    "costModel"
  >,
): Promise<RecoveryReport> => {
  const closeFailures: RecoveryReport["closeFailures"] = [];
  for (const status of ["LAUNCHING", "EXECUTING", "COOLING"] as const) {
    for (const instance of await cp.instances.listByStatus(status)) {
      // One the compute will not close now stays recorded closing: the reaper closes it
      // later. It must not keep the control plane from starting.
      try {
        await closeInstance(cp, instance, instance.spot ? "terminate" : "stop");
      } catch (error) {
        closeFailures.push({ instanceId: instance.id, error: String(error) });
      }
    }
  }
  for (const phase of [...HOLDING_PHASES, "PREEMPTING"] as const) {
    for (const { job } of await cp.jobs.listByPhase(phase))
      await applyJobEvent(cp, job.id, { type: "heartbeatLost" });
  }
  // Their instances closed above; one left closing (DELETE_FAILED) keeps its job for the reaper.
  for (const record of await cp.jobs.listByPhase("CANCELING")) await finishCancel(cp, record);
  // Last, so no instance these workflows claim or launch is closed by the steps above.
  const rerun = recoveryRerun();
  for (const phase of WAITING_FOR_A_SERVER) {
    for (const record of await cp.jobs.listByPhase(phase))
      await startJobWorkflows(cp, record, rerun);
  }
  return { closeFailures };
};
