import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";
import { accrueUsage, instanceCost, jobCost } from "../../../lambdas/domain/cost.ts";
import {
  type Instance,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import {
  EBS_GP3,
  EC2_ON_DEMAND,
  instanceRates,
  ROOT_VOLUME_GB,
} from "../../../lambdas/domain/prices.ts";
import { TIMELINE_PHASES, type Timeline } from "../../../lambdas/domain/timeline.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const G5_H = 1.006;
const VOLUME_H = (ROOT_VOLUME_GB * 0.08) / 730;

const onDemand = { instanceType: "g5.xlarge", spot: false };

/** A job that waited 30 s to be created, booted an instance for 180 s, set up 60 s, trained 600 s, returned 10 s. */
const ranTimeline: Timeline = {
  "Job Create": { startedAt: at(0), endedAt: at(30) },
  "Instance Connect": { startedAt: at(30), endedAt: at(210) },
  "Env Gear up": { startedAt: at(210), endedAt: at(270) },
  "Model Training": { startedAt: at(270), endedAt: at(870) },
  "Result Transfer": { startedAt: at(870), endedAt: at(880) },
};

describe("the list prices", () => {
  it("are the ones the cooling policy's default cost model uses", () => {
    expect(DEFAULT_COST_MODEL.priceH).toBe(EC2_ON_DEMAND["g5.xlarge"]?.usd);
    expect(DEFAULT_COST_MODEL.ebsPriceGbMonth).toBe(EBS_GP3.usd);
    expect(DEFAULT_COST_MODEL.ebsGb).toBe(ROOT_VOLUME_GB);
  });

  it("each name a source and the date it was read", () => {
    for (const price of [...Object.values(EC2_ON_DEMAND), EBS_GP3]) {
      expect(price.source).toMatch(/^https:\/\//);
      expect(price.read).toMatch(/^\d{4}-\d\d-\d\d$/);
    }
  });

  it("leave spot capacity and unknown types unpriced, saying why, and price local types at nothing", () => {
    expect(instanceRates("g5.xlarge", true)).toMatchObject({ priced: false, reason: /spot/ });
    expect(instanceRates("p9.huge", false)).toMatchObject({ priced: false, reason: /p9\.huge/ });
    expect(instanceRates("local", false)).toMatchObject({ priced: true, runningUsdH: 0 });
  });
});

describe("a job's cost", () => {
  it("is its boot and its time on the instance at the running price, not its wait to be created", () => {
    const cost = jobCost(ranTimeline, onDemand, at(1000), at(880));
    expect(cost.items).toEqual([
      { part: "boot", seconds: 180, usd: (180 * G5_H) / 3600 },
      { part: "running", seconds: 670, usd: (670 * G5_H) / 3600 },
    ]);
    expect(cost.usd).toBeCloseTo((850 * G5_H) / 3600, 10);
    expect(cost).toMatchObject({ instanceType: "g5.xlarge", asOf: at(880) });
    expect(cost.prices["g5.xlarge"]).toBe(EC2_ON_DEMAND["g5.xlarge"]);
  });

  it("runs up to now while the job still runs", () => {
    const running: Timeline = {
      "Instance Connect": { startedAt: at(0), endedAt: at(2) },
      "Model Training": { startedAt: at(2) },
    };
    const cost = jobCost(running, onDemand, at(3602));
    expect(cost.items.find((item) => item.part === "running")?.seconds).toBe(3600);
    expect(cost.asOf).toBe(at(3602));
  });

  it("is nothing for a job that never had an instance", () => {
    const waiting: Timeline = { "Job Create": { startedAt: at(0), endedAt: at(5) } };
    expect(jobCost(waiting, undefined, at(100))).toEqual({
      usd: 0,
      items: [],
      prices: {},
      asOf: at(100),
    });
  });

  it("on spot capacity has its times but no figure, and says why", () => {
    const cost = jobCost(ranTimeline, { instanceType: "g5.xlarge", spot: true }, at(900), at(880));
    expect(cost.usd).toBeUndefined();
    expect(cost.unpriced).toMatch(/spot/);
    expect(cost.items.map((item) => [item.part, item.seconds])).toEqual([
      ["boot", 180],
      ["running", 670],
    ]);
  });
});

const pool = { instanceType: "g5.xlarge", envHash: "env", region: "us-east-1", owner: "ada" };

/** Applies events to an instance at the given seconds, as the use cases do: usage accrued, then stored. */
const lived = (start: number, steps: Array<[number, Parameters<typeof transitionInstance>[1]]>) =>
  steps.reduce<Instance>(
    (instance, [seconds, event]) => {
      const next = transitionInstance(instance, event);
      if (!next.ok) throw new Error(next.refusal.message);
      return { ...accrueUsage(instance, next.instance, at(seconds)), updatedAt: at(seconds) };
    },
    {
      ...launchInstance({ id: "gi-1", pool, spot: false, jobId: "job-1" }),
      updatedAt: at(start),
    },
  );

describe("an instance's cost", () => {
  it("counts launching, executing and cooling at the running price, stopped at the volume's, closing not at all", () => {
    const instance = lived(0, [
      [100, { type: "agentRegistered" }],
      [200, { type: "jobRunning" }],
      [1000, { type: "released", coolingUntil: at(1100), stoppedUntil: at(5000) }],
      [1100, { type: "coolingExpired", coolingEpoch: 1, action: "stop" }],
      [1130, { type: "stopped" }],
    ]);
    expect(instance.usage).toEqual({ runningS: 1100, stoppedS: 0 });
    const cost = instanceCost(instance, at(1130 + 3600));
    expect(cost.items).toEqual([
      { part: "running", seconds: 1100, usd: (1100 * G5_H) / 3600 },
      { part: "stopped", seconds: 3600, usd: VOLUME_H },
    ]);
    expect(cost.usd).toBeCloseTo((1100 * G5_H) / 3600 + VOLUME_H, 10);
  });

  it("keeps what it accrued when it is reused", () => {
    const reused = lived(0, [
      [10, { type: "agentRegistered" }],
      [20, { type: "jobRunning" }],
      [30, { type: "released", coolingUntil: at(100), stoppedUntil: at(100) }],
      [40, { type: "claimed", jobId: "job-2" }],
    ]);
    expect(reused.usage).toEqual({ runningS: 40, stoppedS: 0 });
  });
});

describe("cost, whatever the times", () => {
  const seconds = fc.integer({ min: 0, max: 30 * 86_400 });
  const timeline = fc
    .array(fc.tuple(seconds, seconds, fc.boolean()), {
      minLength: TIMELINE_PHASES.length,
      maxLength: TIMELINE_PHASES.length,
    })
    .map(
      (periods) =>
        Object.fromEntries(
          periods.flatMap(([start, length, present], index) =>
            present
              ? [
                  [
                    TIMELINE_PHASES[index],
                    {
                      startedAt: at(start),
                      ...(length % 2 ? { endedAt: at(start + length) } : {}),
                    },
                  ],
                ]
              : [],
          ),
        ) as Timeline,
    );
  const instanceType = fc.constantFrom(...Object.keys(EC2_ON_DEMAND), "local");

  it("a job's is never negative and never falls as time goes on", () => {
    fc.assert(
      fc.property(timeline, instanceType, seconds, seconds, (periods, type, now, later) => {
        const first = jobCost(periods, { instanceType: type, spot: false }, at(now));
        const second = jobCost(periods, { instanceType: type, spot: false }, at(now + later));
        expect(first.usd).toBeGreaterThanOrEqual(0);
        for (const item of first.items) expect(item.seconds).toBeGreaterThanOrEqual(0);
        expect(second.usd).toBeGreaterThanOrEqual(first.usd ?? 0);
      }),
    );
  });

  it("an instance's is never negative and never falls as time goes on, through any change", () => {
    const events = fc.array(
      fc.tuple(
        seconds,
        fc.constantFrom<Parameters<typeof transitionInstance>[1]>(
          { type: "agentRegistered" },
          { type: "jobRunning" },
          { type: "released", coolingUntil: at(10), stoppedUntil: at(20) },
          { type: "claimed", jobId: "job-2" },
          { type: "started", jobId: "job-3" },
          { type: "closeRequested", action: "stop" },
          { type: "closeRequested", action: "terminate" },
          { type: "stopped" },
          { type: "terminated" },
        ),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(events, seconds, (steps, extra) => {
        let instance: Instance = {
          ...launchInstance({ id: "gi-1", pool, spot: false, jobId: "job-1" }),
          updatedAt: at(0),
        };
        let now = 0;
        let last = 0;
        for (const [gap, event] of steps) {
          now += gap;
          const cost = instanceCost(instance, at(now)).usd ?? 0;
          expect(cost).toBeGreaterThanOrEqual(last);
          last = cost;
          const next = transitionInstance(instance, event);
          if (!next.ok) continue;
          instance = { ...accrueUsage(instance, next.instance, at(now)), updatedAt: at(now) };
          // A change only moves time from "since the last change" into usage: nothing is lost.
          expect(instanceCost(instance, at(now)).usd).toBeCloseTo(cost, 9);
        }
        expect(instanceCost(instance, at(now + extra)).usd).toBeGreaterThanOrEqual(last);
      }),
    );
  });
});
