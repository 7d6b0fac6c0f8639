import { type Instance, transitionInstance } from "../domain/instance.ts";
import { transition } from "../domain/transitions.ts";
import type { InstanceStore, JobStore } from "../ports.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";

/**
 * Gives a reusable instance to a job in one transaction: a COOLING instance goes straight
 * to EXECUTING, a STOPPED one to LAUNCHING. If another job claimed it first, this one gets
 * a conflict and looks for another instance.
 */
export const claimInstance = async (
  stores: { jobs: JobStore; instances: InstanceStore },
  jobId: string,
  instance: Instance,
  at: string,
): Promise<{ ok: true; instance: Instance } | Failure> => {
  const record = await stores.jobs.get(jobId);
  if (!record) return notFound(`job ${jobId}`);
  const warm = instance.status === "COOLING";
  const claimed = transitionInstance(
    instance,
    warm ? { type: "claimed", jobId } : { type: "started", jobId },
  );
  if (!claimed.ok) return refused(claimed.refusal.message);
  const event = {
    type: warm ? "instanceClaimed" : "instanceStarted",
    instanceId: instance.id,
  } as const;
  const moved = transition(record.job, event);
  if (!moved.ok) return refused(moved.refusal.message);
  const written = await stores.instances.apply(
    { before: instance, after: claimed.instance, at },
    { before: record, after: moved.job, event, at },
  );
  return written.ok ? { ok: true, instance: claimed.instance } : conflict(written);
};
