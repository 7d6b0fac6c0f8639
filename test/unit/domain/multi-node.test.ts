import { describe, expect, it } from "vitest";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import { launchInstance, transitionInstance } from "../../../lambdas/domain/instance.ts";
import { type Job, placementOf, rankOf, submitJob } from "../../../lambdas/domain/job.ts";
import { readJobRecord } from "../../../lambdas/domain/job-record.ts";
import { type JobEvent, transition } from "../../../lambdas/domain/transitions.ts";
import { runInstance } from "../../fixtures/instances.ts";

const apply = (job: Job, ...events: JobEvent[]): Job =>
  events.reduce((current, event) => {
    const moved = transition(current, event);
    if (!moved.ok) throw new Error(moved.refusal.message);
    return moved.job;
  }, job);

const requesting = apply(submitJob({ id: "mpi", kind: "training", workers: 3 }), {
  type: "admitted",
});
const placed = apply(
  requesting,
  { type: "workerPlaced", instanceId: "i-1" },
  { type: "workerPlaced", instanceId: "i-2" },
  { type: "instanceLaunched", instanceId: "i-0" },
);

describe("a multi-node job's placement", () => {
  it("takes its workers while REQUESTING_SERVER and is placed by its leader, rank 0", () => {
    const partial = apply(requesting, { type: "workerPlaced", instanceId: "i-1" });
    expect(partial).toMatchObject({ phase: "REQUESTING_SERVER", workerInstanceIds: ["i-1"] });
    expect(placed).toMatchObject({ phase: "CONNECTING_SERVER", instanceId: "i-0" });
    expect(placementOf(placed)).toEqual(["i-0", "i-1", "i-2"]);
    expect([rankOf(placed, "i-0"), rankOf(placed, "i-2"), rankOf(placed, "i-9")]).toEqual([
      0,
      2,
      undefined,
    ]);
  });

  it("refuses a worker more than it needs, or one it holds already", () => {
    const two = apply(requesting, { type: "workerPlaced", instanceId: "i-1" });
    expect(transition(two, { type: "workerPlaced", instanceId: "i-1" }).ok).toBe(false);
    const full = apply(two, { type: "workerPlaced", instanceId: "i-2" });
    expect(transition(full, { type: "workerPlaced", instanceId: "i-3" }).ok).toBe(false);
    const single = apply(submitJob({ id: "one", kind: "training" }), { type: "admitted" });
    expect(transition(single, { type: "workerPlaced", instanceId: "i-1" }).ok).toBe(false);
  });

  it("gives its workers back as a set, and a requeue forgets every rank's instance", () => {
    const partial = apply(
      requesting,
      { type: "workerPlaced", instanceId: "i-1" },
      { type: "workerPlaced", instanceId: "i-2" },
      { type: "workerReleased", instanceId: "i-2" },
    );
    expect(partial.workerInstanceIds).toEqual(["i-1"]);
    expect(transition(partial, { type: "workerReleased", instanceId: "i-2" }).ok).toBe(false);
    expect(apply(partial, { type: "workerReleased", instanceId: "i-1" }).workerInstanceIds).toBe(
      undefined,
    );
    const requeued = apply(
      placed,
      { type: "agentRegistered", envCached: false, rank: 1 },
      { type: "instanceGone" },
    );
    expect(requeued).toMatchObject({ phase: "REQUESTING_SERVER", workersReady: 0 });
    expect(placementOf(requeued)).toEqual([]);
    expect(requeued.ranksDone).toBeUndefined();
  });

  it("is stored and read back with its workers", () => {
    expect(readJobRecord(placed)).toEqual(placed);
  });
});

