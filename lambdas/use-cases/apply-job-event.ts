import { type JobEvent, transition } from "../domain/transitions.ts";
import type { JobRecord, JobStore } from "../ports.ts";
import { conflict, type Failure, notFound, refused } from "./outcome.ts";

/** Reads a job, lets the domain apply one event, and persists the change if nobody moved it first. */
export const applyJobEvent = async (
  jobs: JobStore,
  jobId: string,
  event: JobEvent,
  at: string,
): Promise<{ ok: true; record: JobRecord } | Failure> => {
  const record = await jobs.get(jobId);
  if (!record) return notFound(`job ${jobId}`);
  const next = transition(record.job, event);
  if (!next.ok) return refused(next.refusal.message);
  const written = await jobs.apply({ before: record, after: next.job, event, at });
  if (!written.ok) return conflict(written);
  return { ok: true, record: { ...record, job: next.job, updatedAt: at } };
};
