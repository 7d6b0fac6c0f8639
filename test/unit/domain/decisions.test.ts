import { describe, expect, it } from "vitest";
import { type Job, type JobSubmission, submitJob } from "../../../lambdas/domain/job.ts";
import { retryActionFor } from "../../../lambdas/domain/retry-policy.ts";
import {
  type JobEvent,
  MAX_AGENT_LOSSES,
  transition,
} from "../../../lambdas/domain/transitions.ts";

/** Applies events in order, failing the test at the first refusal. */
const run = (job: Job, ...events: JobEvent[]): Job =>
  events.reduce((current, event) => {
    const result = transition(current, event);
    if (!result.ok) throw new Error(result.refusal.message);
    return result.job;
  }, job);

const training = (fields: Partial<JobSubmission> = {}) =>
  submitJob({ id: "j", kind: "training", ...fields });
const toTraining: JobEvent[] = [
  { type: "admitted" },
  { type: "instanceLaunched", instanceId: "i-1" },
  { type: "agentRegistered", envCached: false },
  { type: "envReady" },
  { type: "inputsReady" },
];

describe("a training run", () => {
  it("passes every phase to COMPLETED on exit 0", () => {
    const phases: string[] = [];
    toTraining
      .concat({ type: "runExited", code: 0 }, { type: "resultsReturned" })
      .reduce((job, event) => {
        const next = run(job, event);
        phases.push(next.phase);
        return next;
      }, training());
    expect(phases).toEqual([
      "REQUESTING_SERVER",
      "CONNECTING_SERVER",
      "GEARING_UP_ENV",
      "SENDING_MODEL_AND_DATA",
      "TRAINING",
      "RETURNING",
      "COMPLETED",
    ]);
  });

  it("skips gear-up when the instance has the env cached", () => {
    const job = run(
      training(),
      { type: "admitted" },
      { type: "instanceClaimed", instanceId: "i-1" },
    );
    expect(run(job, { type: "agentRegistered", envCached: true }).phase).toBe(
      "SENDING_MODEL_AND_DATA",
    );
  });

  it("records the instance it holds and forgets it on requeue", () => {
    const job = run(training({ spot: true }), ...toTraining);
    expect(job.instanceId).toBe("i-1");
    const requeued = run(job, { type: "instanceGone" });
    expect(requeued).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "SPOT_INTERRUPTED",
      workersReady: 0,
    });
    expect(requeued.instanceId).toBeUndefined();
  });
});

describe("multi-node registration", () => {
  it("waits in CONNECTING_SERVER until every worker has registered", () => {
    let job = run(
      training({ workers: 3 }),
      { type: "admitted" },
      { type: "instanceLaunched", instanceId: "i-1" },
    );
    job = run(job, { type: "agentRegistered", envCached: false });
    expect(job).toMatchObject({ phase: "CONNECTING_SERVER", workersReady: 1 });
    job = run(job, { type: "agentRegistered", envCached: false });
    expect(job).toMatchObject({ phase: "CONNECTING_SERVER", workersReady: 2 });
    job = run(job, { type: "agentRegistered", envCached: false });
    expect(job).toMatchObject({ phase: "GEARING_UP_ENV", workersReady: 3 });
  });
});

