import type { Job } from "../job.ts";
import type { FailureReason, Phase } from "../phases.ts";

/** ModelArts job status codes and names, 0 to 22 (22 from the newer ModelArts docs). */
export const MODELARTS_CODES = {
  0: "JOBSTAT_UNKNOWN",
  1: "JOBSTAT_INIT",
  2: "JOBSTAT_IMAGE_CREATING",
  3: "JOBSTAT_IMAGE_FAILED",
  4: "JOBSTAT_SUBMIT_TRYING",
  5: "JOBSTAT_SUBMIT_FAILED",
  6: "JOBSTAT_DELETE_FAILED",
  7: "JOBSTAT_WAITING",
  8: "JOBSTAT_RUNNING",
  9: "JOBSTAT_KILLING",
  10: "JOBSTAT_COMPLETED",
  11: "JOBSTAT_FAILED",
  12: "JOBSTAT_KILLED",
  13: "JOBSTAT_CANCELED",
  14: "JOBSTAT_LOST",
  15: "JOBSTAT_SCALING",
  16: "JOBSTAT_SUBMIT_MODEL_FAILED",
  17: "JOBSTAT_DEPLOY_SERVICE_FAILED",
  18: "JOBSTAT_CHECK_INIT",
  19: "JOBSTAT_CHECK_RUNNING",
  20: "JOBSTAT_CHECK_RUNNING_COMPLETED",
  21: "JOBSTAT_CHECK_FAILED",
  22: "JOBSTAT_MOUNT_FAILED",
} as const;
export type ModelArtsCode = keyof typeof MODELARTS_CODES;

export interface ModelArtsStatus {
  code: ModelArtsCode;
  name: (typeof MODELARTS_CODES)[ModelArtsCode];
}

const FAILED_CODE: Record<FailureReason, ModelArtsCode> = {
  EXIT_CODE: 11,
  CONTAINER_CANNOT_RUN: 11,
  RESULT_TRANSFER_FAILED: 11,
  IMAGE_PULL: 3,
  INIT_FAILED: 5,
  LAUNCH_FAILED: 5,
  MODEL_TRANSFER_FAILED: 16,
  SERVICE_FAILED: 17,
  REVIEW_REJECTED: 21,
  NO_CAPACITY: 5,
  MOUNT_FAILED: 22,
};

type ModelArtsInput = Pick<Job, "phase" | "reason" | "review" | "ran" | "scalingTo">;

const codeFor = (job: ModelArtsInput): ModelArtsCode => {
  const byPhase: Record<Phase, () => ModelArtsCode> = {
    SUBMITTED: () => (job.review === "APPROVED" ? 20 : 1),
    PENDING_REVIEW: () => (job.review === "RUNNING" ? 19 : 18),
    QUEUED: () => 7,
    RETRY_BACKOFF: () => 7,
    REQUESTING_SERVER: () => 4,
    CONNECTING_SERVER: () => 4,
    SENDING_MODEL_AND_DATA: () => 4,
    GEARING_UP_ENV: () => 2,
    TRAINING: () => (job.scalingTo === undefined ? 8 : 15),
    RETURNING: () => 8,
    PREEMPTING: () => 8,
    CANCELING: () => (job.reason === "DELETE_FAILED" ? 6 : 9),
    COMPLETED: () => 10,
    FAILED: () => FAILED_CODE[job.reason as FailureReason] ?? 11,
    CANCELED: () => (job.ran ? 12 : 13),
    TIMED_OUT: () => 12,
    PREEMPTED: () => 12,
    LOST: () => 14,
  };
  return byPhase[job.phase]();
};

const status = (code: ModelArtsCode): ModelArtsStatus => ({ code, name: MODELARTS_CODES[code] });

export const modelartsStatus = (job: ModelArtsInput): ModelArtsStatus => status(codeFor(job));

/** 0 is kept for a record this version cannot read; a healthy record never reports it. */
export const MODELARTS_UNREADABLE: ModelArtsStatus = status(0);
