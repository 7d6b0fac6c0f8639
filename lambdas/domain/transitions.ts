import { isMultiNode, type Job, placementOf } from "./job.ts";
import {
  type AttemptFailureReason,
  HOLDING_PHASES,
  isTerminal,
  PHASES,
  type Phase,
  type Reason,
  WAITING_PHASES,
  type WaitReason,
} from "./phases.ts";
import { type Failure, failureForExit, retryActionFor } from "./retry-policy.ts";

/** Facts that move a job; `submitted` is `submitJob`, which creates the job. */
export type JobEvent =
  | { type: "admitted" }
  | { type: "reviewRequested" }
  | { type: "reviewStarted" }
  | { type: "reviewApproved" }
  | { type: "reviewRejected" }
  | { type: "capacityWait"; reason: WaitReason }
  | { type: "capacityAvailable" }
  /** No capacity still, and the job has waited its `instance.waitRequestS` for it: it fails. */
  | { type: "capacityWaitExpired" }
  | { type: "instanceClaimed"; instanceId: string }
  | { type: "instanceLaunched"; instanceId: string }
  | { type: "instanceStarted"; instanceId: string }
  /**
   * A multi-node job took the instance of its next rank (1 to N-1); the leader's (rank 0),
   * taken last with `instanceClaimed`, `instanceLaunched` or `instanceStarted`, places it.
   */
  | { type: "workerPlaced"; instanceId: string }
  /** A worker's instance was given back: the set could not be completed, or it would not start. */
  | { type: "workerReleased"; instanceId: string }
  /** The stopped instance it claimed could not be started: it looks for another. */
  | { type: "instanceStartFailed"; instanceId: string }
  /** `rank`: which worker of a multi-node job reported; each rank's report counts once. */
  | { type: "agentRegistered"; envCached: boolean; rank?: number }
  | { type: "envReady"; rank?: number }
  | { type: "inputsReady"; rank?: number }
  | { type: "runExited"; code: number }
  | { type: "failed"; reason: AttemptFailureReason; exitCode?: number }
  | { type: "resultsReturned" }
  | { type: "scaleRequested"; workers: number }
  | { type: "scaled" }
  /** The agent went silent and its instance is gone, or was restarted once already. */
  | { type: "heartbeatLost" }
  /** The agent went silent on an instance still running: it was restarted there, once. */
  | { type: "agentRestarted" }
  | { type: "spotInterruptionNotice" }
  /** `spot`: whether the instance lost was spot capacity (the job's spec may have fallen back). */
  | { type: "instanceGone"; spot?: boolean }
  | { type: "released" }
  | { type: "cancelRequested" }
  | { type: "cancelFailed" }
  | { type: "timeout" }
  | { type: "completeRequested" }
  | { type: "retryDue" };

export type JobEventType = JobEvent["type"];
type EventOf<T extends JobEventType> = Extract<JobEvent, { type: T }>;

/** Fields to set; an `undefined` value clears the field. */
export type JobPatch = { [K in keyof Job]?: Job[K] | undefined };

/** Where a transition lands, and the fields it sets beyond phase and version. */
export interface Outcome {
  phase: Phase;
  reason?: Reason | undefined;
  patch?: JobPatch;
}

export interface TransitionRule {
  event: JobEventType;
  from: readonly Phase[];
  /** Every phase this rule can land in; more than one when a policy decides. */
  to: readonly Phase[];
  guard?: { holds: (job: Job, event: JobEvent) => boolean; refusal: string };
  decide?: (job: Job, event: JobEvent) => Outcome;
}

const rule = <T extends JobEventType>(spec: {
  event: T;
  from: readonly Phase[];
  to: readonly Phase[];
  guard?: { holds: (job: Job, event: EventOf<T>) => boolean; refusal: string };
  decide?: (job: Job, event: EventOf<T>) => Outcome;
}): TransitionRule => spec as unknown as TransitionRule;

const ACTIVE_PHASES = PHASES.filter((phase) => !isTerminal(phase));
const ACQUIRING_OR_HOLDING = ["REQUESTING_SERVER", ...HOLDING_PHASES] as const;