describe("the retry policy", () => {
  const exit = (code: number): JobEvent => ({ type: "runExited", code });

  it("retries a non-zero exit until backoffLimit is spent, then fails", () => {
    let job = run(
      training({ retryPolicy: { backoffLimit: 2, rules: [] } }),
      ...toTraining,
      exit(1),
    );
    expect(job).toMatchObject({
      phase: "RETRY_BACKOFF",
      attempt: 2,
      reason: "EXIT_CODE",
      exitCode: 1,
    });
    job = run(job, { type: "retryDue" }, ...toTraining.slice(1), exit(1));
    expect(job).toMatchObject({ phase: "RETRY_BACKOFF", attempt: 3 });
    job = run(job, { type: "retryDue" }, ...toTraining.slice(1), exit(1));
    expect(job).toMatchObject({ phase: "FAILED", attempt: 3, reason: "EXIT_CODE", exitCode: 1 });
  });

  it("fails at once with backoffLimit 0", () => {
    const job = run(
      training({ retryPolicy: { backoffLimit: 0, rules: [] } }),
      ...toTraining,
      exit(2),
    );
    expect(job).toMatchObject({ phase: "FAILED", attempt: 1 });
  });

  it("fails at once on a command that cannot run (exit 127), by default", () => {
    const job = run(training(), ...toTraining, exit(127));
    expect(job).toMatchObject({ phase: "FAILED", reason: "CONTAINER_CANNOT_RUN", attempt: 1 });
  });

  it("retries without counting when a rule says ignore", () => {
    const retryPolicy = {
      backoffLimit: 0,
      rules: [
        { action: "ignore" as const, onExitCodes: { operator: "In" as const, values: [137] } },
      ],
    };
    const job = run(training({ retryPolicy }), ...toTraining, exit(137));
    expect(job).toMatchObject({ phase: "RETRY_BACKOFF", attempt: 1, requeues: 1 });
  });

  it("takes the first matching rule", () => {
    const policy = {
      backoffLimit: 3,
      rules: [
        { action: "fail" as const, onExitCodes: { operator: "NotIn" as const, values: [0, 1] } },
        { action: "ignore" as const, onReasons: ["EXIT_CODE" as const] },
      ],
    };
    expect(retryActionFor(policy, { reason: "EXIT_CODE", exitCode: 3 })).toBe("fail");
    expect(retryActionFor(policy, { reason: "EXIT_CODE", exitCode: 1 })).toBe("ignore");
    expect(retryActionFor(policy, { reason: "MOUNT_FAILED" })).toBe("retry");
  });

  it("does not match an exit-code rule for a failure with no exit code", () => {
    const policy = {
      backoffLimit: 3,
      rules: [
        { action: "fail" as const, onExitCodes: { operator: "NotIn" as const, values: [0] } },
      ],
    };
    expect(retryActionFor(policy, { reason: "MOUNT_FAILED" })).toBe("retry");
  });

  it("restarts an interactive job without limit (CrashLoopBackOff)", () => {
    let job = run(
      submitJob({ id: "j", kind: "interactive", retryPolicy: { backoffLimit: 0, rules: [] } }),
      ...toTraining,
    );
    for (let restart = 1; restart <= 3; restart++) {
      job = run(job, exit(1));
      expect(job).toMatchObject({ phase: "RETRY_BACKOFF", attempt: 1, requeues: restart });
      job = run(job, { type: "retryDue" }, ...toTraining.slice(1));
    }
  });

  it("treats any exit of a serving process as a failed deployment", () => {
    const job = run(
      submitJob({ id: "j", kind: "inference", retryPolicy: { backoffLimit: 0, rules: [] } }),
      ...toTraining,
      exit(0),
    );
    expect(job).toMatchObject({ phase: "FAILED", reason: "SERVICE_FAILED", exitCode: 0 });
  });
});

describe("preemption", () => {
  it("checkpoints, then requeues a spot training job without counting an attempt", () => {
    let job = run(
      training({ spot: true, retryPolicy: { backoffLimit: 0, rules: [] } }),
      ...toTraining,
    );
    job = run(job, { type: "spotInterruptionNotice" });
    expect(job).toMatchObject({ phase: "PREEMPTING", reason: "SPOT_INTERRUPTED" });
    job = run(job, { type: "released" });
    expect(job).toMatchObject({ phase: "REQUESTING_SERVER", attempt: 1, requeues: 1 });
  });

  it("lets a spot job that returns its results finish, or requeues it if its instance goes first", () => {
    const returning = run(training({ spot: true }), ...toTraining, { type: "runExited", code: 0 });
    expect(transition(returning, { type: "spotInterruptionNotice" }).ok).toBe(false);
    expect(run(returning, { type: "resultsReturned" }).phase).toBe("COMPLETED");
    expect(run(returning, { type: "instanceGone" })).toMatchObject({
      phase: "REQUESTING_SERVER",
      reason: "SPOT_INTERRUPTED",
      requeues: 1,
    });
  });

  it("ends a preemptible interactive job as PREEMPTED", () => {
    const job = run(submitJob({ id: "j", kind: "interactive", spot: true }), ...toTraining);
    expect(run(job, { type: "spotInterruptionNotice" }, { type: "instanceGone" }).phase).toBe(
      "PREEMPTED",
    );
  });
});

