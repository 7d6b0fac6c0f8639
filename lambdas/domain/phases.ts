/** The canonical job phases; every dialect is a pure function of a job in one of these. */
export const PHASES = [
  "SUBMITTED",
  "PENDING_REVIEW",
  "QUEUED",
  "REQUESTING_SERVER",
  "CONNECTING_SERVER",
  "GEARING_UP_ENV",
  "SENDING_MODEL_AND_DATA",
  "TRAINING",
  "RETURNING",
  "RETRY_BACKOFF",
  "PREEMPTING",
  "CANCELING",
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "TIMED_OUT",
  "PREEMPTED",
  "LOST",
] as const;
export type Phase = (typeof PHASES)[number];

export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "TIMED_OUT",
  "PREEMPTED",
  "LOST",
]);

export const isTerminal = (phase: Phase): boolean => TERMINAL_PHASES.has(phase);

/** Phases in which the job holds an instance (from connect to the end of the result upload). */
export const HOLDING_PHASES = [
  "CONNECTING_SERVER",
  "GEARING_UP_ENV",
  "SENDING_MODEL_AND_DATA",
  "TRAINING",
  "RETURNING",
] as const satisfies readonly Phase[];

/** Phases in which the job holds no instance and no launch is in flight. */
export const WAITING_PHASES = [
  "SUBMITTED",
  "PENDING_REVIEW",
  "QUEUED",
  "RETRY_BACKOFF",
] as const satisfies readonly Phase[];

export const JOB_KINDS = ["training", "inference", "interactive"] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Why an attempt failed; each dialect has its own name for some of them. */
export const ATTEMPT_FAILURE_REASONS = [
  "EXIT_CODE",
  "CONTAINER_CANNOT_RUN",
  "IMAGE_PULL",
  "INIT_FAILED",
  "LAUNCH_FAILED",
  "MODEL_TRANSFER_FAILED",
  "MOUNT_FAILED",
  "SERVICE_FAILED",
  "RESULT_TRANSFER_FAILED",
] as const;
export type AttemptFailureReason = (typeof ATTEMPT_FAILURE_REASONS)[number];

/** Why an attempt fails when its env setup (the spec's `setup`) fails: told apart from the run's failures. */
export const SETUP_FAILURE_REASON: AttemptFailureReason = "IMAGE_PULL";

/**
 * Why a job failed: an attempt's failure, the cost gate's refusal, or no capacity for any of
 * its instance types until its `instance.waitRequestS` ran out.
 */
export const FAILURE_REASONS = [
  ...ATTEMPT_FAILURE_REASONS,
  "REVIEW_REJECTED",
  "NO_CAPACITY",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export const WAIT_REASONS = ["QUOTA_EXCEEDED", "INSUFFICIENT_CAPACITY"] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

export const REASONS = [
  ...FAILURE_REASONS,
  ...WAIT_REASONS,
  "SPOT_INTERRUPTED",
  "DELETE_FAILED",
  "HEARTBEAT_LOST",
  "INSTANCE_VANISHED",
] as const;
export type Reason = (typeof REASONS)[number];

/** The cost gate: a job under review, or one whose review has been approved. */
export const REVIEW_STATES = ["INIT", "RUNNING", "APPROVED"] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