/** An attempt failed: the retry policy picks a counted retry, an uncounted one, or the end. */
const afterFailure = (job: Job, failure: Failure): Outcome => {
  const failed: Outcome = { phase: "FAILED", reason: failure.reason };
  // Run:ai restarts a failing interactive job with no back-off limit (CrashLoopBackOff).
  const action = job.kind === "interactive" ? "ignore" : retryActionFor(job.retryPolicy, failure);
  if (action === "fail") return failed;
  if (action === "ignore") {
    return {
      phase: "RETRY_BACKOFF",
      reason: failure.reason,
      patch: { requeues: job.requeues + 1 },
    };
  }
  if (job.attempt > job.retryPolicy.backoffLimit) return failed;
  return { phase: "RETRY_BACKOFF", reason: failure.reason, patch: { attempt: job.attempt + 1 } };
};

/** The instance was taken away; preemption never counts against the limit. */
const afterEviction = (job: Job): Outcome =>
  job.kind === "interactive" && job.spot
    ? { phase: "PREEMPTED", reason: "SPOT_INTERRUPTED" }
    : {
        phase: "REQUESTING_SERVER",
        reason: "SPOT_INTERRUPTED",
        patch: { requeues: job.requeues + 1 },
      };

/**
 * How many placements a job may lose with their agent (silent, or the instance gone outside
 * the control plane) and be requeued uncounted: one more ends it LOST, so a job that kills
 * its own agent or shuts its own instance down does not launch GPUs for ever.
 */
export const MAX_AGENT_LOSSES = 3;

/**
 * The agent was lost with its placement: an infrastructure failure, not the user's attempt.
 * The job is requeued on a new instance (`requeues` + 1, `attempt` as it was), up to the cap.
 */
const afterAgentLoss = (
  job: Job,
  reason: "HEARTBEAT_LOST" | "INSTANCE_VANISHED" | "SPOT_INTERRUPTED",
): Outcome => {
  const agentLosses = (job.agentLosses ?? 0) + 1;
  if (agentLosses > MAX_AGENT_LOSSES) return { phase: "LOST", reason, patch: { agentLosses } };
  return {
    phase: "REQUESTING_SERVER",
    reason,
    patch: { requeues: job.requeues + 1, agentLosses },
  };
};

/** Why a job is back in REQUESTING_SERVER when its placement was taken away, not failed. */
const REQUEUE_REASONS: ReadonlySet<Reason | undefined> = new Set([
  "SPOT_INTERRUPTED",
  "HEARTBEAT_LOST",
  "INSTANCE_VANISHED",
]);

/** Whether the job was requeued for a new placement, with no attempt of its failing. */
export const isRequeued = (job: Pick<Job, "phase" | "reason">): boolean =>
  job.phase === "REQUESTING_SERVER" && REQUEUE_REASONS.has(job.reason);

/**
 * A multi-node job moves on from a step once every rank reported it. Each report adds its
 * rank in a conditional write of the job, so two reports can never both count as the last;
 * a report without a rank (a single node) moves the job at once.
 */
const onceAllRanks = (job: Job, rank: number | undefined, next: Outcome): Outcome => {
  if (!isMultiNode(job) || rank === undefined) return next;
  const ranksDone = [...(job.ranksDone ?? []), rank];
  if (ranksDone.length < job.workersTotal)
    return { phase: job.phase, reason: job.reason, patch: { ...next.patch, ranksDone } };
  return { ...next, patch: { ...next.patch, ranksDone: undefined } };
};

const NEW_RANK = {
  holds: (job: Job, event: { rank?: number }) =>
    event.rank === undefined ||
    (event.rank >= 0 && event.rank < job.workersTotal && !job.ranksDone?.includes(event.rank)),
  refusal: "this worker reported the step already, or the job has no such worker",
};

