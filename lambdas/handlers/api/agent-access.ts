import { isTerminal } from "../../domain/phases.ts";
import type { JobRecord } from "../../ports.ts";
import { type Assignment, assignmentHolds } from "../../use-cases/agent-identity.ts";
import type { Ports } from "../../use-cases/control-plane.ts";
import { errorBody } from "./responses.ts";
import type { ApiBindings } from "./user-identity.ts";

/**
 * Who calls, once its proof is checked: an instance's agent, and, on a request about a job,
 * the assignment it holds for that job (an assignment of that same instance).
 */
export type AgentCaller = { instance: string } | { instance: string; assignment: Assignment };
export type AgentEnv = { Bindings: ApiBindings; Variables: { caller: AgentCaller } };

export const forbidden = (message: string) =>
  Response.json(errorBody("FORBIDDEN", message), { status: 403 });

export const notYours = (what: string) => forbidden(`${what} is not this caller's`);

/**
 * The job `jobId` with the caller's assignment for it, if the caller holds one that still
 * holds (the job's current attempt, on that instance) and the job has not ended; with
 * `ended: "included"`, also once it has (the caller then decides what an ended job allows).
 */
export const assignedJob = async (
  cp: Ports<"jobs">,
  caller: AgentCaller,
  jobId: string,
  ended: "excluded" | "included" = "excluded",
  ranks: "leader" | "any" = "leader",
): Promise<{ record: JobRecord; assignment: Assignment } | undefined> => {
  if (!("assignment" in caller) || caller.assignment.jobId !== jobId) return undefined;
  const record = await cp.jobs.get(jobId);
  if (!record || !assignmentHolds(caller.assignment, record.job, ranks)) return undefined;
  if (ended === "excluded" && isTerminal(record.job.phase)) return undefined;
  return { record, assignment: caller.assignment };
};
