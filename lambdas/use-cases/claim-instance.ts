import { type Instance, transitionInstance } from "../domain/instance.ts";
import { instanceStatusChanged, jobStatusChanged } from "../domain/status-events.ts";
import { transition } from "../domain/transitions.ts";
import type { Ports } from "./control-plane.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";

/**
 * Gives a reusable instance to a job in one transaction: a COOLING instance
 * or a STOPPED one goes to LAUNCHING (set up for the job). If another job claimed it first, this one gets
 * a conflict and looks for another instance.
 */
export const claimInstance = async (
  cp: Ports<"jobs" | "instances" | "events" | "clock">,
  jobId: string,
  instance: Instance,
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const record = await cp.jobs.get(jobId);
  if (!record) return notFound(`job ${jobId}`);
  const warm = instance.status === "COOLING";
  const instanceEvent = warm
    ? ({ type: "claimed", jobId } as const)
    : ({ type: "started", jobId } as const);
  const claimed = transitionInstance(instance, instanceEvent);
  if (!claimed.ok) return refused(claimed.refusal.message);
  const event = {
    type: warm ? "instanceClaimed" : "instanceStarted",
    instanceId: instance.id,
  } as const;
  const moved = transition(record.job, event);
  if (!moved.ok) return refused(moved.refusal.message);
  const at = cp.clock.now();
  const written = await cp.instances.apply(
    { before: instance, after: claimed.instance, at },
    { before: record, after: moved.job, event, at },
  );
  if (!written.ok) return conflict(written);
  await cp.events.publish([
    instanceStatusChanged(claimed.instance, at, instanceEvent),
    jobStatusChanged(moved.job, { event: event.type, from: record.job.phase, at }),
  ]);
  return { ok: true, instance: claimed.instance };
};