/** Legal transitions, as data: anything not listed here is refused. */
export const TRANSITIONS: readonly TransitionRule[] = [
  rule({ event: "admitted", from: ["SUBMITTED"], to: ["REQUESTING_SERVER"] }),
  rule({
    event: "reviewRequested",
    from: ["SUBMITTED"],
    to: ["PENDING_REVIEW"],
    guard: { holds: (job) => job.review === undefined, refusal: "the job has been reviewed" },
    decide: () => ({ phase: "PENDING_REVIEW", patch: { review: "INIT" } }),
  }),
  rule({
    event: "reviewStarted",
    from: ["PENDING_REVIEW"],
    to: ["PENDING_REVIEW"],
    guard: { holds: (job) => job.review === "INIT", refusal: "the review has started" },
    decide: () => ({ phase: "PENDING_REVIEW", patch: { review: "RUNNING" } }),
  }),
  rule({
    event: "reviewApproved",
    from: ["PENDING_REVIEW"],
    to: ["SUBMITTED"],
    decide: () => ({ phase: "SUBMITTED", patch: { review: "APPROVED" } }),
  }),
  rule({
    event: "reviewRejected",
    from: ["PENDING_REVIEW"],
    to: ["FAILED"],
    decide: () => ({ phase: "FAILED", reason: "REVIEW_REJECTED" }),
  }),
  rule({
    event: "capacityWait",
    from: ["SUBMITTED", "REQUESTING_SERVER"],
    to: ["QUEUED"],
    decide: (_job, event) => ({ phase: "QUEUED", reason: event.reason }),
  }),
  rule({ event: "capacityAvailable", from: ["QUEUED"], to: ["REQUESTING_SERVER"] }),
  rule({
    event: "capacityWaitExpired",
    from: ["REQUESTING_SERVER"],
    to: ["FAILED"],
    decide: () => ({ phase: "FAILED", reason: "NO_CAPACITY" }),
  }),
  ...(["instanceClaimed", "instanceLaunched", "instanceStarted"] as const).map((event) =>
    rule({
      event,
      from: ["REQUESTING_SERVER"],
      to: ["CONNECTING_SERVER"],
      decide: (_job, e) => ({
        phase: "CONNECTING_SERVER",
        patch: { instanceId: e.instanceId, formerInstanceIds: undefined },
      }),
    }),
  ),
  rule({
    event: "workerPlaced",
    from: ["REQUESTING_SERVER"],
    to: ["REQUESTING_SERVER"],
    guard: {
      holds: (job, event) =>
        (job.workerInstanceIds?.length ?? 0) < job.workersTotal - 1 &&
        !job.workerInstanceIds?.includes(event.instanceId),
      refusal: "the job has all the workers it needs, or this one already",
    },
    decide: (job, event) => ({
      phase: "REQUESTING_SERVER",
      reason: job.reason,
      patch: { workerInstanceIds: [...(job.workerInstanceIds ?? []), event.instanceId] },
    }),
  }),
  rule({
    event: "workerReleased",
    from: ["REQUESTING_SERVER"],
    to: ["REQUESTING_SERVER"],
    guard: {
      holds: (job, event) => job.workerInstanceIds?.includes(event.instanceId) === true,
      refusal: "the job does not hold this worker",
    },
    // Only while the set is taken, before any rank is handed out: no rank changes meaning.
    decide: (job, event) => {
      const workers = job.workerInstanceIds?.filter((id) => id !== event.instanceId) ?? [];
      return {
        phase: "REQUESTING_SERVER",
        reason: job.reason,
        patch: { workerInstanceIds: workers.length > 0 ? workers : undefined },
      };
    },
  }),
  rule({
    event: "instanceStartFailed",
    from: ["CONNECTING_SERVER"],
    to: ["REQUESTING_SERVER"],
    decide: () => ({ phase: "REQUESTING_SERVER", patch: { instanceId: undefined } }),
  }),
  rule({
    event: "agentRegistered",
    from: ["CONNECTING_SERVER"],
    to: ["CONNECTING_SERVER", "GEARING_UP_ENV", "SENDING_MODEL_AND_DATA"],
    guard: NEW_RANK,
    decide: (job, event) => {
      const workersReady = job.workersReady + 1;
      if (event.rank === undefined && workersReady < job.workersTotal)
        return { phase: "CONNECTING_SERVER", patch: { workersReady } };
      // One worker's cached env says nothing of the others': every rank gears up (a no-op
      // where its env is cached).
      const cached = event.envCached && !isMultiNode(job);
      return onceAllRanks(job, event.rank, {
        phase: cached ? "SENDING_MODEL_AND_DATA" : "GEARING_UP_ENV",
        patch: { workersReady },
      });
    },
  }),
  rule({
    event: "envReady",
    from: ["GEARING_UP_ENV"],
    to: ["GEARING_UP_ENV", "SENDING_MODEL_AND_DATA"],
    guard: NEW_RANK,
    decide: (job, event) => onceAllRanks(job, event.rank, { phase: "SENDING_MODEL_AND_DATA" }),
  }),
  rule({
    event: "inputsReady",
    from: ["SENDING_MODEL_AND_DATA"],
    to: ["SENDING_MODEL_AND_DATA", "TRAINING"],
    guard: NEW_RANK,
    decide: (job, event) => onceAllRanks(job, event.rank, { phase: "TRAINING" }),
  }),
  rule({
    event: "runExited",
    from: ["TRAINING"],
    to: ["RETURNING", "RETRY_BACKOFF", "FAILED"],
    decide: (job, event) => {
      const exit = { exitCode: event.code };
      if (job.kind === "training" && event.code === 0) return { phase: "RETURNING", patch: exit };
      // A serving process is meant to run until completed: any exit is a failed deployment.
      const failure =
        job.kind === "inference"
          ? { reason: "SERVICE_FAILED" as const, exitCode: event.code }
          : failureForExit(event.code);
      const outcome = afterFailure(job, failure);
      return { ...outcome, patch: { ...outcome.patch, ...exit } };
    },
  }),
  rule({
    event: "failed",
    from: ACQUIRING_OR_HOLDING,
    to: ["RETRY_BACKOFF", "FAILED"],
    decide: (job, event) => {
      const outcome = afterFailure(job, event);
      return event.exitCode === undefined
        ? outcome
        : { ...outcome, patch: { ...outcome.patch, exitCode: event.exitCode } };
    },
  }),
  rule({ event: "resultsReturned", from: ["RETURNING"], to: ["COMPLETED"] }),
  rule({
    event: "scaleRequested",
    from: ["TRAINING"],
    to: ["TRAINING"],
    guard: {
      holds: (job, event) =>
        job.kind === "inference" &&
        job.scalingTo === undefined &&
        Number.isInteger(event.workers) &&
        event.workers >= 1 &&
        event.workers !== job.workersTotal,
      refusal: "only a serving inference job with no resize in flight can change its worker count",
    },
    decide: (_job, event) => ({ phase: "TRAINING", patch: { scalingTo: event.workers } }),
  }),
  rule({
    event: "scaled",
    from: ["TRAINING"],
    to: ["TRAINING"],
    guard: { holds: (job) => job.scalingTo !== undefined, refusal: "no resize is in flight" },
    decide: (job) => ({
      phase: "TRAINING",
      patch: {
        workersTotal: job.scalingTo ?? job.workersTotal,
        workersReady: job.scalingTo ?? job.workersTotal,
        scalingTo: undefined,
      },
    }),
  }),
  rule({
    event: "heartbeatLost",
    from: HOLDING_PHASES,
    to: ["REQUESTING_SERVER", "LOST"],
    decide: (job) => afterAgentLoss(job, "HEARTBEAT_LOST"),
  }),
  rule({
    event: "agentRestarted",
    from: HOLDING_PHASES,
    to: ["CONNECTING_SERVER"],
    guard: {
      holds: (job) => job.agentRestarted !== true,
      refusal: "its agent was restarted once already on this instance",
    },
    // The same instance, its disk and the job's checkpoints on it: the agent connects again.
    decide: () => ({
      phase: "CONNECTING_SERVER",
      reason: "HEARTBEAT_LOST",
      patch: { agentRestarted: true, workersReady: 0, ranksDone: undefined },
    }),
  }),
  rule({
    event: "spotInterruptionNotice",
    // A job returning its results has finished its run: it goes on uploading, and completes
    // if the upload ends within the notice (if not, the instance's end requeues it).
    from: HOLDING_PHASES.filter((phase) => phase !== "RETURNING"),
    to: ["PREEMPTING"],
    guard: { holds: (job) => job.spot, refusal: "the job does not run on spot capacity" },
    decide: () => ({ phase: "PREEMPTING", reason: "SPOT_INTERRUPTED" }),
  }),
  rule({
    event: "instanceGone",
    from: HOLDING_PHASES,
    to: ["REQUESTING_SERVER", "PREEMPTED", "LOST"],
    // Spot capacity can be reclaimed without a notice, but a spot instance also goes when it
    // is shut down from inside: with no notice seen, the loss counts towards the cap, as an
    // on-demand instance that vanished (shut down from inside, its agent dead, deleted) does.
    // The market is the instance's: a spot job may have fallen back to on-demand.
    decide: (job, event) => {
      if (!(event.spot ?? job.spot)) return afterAgentLoss(job, "INSTANCE_VANISHED");
      return job.kind === "interactive"
        ? afterEviction(job)
        : afterAgentLoss(job, "SPOT_INTERRUPTED");
    },
  }),
  ...(["instanceGone", "released", "heartbeatLost"] as const).map((event) =>
    rule({
      event,
      from: ["PREEMPTING"],
      to: ["REQUESTING_SERVER", "PREEMPTED"],
      decide: afterEviction,
    }),
  ),
  ...(["instanceGone", "released"] as const).map((event) =>
    rule({ event, from: ["CANCELING"], to: ["CANCELED"] }),
  ),
  rule({ event: "cancelRequested", from: WAITING_PHASES, to: ["CANCELED"] }),
  rule({
    event: "cancelRequested",
    from: [...ACQUIRING_OR_HOLDING, "PREEMPTING", "CANCELING"],
    to: ["CANCELING"],
  }),
  rule({
    event: "cancelFailed",
    from: ["CANCELING"],
    to: ["CANCELING"],
    decide: () => ({ phase: "CANCELING", reason: "DELETE_FAILED" }),
  }),
  rule({
    event: "timeout",
    from: ACTIVE_PHASES.filter((phase) => phase !== "CANCELING"),
    to: ["TIMED_OUT"],
  }),
  rule({
    event: "completeRequested",
    from: ACTIVE_PHASES.filter((phase) => phase !== "CANCELING"),
    to: ["COMPLETED"],
    guard: {
      holds: (job) => job.kind === "inference",
      refusal: "only an inference deployment can be completed; cancel other jobs",
    },
  }),
  rule({ event: "retryDue", from: ["RETRY_BACKOFF"], to: ["REQUESTING_SERVER"] }),
];

