import { describe, expect, it } from "vitest";
import { type Job, submitJob } from "../../../lambdas/domain/job.ts";
import { PHASES, type Phase } from "../../../lambdas/domain/phases.ts";
import { SAMPLE_EVENTS } from "../../../lambdas/domain/reachable.ts";
import {
  type JobEvent,
  type JobEventType,
  transition,
} from "../../../lambdas/domain/transitions.ts";

const ANYWHERE_ACTIVE = { timeout: ["TIMED_OUT"], completeRequested: ["COMPLETED"] };
const EVICTED = ["REQUESTING_SERVER", "PREEMPTED"];
const ATTEMPT_FAILED = ["RETRY_BACKOFF", "FAILED"];
const WHILE_HOLDING = {
  failed: ATTEMPT_FAILED,
  heartbeatLost: ["REQUESTING_SERVER", "LOST"],
  agentRestarted: ["CONNECTING_SERVER"],
  spotInterruptionNotice: ["PREEMPTING"],
  instanceGone: [...EVICTED, "LOST"],
  cancelRequested: ["CANCELING"],
  ...ANYWHERE_ACTIVE,
};
/** A job returning its results goes on: a spot notice does not preempt it. */
const { spotInterruptionNotice: _notice, ...WHILE_RETURNING } = WHILE_HOLDING;

/** The lifecycle, written out by hand: every legal (phase, event) and where it may land. */
const LEGAL: Record<Phase, Partial<Record<JobEventType, string[]>>> = {
  SUBMITTED: {
    admitted: ["REQUESTING_SERVER"],
    reviewRequested: ["PENDING_REVIEW"],
    capacityWait: ["QUEUED"],
    cancelRequested: ["CANCELED"],
    ...ANYWHERE_ACTIVE,
  },
  PENDING_REVIEW: {
    reviewStarted: ["PENDING_REVIEW"],
    reviewApproved: ["SUBMITTED"],
    reviewRejected: ["FAILED"],
    cancelRequested: ["CANCELED"],
    ...ANYWHERE_ACTIVE,
  },
  QUEUED: {
    capacityAvailable: ["REQUESTING_SERVER"],
    cancelRequested: ["CANCELED"],
    ...ANYWHERE_ACTIVE,
  },
  REQUESTING_SERVER: {
    capacityWait: ["QUEUED"],
    capacityWaitExpired: ["FAILED"],
    instanceClaimed: ["CONNECTING_SERVER"],
    instanceLaunched: ["CONNECTING_SERVER"],
    instanceStarted: ["CONNECTING_SERVER"],
    failed: ATTEMPT_FAILED,
    cancelRequested: ["CANCELING"],
    ...ANYWHERE_ACTIVE,
  },
  CONNECTING_SERVER: {
    instanceStartFailed: ["REQUESTING_SERVER"],
    agentRegistered: ["CONNECTING_SERVER", "GEARING_UP_ENV", "SENDING_MODEL_AND_DATA"],
    ...WHILE_HOLDING,
  },
  GEARING_UP_ENV: { envReady: ["SENDING_MODEL_AND_DATA"], ...WHILE_HOLDING },
  SENDING_MODEL_AND_DATA: { inputsReady: ["TRAINING"], ...WHILE_HOLDING },
  TRAINING: {
    runExited: ["RETURNING", ...ATTEMPT_FAILED],
    scaleRequested: ["TRAINING"],
    scaled: ["TRAINING"],
    ...WHILE_HOLDING,
  },
  RETURNING: { resultsReturned: ["COMPLETED"], ...WHILE_RETURNING },
  RETRY_BACKOFF: {
    retryDue: ["REQUESTING_SERVER"],
    cancelRequested: ["CANCELED"],
    ...ANYWHERE_ACTIVE,
  },
  PREEMPTING: {
    instanceGone: EVICTED,
    released: EVICTED,
    heartbeatLost: EVICTED,
    cancelRequested: ["CANCELING"],
    ...ANYWHERE_ACTIVE,
  },
  CANCELING: {
    instanceGone: ["CANCELED"],
    released: ["CANCELED"],
    cancelRequested: ["CANCELING"],
    cancelFailed: ["CANCELING"],
  },
  COMPLETED: {},
  FAILED: {},
  CANCELED: {},
  TIMED_OUT: {},
  PREEMPTED: {},
  LOST: {},
};

