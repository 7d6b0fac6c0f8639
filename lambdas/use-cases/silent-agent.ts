/**
 * An agent silent past its heartbeat timeout (or one that never answered its first step):
 * the compute says whether its instance is still there. An instance gone takes the job's
 * placement with it; one still running gets its agent restarted, once, on the same disk.
 */
import { HOLDING_PHASES, type Phase } from "../domain/phases.ts";
import type { ComputeState } from "../domain/reaping.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { closeInstance } from "./change-instance.ts";
import type { Ports } from "./control-plane.ts";
import { WORKFLOW_ERRORS, WorkflowError } from "./workflow-errors.ts";

type SilentAgentPorts = Ports<
  "jobs" | "instances" | "compute" | "commands" | "events" | "metrics" | "clock",
  "costModel"
>;

/** Compute states in which an instance still runs, so only its agent can be at fault. */
const RUNNING: ReadonlySet<ComputeState | undefined> = new Set(["pending", "running"]);

/** Phases in which a silent agent leaves the job without anyone working on it. */
const SILENCED: readonly Phase[] = [...HOLDING_PHASES, "PREEMPTING"];

const stateOf = async (cp: Ports<"compute">, instanceId: string) =>
  (await cp.compute.list()).find((instance) => instance.instanceId === instanceId)?.state;

/**
 * The workflow's step when the agent went silent: `restarted` sends the workflow back to
 * wait for the agent on the same instance (the job CONNECTING_SERVER again); otherwise the
 * instance is terminated and the job requeued uncounted (`heartbeatLost`: LOST past the
 * cap), and the workflow frees the instance. The restart comes before the job records it:
 * a run that dies between the two restarts it again, and one that dies after it finds the
 * restart recorded and treats the agent as lost, which requeues the job: nothing is lost.
 */
export const askAboutSilentAgent = async (
  cp: SilentAgentPorts,
  jobId: string,
): Promise<{ restarted: boolean }> => {
  const record = await cp.jobs.get(jobId);
  if (!record) throw new WorkflowError(WORKFLOW_ERRORS.jobEnded, `job ${jobId} not found`);
  const { job } = record;
  // Canceled, completed, or moved off the instance by its state change meanwhile: the job's
  // own path frees the instance.
  if (!SILENCED.includes(job.phase)) return { restarted: false };
  const instance = job.instanceId ? await cp.instances.get(job.instanceId) : undefined;
  const held =
    (instance?.status === "LAUNCHING" || instance?.status === "EXECUTING") &&
    instance.jobId === job.id;
  if (!instance || !held) {
    await applyJobEvent(cp, jobId, { type: "heartbeatLost" });
    return { restarted: false };
  }
  const restartable = job.phase !== "PREEMPTING" && job.agentRestarted !== true;
  if (restartable && RUNNING.has(await stateOf(cp, instance.id))) {
    await cp.compute.restartAgent(instance.id);
    const restarted = await applyJobEvent(cp, jobId, { type: "agentRestarted" });
    if (restarted.ok) return { restarted: true };
  }
  // Gone, or silent again after its restart: nothing on it can be trusted. Terminated
  // before the job moves, so a requeued job leaves no instance of its running.
  await closeInstance(cp, instance, "terminate");
  await applyJobEvent(cp, jobId, { type: "heartbeatLost" });
  return { restarted: false };
};