export interface Refusal {
  code: "ILLEGAL_TRANSITION" | "GUARD_FAILED";
  phase: Phase;
  event: JobEventType;
  message: string;
}

export type TransitionResult = { ok: true; job: Job } | { ok: false; refusal: Refusal };

const ruleFor = (phase: Phase, event: JobEventType): TransitionRule | undefined =>
  TRANSITIONS.find((candidate) => candidate.event === event && candidate.from.includes(phase));

/**
 * A multi-node job that loses its placement (one worker's instance gone, its leader's agent
 * silent) still holds the other ranks' instances: they are kept for its release to free.
 */
const formerPlacement = (job: Job): JobPatch =>
  isMultiNode(job) && job.phase !== "REQUESTING_SERVER" && placementOf(job).length > 0
    ? { formerInstanceIds: [...(job.formerInstanceIds ?? []), ...placementOf(job)] }
    : {};

/** Fields that describe one placement of the job; a fresh placement starts without them. */
const unplaced = (job: Job, outcome: Outcome): JobPatch =>
  outcome.phase === "REQUESTING_SERVER"
    ? {
        ...formerPlacement(job),
        instanceId: undefined,
        workerInstanceIds: undefined,
        ranksDone: undefined,
        workersReady: 0,
        agentRestarted: undefined,
      }
    : {};