describe("a multi-node job's steps", () => {
  it("shows Init:A/B while A of B agents registered, then PodInitializing", () => {
    const statuses = [placed];
    for (const rank of [2, 0, 1]) {
      statuses.push(
        apply(statuses.at(-1) as Job, { type: "agentRegistered", envCached: true, rank }),
      );
    }
    expect(statuses.map((job) => jobDialects(job).runai.status)).toEqual([
      "Init:0/3",
      "Init:1/3",
      "Init:2/3",
      "ContainerCreating",
    ]);
    // Every rank gears up: one cached env says nothing of the others'.
    expect(statuses.at(-1)?.phase).toBe("GEARING_UP_ENV");
    const sending = apply(
      statuses.at(-1) as Job,
      { type: "envReady", rank: 0 },
      { type: "envReady", rank: 1 },
      { type: "envReady", rank: 2 },
    );
    expect(sending.phase).toBe("SENDING_MODEL_AND_DATA");
    expect(jobDialects(sending).runai.status).toBe("PodInitializing");
  });

  it("moves on once every rank reported, each rank counted once", () => {
    const gearing = apply(
      placed,
      ...[0, 1, 2].map((rank) => ({ type: "agentRegistered", envCached: false, rank }) as const),
    );
    const one = apply(gearing, { type: "envReady", rank: 1 });
    expect(one).toMatchObject({ phase: "GEARING_UP_ENV", ranksDone: [1] });
    expect(transition(one, { type: "envReady", rank: 1 })).toMatchObject({
      ok: false,
      refusal: { code: "GUARD_FAILED" },
    });
    expect(transition(one, { type: "envReady", rank: 3 }).ok).toBe(false);
    const sending = apply(one, { type: "envReady", rank: 0 }, { type: "envReady", rank: 2 });
    expect(sending.phase).toBe("SENDING_MODEL_AND_DATA");
    expect(sending.ranksDone).toBeUndefined();
    const training = apply(
      sending,
      ...[2, 1, 0].map((rank) => ({ type: "inputsReady", rank }) as const),
    );
    expect(training.phase).toBe("TRAINING");
  });

  it("shows Init:CrashLoopBackOff when a worker's set-up fails with retries left, Init:Error without", () => {
    const gearing = apply(
      { ...placed, retryPolicy: { backoffLimit: 1, rules: [] } },
      ...[0, 1, 2].map((rank) => ({ type: "agentRegistered", envCached: false, rank }) as const),
    );
    const backoff = apply(gearing, { type: "failed", reason: "INIT_FAILED" });
    expect(jobDialects(backoff).runai.status).toBe("Init:CrashLoopBackOff");
    const failed = apply(
      backoff,
      { type: "retryDue" },
      { type: "workerPlaced", instanceId: "i-3" },
      { type: "workerPlaced", instanceId: "i-4" },
      { type: "instanceClaimed", instanceId: "i-5" },
      { type: "failed", reason: "INIT_FAILED" },
    );
    expect(jobDialects(failed).runai.status).toBe("Init:Error");
  });
});

describe("a warm instance given back from a set that could not be completed", () => {
  const pool = { instanceType: "g5.xlarge", envHash: "sha256:env", region: "r", owner: "ada" };
  const schedule = {
    coolingUntil: "2026-01-01T00:10:00.000Z",
    stoppedUntil: "2026-01-01T01:00:00.000Z",
  };
  const cooling = runInstance(
    launchInstance({ id: "i-1", pool, spot: false, jobId: "job-1" }),
    { type: "agentRegistered" },
    { type: "jobRunning" },
    { type: "released", ...schedule },
  );

  it("cools again as it was: its plan and its epoch, so its own timer still ends it", () => {
    const claimed = runInstance(cooling, { type: "claimed", jobId: "mpi" });
    const back = runInstance(claimed, { type: "unclaimed", ...schedule });
    expect(back).toMatchObject({
      status: "COOLING",
      coolingEpoch: cooling.coolingEpoch,
      ...schedule,
    });
    expect(
      runInstance(back, {
        type: "coolingExpired",
        coolingEpoch: cooling.coolingEpoch,
        action: "stop",
      }),
    ).toMatchObject({ status: "CLOSING", substatus: "STOPPING" });
  });

  it("is refused for an instance whose agent has not answered: that one is terminated", () => {
    const launching = launchInstance({ id: "i-2", pool, spot: false, jobId: "mpi" });
    expect(transitionInstance(launching, { type: "unclaimed", ...schedule }).ok).toBe(false);
  });
});
