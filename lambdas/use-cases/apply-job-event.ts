import { jobChangePoints } from "../domain/metrics.ts";
import { jobStatusChanged } from "../domain/status-events.ts";
import { type JobEvent, transition } from "../domain/transitions.ts";
import type { Actor, JobRecord } from "../ports.ts";
import type { Ports } from "./control-plane.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";

export type Applied = { ok: true; record: JobRecord; before: JobRecord } | Failure;

/**
 * Reads a job, lets the domain apply one event, persists the change if nobody moved the
 * job first, and publishes it and its metrics. `by` is the user who asked for it; none
 * when the control plane itself moves the job.
 */
export const applyJobEvent = async (
  cp: Ports<"jobs" | "events" | "metrics" | "clock">,
  jobId: string,
  event: JobEvent,
  by?: Actor,
): Promise<Applied> => {
  const before = await cp.jobs.get(jobId);
  if (!before) return notFound(`job ${jobId}`);
  const next = transition(before.job, event);
  if (!next.ok) return refused(next.refusal.message);
  const at = cp.clock.now();
  const written = await cp.jobs.apply({
    before,
    after: next.job,
    event,
    at,
    ...(by ? { by } : {}),
  });
  if (!written.ok) return conflict(written);
  cp.metrics.record(
    jobChangePoints({ from: before.job.phase, to: next.job.phase, timeline: before.timeline, at }),
  );
  await cp.events.publish([
    jobStatusChanged(next.job, {
      event: event.type,
      from: before.job.phase,
      at,
      ...(by ? { by } : {}),
    }),
  ]);
  return { ok: true, record: { ...before, job: next.job, updatedAt: at }, before };
};