/** A job in `phase` that meets whatever guard `event` has, so only the table decides. */
const jobFor = (phase: Phase, event: JobEvent): Job => {
  const job: Job = { ...submitJob({ id: "j", kind: "inference", spot: true }), phase };
  if (phase === "PENDING_REVIEW") job.review = "INIT";
  if (event.type === "scaled") job.scalingTo = 2;
  if (event.type === "scaleRequested") job.workersTotal = event.workers + 1;
  return job;
};

describe("the job transition table", () => {
  it("names every phase", () => {
    expect(Object.keys(LEGAL).sort()).toEqual([...PHASES].sort());
  });

  for (const phase of PHASES) {
    for (const event of SAMPLE_EVENTS) {
      const targets = LEGAL[phase][event.type];
      const label = `${phase} + ${JSON.stringify(event)}`;
      if (targets) {
        it(`${label} -> ${targets.join(" | ")}`, () => {
          const result = transition(jobFor(phase, event), event);
          if (!result.ok) throw new Error(result.refusal.message);
          expect(targets).toContain(result.job.phase);
          expect(result.job.version).toBe(2);
        });
      } else {
        it(`${label} is refused`, () => {
          const job = jobFor(phase, event);
          const result = transition(job, event);
          expect(result).toMatchObject({
            ok: false,
            refusal: { code: "ILLEGAL_TRANSITION", phase, event: event.type },
          });
        });
      }
    }
  }
});

describe("guards", () => {
  const at = (phase: Phase, fields: Partial<Job> = {}): Job => ({
    ...submitJob({ id: "j", kind: "training" }),
    phase,
    ...fields,
  });
  const refusal = (job: Job, event: JobEvent) => {
    const result = transition(job, event);
    return result.ok ? undefined : result.refusal;
  };

  it("completes only inference deployments", () => {
    expect(refusal(at("TRAINING"), { type: "completeRequested" })).toMatchObject({
      code: "GUARD_FAILED",
      message: expect.stringContaining("only an inference deployment"),
    });
  });

  it("takes a spot interruption notice only for spot jobs", () => {
    expect(refusal(at("TRAINING"), { type: "spotInterruptionNotice" })?.code).toBe("GUARD_FAILED");
  });

  it("reviews a job once", () => {
    expect(
      refusal(at("SUBMITTED", { review: "APPROVED" }), { type: "reviewRequested" })?.code,
    ).toBe("GUARD_FAILED");
    expect(
      refusal(at("PENDING_REVIEW", { review: "RUNNING" }), { type: "reviewStarted" })?.code,
    ).toBe("GUARD_FAILED");
  });

  it("resizes only a serving inference job, one resize at a time, to a new worker count", () => {
    const serving = at("TRAINING", { kind: "inference" });
    expect(refusal(at("TRAINING"), { type: "scaleRequested", workers: 2 })?.code).toBe(
      "GUARD_FAILED",
    );
    expect(refusal(serving, { type: "scaleRequested", workers: 1 })?.code).toBe("GUARD_FAILED");
    expect(refusal(serving, { type: "scaleRequested", workers: 0 })?.code).toBe("GUARD_FAILED");
    expect(
      refusal({ ...serving, scalingTo: 3 }, { type: "scaleRequested", workers: 2 })?.code,
    ).toBe("GUARD_FAILED");
    expect(refusal(serving, { type: "scaled" })?.code).toBe("GUARD_FAILED");
  });

  it("says a terminal job has ended, in the words of what the user asked for", () => {
    expect(refusal(at("COMPLETED"), { type: "cancelRequested" })?.message).toBe(
      "cannot cancel a job that is COMPLETED: the job has ended",
    );
    expect(refusal(at("TRAINING"), { type: "completeRequested" })?.message).toBe(
      "cannot complete a job that is TRAINING: only an inference deployment can be completed; cancel other jobs",
    );
    expect(refusal(at("FAILED"), { type: "reviewApproved" })?.message).toBe(
      "cannot approve a job that is FAILED: the job has ended",
    );
    expect(refusal(at("TRAINING"), { type: "resultsReturned" })?.message).toBe(
      "resultsReturned in TRAINING: not a legal transition",
    );
  });
});
