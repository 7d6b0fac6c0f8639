import { isTerminal } from "../domain/phases.ts";
import type { Ports } from "./control-plane.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

/**
 * Leaves the token of the task the workflow now waits on with the job, for whoever ends the
 * job (a cancel, a deadline) to end that wait. One that ended the job after the workflow
 * read it, but before the token was there, could not end the wait: the job read again says
 * so, and the task fails at once rather than hold the job's GPU until its timeout.
 */
export const holdTaskToken = async (
  cp: Ports<"jobs">,
  jobId: string,
  taskToken: string,
): Promise<void> => {
  await cp.jobs.setTaskToken(jobId, taskToken);
  const phase = (await cp.jobs.get(jobId))?.job.phase;
  if (phase === undefined || isTerminal(phase) || phase === "CANCELING")
    throw new WorkflowError(
      WORKFLOW_ERRORS.jobEnded,
      `job ${jobId} ended while its workflow began to wait (${phase ?? "gone"})`,
    );
};
