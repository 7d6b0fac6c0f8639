import type { JobKind, Phase, Reason, ReviewState } from "./phases.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry-policy.ts";

/** The canonical job record: everything any dialect or transition needs, nothing derivable. */
export interface Job {
  id: string;
  kind: JobKind;
  phase: Phase;
  /** Why the job is in its phase, where that matters (a failure, a wait, a requeue). */
  reason?: Reason;
  /** Exit code of the last run, when it exited. */
  exitCode?: number;
  /** 1-based number of the counted attempt; never above `retryPolicy.backoffLimit + 1`. */
  attempt: number;
  /** Restarts that do not count against the limit: preemptions, ignored failures, interactive restarts. */
  requeues: number;
  /** Placements lost with their agent (silent, or its instance gone); capped by `MAX_AGENT_LOSSES`. */
  agentLosses?: number;
  /** This placement's agent went silent and was restarted once already. */
  agentRestarted?: boolean;
  workersTotal: number;
  /** Workers whose agent has registered in this attempt. */
  workersReady: number;
  spot: boolean;
  retryPolicy: RetryPolicy;
  review?: ReviewState;
  /** Whether any attempt reached TRAINING (ModelArts tells KILLED from CANCELED by it). */
  ran: boolean;
  /** Target worker count of an inference resize in flight. */
  scalingTo?: number;
  /** The leader's instance (rank 0); a multi-node job's other ranks are in `workerInstanceIds`. */
  instanceId?: string;
  /**
   * A multi-node job's instances of ranks 1 to N-1, in rank order, as each was claimed or
   * launched; the leader's (`instanceId`) is taken last, so a job holds all of them or is
   * still REQUESTING_SERVER.
   */
  workerInstanceIds?: string[];
  /**
   * A multi-node job's instances of a placement it lost (requeued): its workflow's release
   * frees those still held for it; its next leader's placement forgets them.
   */
  formerInstanceIds?: string[];
  /** The ranks whose agent reported the step the job is in; cleared as the job moves on. */
  ranksDone?: number[];
  /** Bumped by every transition; the store's optimistic-concurrency token. */
  version: number;
}

export interface JobSubmission {
  id: string;
  kind: JobKind;
  workers?: number;
  spot?: boolean;
  retryPolicy?: RetryPolicy;
}

/** A job as the `submitted` event creates it. */
export const submitJob = (submission: JobSubmission): Job => ({
  id: submission.id,
  kind: submission.kind,
  phase: "SUBMITTED",
  attempt: 1,
  requeues: 0,
  workersTotal: submission.workers ?? 1,
  workersReady: 0,
  spot: submission.spot ?? false,
  retryPolicy: submission.retryPolicy ?? DEFAULT_RETRY_POLICY,
  ran: false,
  version: 1,
});

export const isMultiNode = (job: Pick<Job, "workersTotal">): boolean => job.workersTotal > 1;

/** Every instance the job holds, leader (rank 0) first: a rank is its index. */
export const placementOf = (job: Pick<Job, "instanceId" | "workerInstanceIds">): string[] => [
  ...(job.instanceId ? [job.instanceId] : []),
  ...(job.workerInstanceIds ?? []),
];

/** The rank of the job's worker on an instance, or undefined when the job does not hold it. */
export const rankOf = (job: Pick<Job, "instanceId" | "workerInstanceIds">, instanceId: string) => {
  if (job.instanceId === instanceId) return 0;
  const index = job.workerInstanceIds?.indexOf(instanceId) ?? -1;
  return index < 0 ? undefined : index + 1;
};
