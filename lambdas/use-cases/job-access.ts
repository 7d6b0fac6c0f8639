/**
 * Who reaches a job beyond `may`'s per-action rules: which jobs a caller may read, and
 * how a caller is named in the events of the changes they make.
 */
import { type Caller, may } from "../domain/identity.ts";
import type { Actor, JobRecord } from "../ports.ts";
import type { Ports } from "./control-plane.ts";

/** Who made a change, as the job's events record it: the caller's id and email, not their role. */
export const actor = ({ userId, email }: Caller): Actor => ({ userId, email });

/**
 * Whether `caller` may review `record` now: it waits at the cost gate, and the caller is a
 * reviewer or admin who does not own it (`may`'s `job.review`).
 */
export const awaitsReviewBy = (caller: Caller, record: JobRecord) =>
  record.job.phase === "PENDING_REVIEW" && may(caller, "job.review", record.owner);

/**
 * Whether `caller` may read `record`: its owner, and a reviewer or admin while it awaits
 * their review. Anyone else is answered as if the job did not exist, so ids do not leak.
 */
export const readableBy = (caller: Caller, record: JobRecord) =>
  may(caller, "job.access", record.owner) || awaitsReviewBy(caller, record);

/**
 * The caller's own job, or undefined: another user's job is answered as one that does not
 * exist, whatever the caller's role (its events, logs, outputs and replays are its owner's).
 */
export const ownJob = async (
  cp: Ports<"jobs">,
  caller: Pick<Caller, "userId">,
  jobId: string,
): Promise<JobRecord | undefined> => {
  const record = await cp.jobs.get(jobId);
  return record && record.owner === caller.userId ? record : undefined;
};
