import { accrueUsage } from "../domain/cost.ts";
import { type Instance, type InstanceEvent, transitionInstance } from "../domain/instance.ts";
import { instanceChangePoints, jobChangePoints } from "../domain/metrics.ts";
import { instanceStatusChanged, jobStatusChanged } from "../domain/status-events.ts";
import { type JobEvent, transition } from "../domain/transitions.ts";
import type { Ports } from "./control-plane.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";

/**
 * What finding an instance for a job and freeing it again use: the job and the instance,
 * the compute, and the pool's history. Finding also stops the instance's cooling timer
 * (`coolingTimers`), freeing starts one (`workflows`).
 */
export const INSTANCE_PORTS = [
  "jobs",
  "instances",
  "compute",
  "commands",
  "pools",
  "events",
  "metrics",
  "clock",
] as const;
export type InstancePortName = (typeof INSTANCE_PORTS)[number];

type PairPorts = Ports<"jobs" | "instances" | "events" | "metrics" | "clock", "costModel">;

/**
 * Applies an instance event and the job event that goes with it in one transaction, and
 * publishes both, and their metrics: a claim, or a claim undone, is never half-written.
 */
export const changeInstanceWithJob = async (
  cp: PairPorts,
  change: { instance: Instance; instanceEvent: InstanceEvent; jobId: string; event: JobEvent },
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const { instance, instanceEvent, jobId, event } = change;
  const record = await cp.jobs.get(jobId);
  if (!record) return notFound(`job ${jobId}`);
  const changed = transitionInstance(instance, instanceEvent);
  if (!changed.ok) return refused(changed.refusal.message);
  const moved = transition(record.job, event);
  if (!moved.ok) return refused(moved.refusal.message);
  const at = cp.clock.now();
  const after = accrueUsage(instance, changed.instance, at);
  const written = await cp.instances.apply(
    { before: instance, after, at },
    { before: record, after: moved.job, event, at },
  );
  if (!written.ok) return conflict(written);
  cp.metrics.record([
    ...instanceChangePoints(instance, at, cp.settings.costModel),
    ...jobChangePoints({
      from: record.job.phase,
      to: moved.job.phase,
      timeline: record.timeline,
      at,
    }),
  ]);
  await cp.events.publish([
    instanceStatusChanged(changed.instance, at, instanceEvent),
    jobStatusChanged(moved.job, { event: event.type, from: record.job.phase, at }),
  ]);
  return { ok: true, instance: { ...after, updatedAt: at } };
};

/**
 * Whom an instance is taken for: the leader's (a single node's) placement moves the job on;
 * a worker's (a multi-node job's ranks 1 to N-1, taken first) only adds to its set.
 */
export type Role = "leader" | "worker";

/**
 * Gives a reusable instance to a job in one transaction: a COOLING instance
 * or a STOPPED one goes to LAUNCHING (set up for the job). If another job claimed it first, this one gets
 * a conflict and looks for another instance.
 */
export const claimInstance = (
  cp: PairPorts,
  jobId: string,
  instance: Instance,
  role: Role = "leader",
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const warm = instance.status === "COOLING";
  const placed = warm ? "instanceClaimed" : "instanceStarted";
  return changeInstanceWithJob(cp, {
    instance,
    instanceEvent: warm ? { type: "claimed", jobId } : { type: "started", jobId },
    jobId,
    event: { type: role === "leader" ? placed : "workerPlaced", instanceId: instance.id },
  });
};
