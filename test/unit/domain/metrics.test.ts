import { describe, expect, it } from "vitest";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import { type Instance, launchInstance } from "../../../lambdas/domain/instance.ts";
import {
  instanceChangePoints,
  instanceUse,
  jobChangePoints,
  METRICS,
  reaperPoints,
  timelinePoints,
} from "../../../lambdas/domain/metrics.ts";
import { PHASES } from "../../../lambdas/domain/phases.ts";
import { isStuck, STUCK_AFTER_S } from "../../../lambdas/domain/reaping.ts";
import { TIMELINE_PHASES, type Timeline } from "../../../lambdas/domain/timeline.ts";
import { runInstance } from "../../fixtures/instances.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:env",
  region: "eu-west-1",
  owner: "ada",
};
const launched = launchInstance({ id: "gi-1", pool, spot: false, jobId: "job-1" });
const executing = runInstance(launched, { type: "agentRegistered" }, { type: "jobRunning" });
const cooling = runInstance(executing, {
  type: "released",
  coolingUntil: at(60),
  stoppedUntil: at(60),
});
const stopped = runInstance(
  cooling,
  { type: "coolingExpired", coolingEpoch: cooling.coolingEpoch, action: "stop" },
  { type: "stopped" },
);
const since = (instance: Instance, seconds: number): Instance => ({
  ...instance,
  updatedAt: at(seconds),
});

describe("the metrics catalogue", () => {
  it("names each dimension's values, all of them strings a dashboard can list", () => {
    expect(METRICS.TimelinePeriod.dimensions.Period).toEqual(TIMELINE_PHASES);
    expect(METRICS.TimelinePeriod.dimensions.Period).toHaveLength(11);
    expect(METRICS.JobPhaseEntered.dimensions.Phase).toEqual(PHASES);
    expect(METRICS.InstanceSeconds.dimensions.Use).toEqual(["running", "cooling", "stopped"]);
  });
});

describe("a job's points", () => {
  const timeline: Timeline = {
    "Job Create": { startedAt: at(0), endedAt: at(2) },
    "Instance Connect": { startedAt: at(2), endedAt: at(32) },
    "Model Training": { startedAt: at(40) },
  };

  it("count the phase it entered, and nothing for a transition within one phase", () => {
    expect(
      jobChangePoints({ from: "QUEUED", to: "REQUESTING_SERVER", timeline, at: at(50) }),
    ).toEqual([{ name: "JobPhaseEntered", value: 1, dimensions: { Phase: "REQUESTING_SERVER" } }]);
    expect(jobChangePoints({ from: undefined, to: "SUBMITTED", timeline, at: at(0) })).toEqual([
      { name: "JobPhaseEntered", value: 1, dimensions: { Phase: "SUBMITTED" } },
    ]);
    expect(jobChangePoints({ from: "TRAINING", to: "TRAINING", timeline, at: at(50) })).toEqual([]);
  });

  it("add the timeline's periods when the job ends, as its owner's timeline tiles them", () => {
    expect(jobChangePoints({ from: "RETURNING", to: "COMPLETED", timeline, at: at(100) })).toEqual([
      { name: "JobPhaseEntered", value: 1, dimensions: { Phase: "COMPLETED" } },
      { name: "TimelinePeriod", value: 2, dimensions: { Period: "Job Create" } },
      // The gap before training belongs to training.
      { name: "TimelinePeriod", value: 30, dimensions: { Period: "Instance Connect" } },
      { name: "TimelinePeriod", value: 68, dimensions: { Period: "Model Training" } },
    ]);
  });

  it("publish one period per period entered, and none for a job that entered none", () => {
    expect(timelinePoints({}, at(10))).toEqual([]);
    const full = Object.fromEntries(
      TIMELINE_PHASES.map((phase, index) => [
        phase,
        { startedAt: at(index), endedAt: at(index + 1) },
      ]),
    ) as Timeline;
    expect(timelinePoints(full, at(11)).map((point) => point.dimensions)).toEqual(
      TIMELINE_PHASES.map((Period) => ({ Period })),
    );
  });
});

