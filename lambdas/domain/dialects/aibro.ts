import type { Job } from "../job.ts";
import type { Phase } from "../phases.ts";

export const AIBRO_JOB_STATUSES = ["QUEUING", "TRAINING", "CANCELED", "COMPLETED"] as const;
export const AIBRO_JOB_SUBSTATUSES = [
  "REQUESTING SERVER",
  "CONNECTING SERVER",
  "GEARING UP ENV",
  "SENDING MODEL & DATA",
  "TRAINING",
  "RETURNING",
  "CANCELED",
  "COMPLETED",
] as const;

export interface AibroJobStatus {
  status: (typeof AIBRO_JOB_STATUSES)[number];
  substatus: (typeof AIBRO_JOB_SUBSTATUSES)[number];
}

const queuing = (substatus: AibroJobStatus["substatus"]): AibroJobStatus => ({
  status: "QUEUING",
  substatus,
});
const CANCELED: AibroJobStatus = { status: "CANCELED", substatus: "CANCELED" };

const BY_PHASE: Record<Phase, AibroJobStatus> = {
  SUBMITTED: queuing("REQUESTING SERVER"),
  PENDING_REVIEW: queuing("REQUESTING SERVER"),
  QUEUED: queuing("REQUESTING SERVER"),
  REQUESTING_SERVER: queuing("REQUESTING SERVER"),
  RETRY_BACKOFF: queuing("REQUESTING SERVER"),
  CONNECTING_SERVER: queuing("CONNECTING SERVER"),
  GEARING_UP_ENV: queuing("GEARING UP ENV"),
  SENDING_MODEL_AND_DATA: queuing("SENDING MODEL & DATA"),
  TRAINING: { status: "TRAINING", substatus: "TRAINING" },
  RETURNING: { status: "TRAINING", substatus: "RETURNING" },
  // The agent is uploading a checkpoint before the spot instance goes.
  PREEMPTING: { status: "TRAINING", substatus: "RETURNING" },
  COMPLETED: { status: "COMPLETED", substatus: "COMPLETED" },
  CANCELING: CANCELED,
  FAILED: CANCELED,
  CANCELED,
  TIMED_OUT: CANCELED,
  PREEMPTED: CANCELED,
  LOST: CANCELED,
};

export const aibroJobStatus = (job: Pick<Job, "phase">): AibroJobStatus => BY_PHASE[job.phase];

/** A record this version cannot read is reported as AIbro reports a job it lost. */
export const AIBRO_UNREADABLE: AibroJobStatus = BY_PHASE.LOST;
