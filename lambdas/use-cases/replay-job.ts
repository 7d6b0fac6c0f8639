import type { Caller } from "../domain/identity.ts";
import type { JobSpec } from "../domain/job-spec.ts";
import type { JobRecord } from "../ports.ts";
import { actor, ownJob } from "./job-access.ts";
import { type Failure, notFound } from "./outcome.ts";
import { type SubmitRequest, submitJob, unstoredInputs } from "./submit-job.ts";

export interface ReplayRequest {
  jobId: string;
  by: Caller;
  /** Why it is run again (the issue it reproduces); kept with the new job. */
  description?: string;
  /** How long to wait for spot capacity this time: replaces the recorded spec's. */
  waitRequestS: number;
  idempotency?: SubmitRequest["idempotency"];
}

/**
 * Submits a new job from a recorded one's exact spec and pinned inputs (AIbro's
 * `replay_job`), through the same path as any submit: the cost gate, the idempotency key.
 * Only its owner replays a job; anyone else is answered as if it did not exist. A replay
 * runs on the very bytes the job ran on, or not at all: an uploaded input its owner no
 * longer has is a conflict naming it.
 */
export const replayJob = async (
  cp: Parameters<typeof submitJob>[0],
  request: ReplayRequest,
): Promise<{ ok: true; record: JobRecord; replayed: boolean } | Failure> => {
  const recorded = await ownJob(cp, request.by, request.jobId);
  if (!recorded) return notFound(`job ${request.jobId}`);
  const gone = await unstoredInputs(cp, recorded.owner, recorded.spec);
  if (gone.length)
    return {
      ok: false,
      error: "CONFLICT",
      conflict: "INPUT_GONE",
      message: `${recorded.job.id} cannot be replayed: its uploaded input is no longer stored (${gone.map(({ field }) => field).join(", ")}); upload it again and submit the spec anew`,
    };
  const spec: JobSpec = {
    ...recorded.spec,
    instance: { ...recorded.spec.instance, waitRequestS: request.waitRequestS },
  };
  return submitJob(cp, {
    spec,
    by: actor(request.by),
    replay: {
      of: recorded.job.id,
      ...(request.description ? { description: request.description } : {}),
    },
    ...(request.idempotency ? { idempotency: request.idempotency } : {}),
  });
};