describe("a lost agent", () => {
  const backOnTraining: JobEvent[] = toTraining.slice(1);

  it.each([
    ["its instance vanished", { type: "instanceGone" }, "INSTANCE_VANISHED"],
    ["it went silent", { type: "heartbeatLost" }, "HEARTBEAT_LOST"],
  ] as const)(
    "requeues an on-demand job whose %s, uncounted, on a new instance",
    (_why, event, reason) => {
      const job = run(training(), ...toTraining, event);
      expect(job).toMatchObject({
        phase: "REQUESTING_SERVER",
        reason,
        attempt: 1,
        requeues: 1,
        agentLosses: 1,
        workersReady: 0,
      });
      expect(job.instanceId).toBeUndefined();
    },
  );

  it(`ends LOST once it lost more than ${MAX_AGENT_LOSSES} placements, keeping its last instance`, () => {
    let job = run(training(), ...toTraining);
    for (let lost = 1; lost <= MAX_AGENT_LOSSES; lost++) {
      job = run(job, { type: "instanceGone" });
      expect(job).toMatchObject({ phase: "REQUESTING_SERVER", requeues: lost });
      job = run(job, ...backOnTraining);
    }
    job = run(job, { type: "heartbeatLost" });
    expect(job).toMatchObject({
      phase: "LOST",
      reason: "HEARTBEAT_LOST",
      attempt: 1,
      requeues: MAX_AGENT_LOSSES,
      instanceId: "i-1",
    });
  });

  it("does not spend its counted retries: a failed run afterwards still retries", () => {
    const job = run(training(), ...toTraining, { type: "heartbeatLost" }, ...backOnTraining, {
      type: "runExited",
      code: 1,
    });
    expect(job).toMatchObject({ phase: "RETRY_BACKOFF", attempt: 2, requeues: 1 });
  });

  it("restarts a silent agent once on the same instance, which connects again", () => {
    const restarted = run(training(), ...toTraining, { type: "agentRestarted" });
    expect(restarted).toMatchObject({
      phase: "CONNECTING_SERVER",
      reason: "HEARTBEAT_LOST",
      instanceId: "i-1",
      agentRestarted: true,
      workersReady: 0,
      attempt: 1,
      requeues: 0,
    });
    const again = run(
      restarted,
      { type: "agentRegistered", envCached: true },
      { type: "inputsReady" },
    );
    const refused = transition(again, { type: "agentRestarted" });
    expect(refused).toMatchObject({ ok: false, refusal: { code: "GUARD_FAILED" } });
  });

  it("may restart the agent again on the next instance", () => {
    const job = run(
      training(),
      ...toTraining,
      { type: "agentRestarted" },
      { type: "heartbeatLost" },
      ...backOnTraining,
    );
    expect(job.agentRestarted).toBeUndefined();
    expect(run(job, { type: "agentRestarted" }).phase).toBe("CONNECTING_SERVER");
  });

  it("caps a spot job whose instance goes with no notice seen (shut down from inside), as preempted", () => {
    let job = run(training({ spot: true }), ...toTraining);
    for (let lost = 1; lost <= MAX_AGENT_LOSSES; lost++) {
      job = run(job, { type: "instanceGone", spot: true });
      expect(job).toMatchObject({ phase: "REQUESTING_SERVER", reason: "SPOT_INTERRUPTED" });
      job = run(job, ...backOnTraining);
    }
    expect(run(job, { type: "instanceGone", spot: true })).toMatchObject({ phase: "LOST" });
  });

  it("takes the instance's market, not the spec's: a spot job fallen back to on-demand loses it as on-demand", () => {
    const job = run(training({ spot: true }), ...toTraining, { type: "instanceGone", spot: false });
    expect(job).toMatchObject({ phase: "REQUESTING_SERVER", reason: "INSTANCE_VANISHED" });
    expect(job.agentLosses).toBe(1);
  });

  it("never caps preemptions that came with their notice", () => {
    let job = run(training({ spot: true }), ...toTraining);
    for (let preempted = 1; preempted <= MAX_AGENT_LOSSES + 2; preempted++)
      job = run(
        job,
        { type: "spotInterruptionNotice" },
        { type: "instanceGone", spot: true },
        ...backOnTraining,
      );
    expect(job).toMatchObject({ phase: "TRAINING", requeues: MAX_AGENT_LOSSES + 2 });
    expect(job.agentLosses).toBeUndefined();
  });
});

describe("cancel", () => {
  it("ends a waiting job at once and a placed one through CANCELING", () => {
    expect(run(training(), { type: "cancelRequested" }).phase).toBe("CANCELED");
    const canceling = run(training(), ...toTraining, { type: "cancelRequested" });
    expect(canceling.phase).toBe("CANCELING");
    expect(run(canceling, { type: "released" })).toMatchObject({ phase: "CANCELED", ran: true });
  });

  it("reports a failed delete, and clears it when the cancel is retried", () => {
    const canceling = run(training(), ...toTraining, { type: "cancelRequested" });
    const failed = run(canceling, { type: "cancelFailed" });
    expect(failed).toMatchObject({ phase: "CANCELING", reason: "DELETE_FAILED" });
    expect(run(failed, { type: "cancelRequested" }).reason).toBeUndefined();
  });
});

describe("inference resize", () => {
  it("marks a resize in flight and applies the new worker count when done", () => {
    let job = run(submitJob({ id: "j", kind: "inference" }), ...toTraining);
    job = run(job, { type: "scaleRequested", workers: 3 });
    expect(job).toMatchObject({ phase: "TRAINING", scalingTo: 3, workersTotal: 1 });
    job = run(job, { type: "scaled" });
    expect(job).toMatchObject({ phase: "TRAINING", workersTotal: 3, workersReady: 3 });
    expect(job.scalingTo).toBeUndefined();
  });
});