describe("an instance's points", () => {
  it("count the time since its previous change as its status spends it", () => {
    expect(instanceUse(launched)).toBe("running");
    expect(instanceUse(executing)).toBe("running");
    expect(instanceUse(cooling)).toBe("cooling");
    expect(instanceUse(stopped)).toBe("stopped");
    expect(
      instanceUse(runInstance(executing, { type: "closeRequested", action: "terminate" })),
    ).toBeUndefined();
    expect(
      instanceUse(
        runInstance(
          executing,
          { type: "closeRequested", action: "terminate" },
          { type: "terminated" },
        ),
      ),
    ).toBeUndefined();
  });

  it("cost nothing idle while running for a job", () => {
    expect(instanceChangePoints(since(executing, 0), at(7200), DEFAULT_COST_MODEL)).toEqual([
      { name: "InstanceSeconds", value: 7200, dimensions: { Use: "running" } },
    ]);
  });

  it("cost the running price while cooling, and the volume's storage while stopped", () => {
    const [, coolingCost] = instanceChangePoints(since(cooling, 0), at(3600), DEFAULT_COST_MODEL);
    expect(coolingCost).toEqual({ name: "IdleCost", value: expect.any(Number), dimensions: {} });
    expect(coolingCost?.value).toBeCloseTo(DEFAULT_COST_MODEL.priceH, 9);

    const month = 730 * 3600;
    const points = instanceChangePoints(since(stopped, 0), at(month), DEFAULT_COST_MODEL);
    expect(points[0]).toEqual({
      name: "InstanceSeconds",
      value: month,
      dimensions: { Use: "stopped" },
    });
    const { ebsGb, ebsPriceGbMonth } = DEFAULT_COST_MODEL;
    expect(points[1]?.value).toBeCloseTo(ebsGb * ebsPriceGbMonth, 9);
  });

  it("are none when its previous change is unknown, or no time passed, or it was closing", () => {
    expect(instanceChangePoints(cooling, at(60), DEFAULT_COST_MODEL)).toEqual([]);
    expect(instanceChangePoints(since(cooling, 60), at(60), DEFAULT_COST_MODEL)).toEqual([]);
    const closing = runInstance(executing, { type: "closeRequested", action: "terminate" });
    expect(instanceChangePoints(since(closing, 0), at(60), DEFAULT_COST_MODEL)).toEqual([]);
  });
});

describe("the reaper's points", () => {
  it("are only what it found: a run that found nothing publishes nothing", () => {
    const none = { orphans: 0, stuckJobs: 0, failures: 0, deleteFailed: 0 };
    expect(reaperPoints(none)).toEqual([]);
    expect(reaperPoints({ ...none, orphans: 2, failures: 1 })).toEqual([
      { name: "OrphanInstances", value: 2, dimensions: {} },
      { name: "ReaperFailures", value: 1, dimensions: {} },
    ]);
    expect(reaperPoints({ ...none, stuckJobs: 3 })).toEqual([
      { name: "StuckJobs", value: 3, dimensions: {} },
    ]);
    expect(reaperPoints({ ...none, deleteFailed: 1 })).toEqual([
      { name: "DeleteFailedJobs", value: 1, dimensions: {} },
    ]);
  });
});

describe("a stuck job", () => {
  it("is one past its phase's bound; phases that wait on people, capacity or the job have none", () => {
    const bound = STUCK_AFTER_S.CONNECTING_SERVER as number;
    const job = { phase: "CONNECTING_SERVER" as const, updatedAt: T0, spotWaitS: 0 };
    expect(isStuck(job, at(bound))).toBe(false);
    expect(isStuck(job, at(bound + 1))).toBe(true);
    for (const phase of ["PENDING_REVIEW", "QUEUED", "TRAINING", "COMPLETED"] as const)
      expect(isStuck({ phase, updatedAt: T0, spotWaitS: 0 }, at(30 * 86_400))).toBe(false);
  });

  it("may first wait out its own spot request while requesting a server", () => {
    const bound = STUCK_AFTER_S.REQUESTING_SERVER as number;
    const job = { phase: "REQUESTING_SERVER" as const, updatedAt: T0, spotWaitS: 10_000 };
    expect(isStuck(job, at(bound + 9_999))).toBe(false);
    expect(isStuck(job, at(bound + 10_001))).toBe(true);
  });
});
