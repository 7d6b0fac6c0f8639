import type { Instance } from "../domain/instance.ts";
import { rankOf } from "../domain/job.ts";
import type { Phase } from "../domain/phases.ts";
import {
  type ComputeState,
  type Ending,
  type Reconciliation,
  reconcile,
} from "../domain/reaping.ts";
import { applyJobEvent } from "./apply-job-event.ts";
import { carryOutClose, changeInstance, closeInstance } from "./change-instance.ts";
import type { Ports } from "./control-plane.ts";
import { tellAgent } from "./tell-agent.ts";
import { WORKFLOW_ERRORS } from "./workflow-errors.ts";

/** What bringing a record in line with the compute uses: the instance, its job and its job's workflow. */
export type ReconcilePorts = Ports<
  "jobs" | "instances" | "compute" | "commands" | "workflows" | "events" | "metrics" | "clock",
  "costModel"
>;

/** What became of an EC2 event: `ignored` says why nothing changed. */
export type Reconciled =
  | { applied: Reconciliation["type"] | "spotInterruptionNotice" }
  | { ignored: string };

/**
 * The job the instance was taken from moves on (`instanceGone`: requeued, uncounted, up to
 * the cap on lost placements); returns the task its workflow waits on, if any, to end once the instance is
 * recorded (the workflow then frees the instance, and must find it closed).
 */
const moveJobOff = async (
  cp: ReconcilePorts,
  instance: Instance,
): Promise<{ taskToken: string; phase: Phase } | undefined> => {
  if (instance.status !== "LAUNCHING" && instance.status !== "EXECUTING") return undefined;
  const record = await cp.jobs.get(instance.jobId);
  // Any rank's instance: a multi-node job cannot go on without one of its workers.
  if (!record || rankOf(record.job, instance.id) === undefined) return undefined;
  const applied = await applyJobEvent(cp, record.job.id, {
    type: "instanceGone",
    spot: instance.spot,
  });
  // Refused: the job moved on already (a run of this before, or its own end); a task of
  // its still waiting is ended all the same, and one over takes the report as a no-op.
  const before = applied.ok ? applied.before : record;
  return before.taskToken ? { taskToken: before.taskToken, phase: before.job.phase } : undefined;
};

/**
 * An instance in use stopped or went away without the control plane (a spot reclaim, a
 * shutdown from inside, the console): its job moves on, the instance is recorded as it
 * is, and the job's waiting task ends so its workflow frees the instance and retries. The
 * job moves first: a run that dies half-way leaves the instance in use for the reaper to
 * find again. One stopped mid-job has no cooling plan to end it: it is terminated.
 */
const instanceVanished = async (cp: ReconcilePorts, instance: Instance, as: Ending) => {
  const task = await moveJobOff(cp, instance);
  const recorded = await changeInstance(cp, instance, {
    type: as === "stopped" ? "stoppedOutside" : "terminated",
  });
  if (as === "terminated") await cp.commands.close(instance.id);
  if (recorded.ok && as === "stopped" && !recorded.instance.stoppedUntil)
    await closeInstance(cp, recorded.instance, "terminate");
  if (task) {
    await cp.workflows.sendTaskFailure(
      task.taskToken,
      WORKFLOW_ERRORS.instanceGone,
      `instance ${instance.id} ${as} outside the control plane while the job was ${task.phase}`,
    );
  }
};

/** Brings one record in line with the compute, as `reconcile` decided. */
export const applyReconciliation = async (
  cp: ReconcilePorts,
  instance: Instance,
  reconciliation: Reconciliation,
): Promise<void> => {
  switch (reconciliation.type) {
    case "vanished":
      return instanceVanished(cp, instance, reconciliation.as);
    case "recordClosed":
      await changeInstance(cp, instance, { type: reconciliation.as });
      if (reconciliation.as === "terminated") await cp.commands.close(instance.id);
      return;
    // Recorded on a later run, once the compute shows it: a close in flight records it first.
    case "repeatClose":
      return carryOutClose(cp, instance.id, reconciliation.action);
    case "terminate":
      return carryOutClose(cp, instance.id, "terminate");
  }
};

/**
 * EC2's "EC2 Instance State-change Notification": the record follows what happened to an
 * instance outside the control plane. Its own closes need nothing: each records its steps,
 * and a CLOSING record is the close flow's (or, if that died, the reaper's) to finish.
 */
export const instanceStateChanged = async (
  cp: ReconcilePorts,
  change: { providerId: string; state: ComputeState; at?: string },
): Promise<Reconciled> => {
  const instance = await cp.instances.getByProviderId(change.providerId);
  if (!instance) return { ignored: `no instance is recorded as ${change.providerId}` };
  if (instance.status === "CLOSING")
    return { ignored: `instance ${instance.id} is closing: its close records it` };
  const reconciliation = reconcile(instance, change.state, change.at);
  if (!reconciliation)
    return { ignored: `instance ${instance.id} is recorded in line with ${change.state}` };
  await applyReconciliation(cp, instance, reconciliation);
  return { applied: reconciliation.type };
};

/**
 * EC2's "EC2 Spot Instance Interruption Warning": about two minutes before reclaiming a spot
 * instance. Its job is PREEMPTING, and its agent is told at once (`preempt`): the job gets
 * its SIGTERM to save a checkpoint, which the agent uploads within the notice. The
 * instance's termination then requeues the job (`instanceStateChanged`), and its next
 * attempt starts from that checkpoint. A repeated warning tells the agent again: a second
 * `preempt` finds nothing left to stop.
 */
export const spotInterruptionWarned = async (
  cp: Ports<"jobs" | "instances" | "commands" | "events" | "metrics" | "clock", "costModel">,
  providerId: string,
): Promise<Reconciled> => {
  const instance = await cp.instances.getByProviderId(providerId);
  if (!instance) return { ignored: `no instance is recorded as ${providerId}` };
  if (!instance.spot) return { ignored: `instance ${instance.id} is not spot` };
  if (instance.status !== "LAUNCHING" && instance.status !== "EXECUTING")
    return { ignored: `instance ${instance.id} runs no job` };
  const applied = await applyJobEvent(cp, instance.jobId, { type: "spotInterruptionNotice" });
  const preempting = applied.ok ? applied.record : await cp.jobs.get(instance.jobId);
  if (preempting?.job.phase === "PREEMPTING" && preempting.job.instanceId === instance.id)
    await tellAgent(cp, instance.id, { type: "preempt", jobId: instance.jobId });
  return applied.ok ? { applied: "spotInterruptionNotice" } : { ignored: applied.message };
};