const withoutCleared = (fields: JobPatch): Job =>
  Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as unknown as Job;

/** What a user asks for, in the words of the CLI and the API; other events are the control plane's own. */
const USER_ACTIONS: Partial<Record<JobEventType, string>> = {
  cancelRequested: "cancel",
  completeRequested: "complete",
  reviewStarted: "start reviewing",
  reviewApproved: "approve",
  reviewRejected: "reject",
  scaleRequested: "resize",
};

/** A refusal users read (`cannot cancel a job that is COMPLETED: ...`) or operators do. */
const refusalMessage = (job: Job, event: JobEvent, why: string): string => {
  const action = USER_ACTIONS[event.type];
  return action
    ? `cannot ${action} a job that is ${job.phase}: ${why}`
    : `${event.type} in ${job.phase}: ${why}`;
};

/** Applies one event to a job: the next job, or a typed refusal; never throws for a bad event. */
export const transition = (job: Job, event: JobEvent): TransitionResult => {
  const found = ruleFor(job.phase, event.type);
  if (!found) {
    const why = isTerminal(job.phase) ? "the job has ended" : "not a legal transition";
    return refuse(job, event, "ILLEGAL_TRANSITION", refusalMessage(job, event, why));
  }
  if (found.guard && !found.guard.holds(job, event)) {
    return refuse(job, event, "GUARD_FAILED", refusalMessage(job, event, found.guard.refusal));
  }
  const outcome = found.decide?.(job, event) ?? { phase: found.to[0] as Phase };
  const next: JobPatch = {
    ...job,
    ...unplaced(job, outcome),
    ...outcome.patch,
    phase: outcome.phase,
    reason: outcome.reason,
    ran: job.ran || outcome.phase === "TRAINING",
    version: job.version + 1,
  };
  return { ok: true, job: withoutCleared(next) };
};

const refuse = (
  job: Job,
  event: JobEvent,
  code: Refusal["code"],
  message: string,
): TransitionResult => ({
  ok: false,
  refusal: { code, phase: job.phase, event: event.type, message },
});
