import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ADAPTIVE,
  coolingPlanFor,
  coolingSchedule,
  DEFAULT_COST_MODEL,
  MAX_STOPPED_S,
  MAX_WARM_S,
  policyCoolingLimits,
  poolJobArrived,
  poolWentIdle,
} from "../../../lambdas/domain/cooling-policy.ts";

describe("the control plane's cooling plan", () => {
  const limits = policyCoolingLimits(DEFAULT_COST_MODEL);
  const plan = (
    jobCoolingPeriodS: number | undefined,
    spot: boolean,
    poolGaps: number[] = [],
    { defaultWarmS, maxWarmS } = limits,
  ) =>
    coolingPlanFor({
      jobCoolingPeriodS,
      spot,
      poolGaps,
      model: DEFAULT_COST_MODEL,
      limits: { defaultWarmS, maxWarmS },
    });

  it("keeps an instance warm as long as its job asked, then stopped", () => {
    expect(plan(120, false)).toEqual({ warmS: 120, stoppedS: MAX_STOPPED_S });
  });

  it("never keeps a spot instance stopped", () => {
    expect(plan(120, true)).toEqual({ warmS: 120, stoppedS: 0 });
    expect(plan(undefined, true, Array(ADAPTIVE.minSamples).fill(3600)).stoppedS).toBe(0);
  });

  it("follows the pool's gaps when the job names no cooling period", () => {
    expect(plan(undefined, false, Array(20).fill(30)).warmS).toBeGreaterThanOrEqual(30);
    expect(plan(undefined, false, Array(20).fill(6 * 3600))).toMatchObject({ warmS: 0 });
  });

  it("keeps a new pool's instance warm for the installation's default, the break-even one unless set", () => {
    const young = Array(ADAPTIVE.minSamples - 1).fill(30);
    expect(plan(undefined, false, young)).toEqual({ warmS: 178, stoppedS: 0 });
    expect(plan(undefined, false, young, { defaultWarmS: 600, maxWarmS: 3600 })).toEqual({
      warmS: 600,
      stoppedS: 0,
    });
  });

  it("never keeps an instance warm beyond the installation's cap, whatever its job or pool asks", () => {
    const cap = { defaultWarmS: 1800, maxWarmS: 900 };
    expect(plan(7200, false, [], cap)).toEqual({ warmS: 900, stoppedS: MAX_STOPPED_S });
    expect(plan(undefined, false, [], cap).warmS).toBe(900);
    expect(plan(undefined, false, Array(20).fill(30), { ...cap, maxWarmS: 10 }).warmS).toBe(10);
    expect(plan(600, true, [], { defaultWarmS: 0, maxWarmS: 0 })).toEqual({
      warmS: 0,
      stoppedS: 0,
    });
  });
});

describe("a plan handed to the cooling workflow", () => {
  // Gaps are measured in milliseconds; a Wait state takes whole seconds and fails otherwise.
  const gaps = fc.array(
    fc.oneof(
      fc.double({ min: 0, max: 30 * 24 * 3600, noNaN: true }),
      fc.constantFrom(0, 0.52, 1e-9, Number.MAX_VALUE),
    ),
    { maxLength: 64 },
  );
  const model = fc.record({
    priceH: fc.double({ min: 0.01, max: 100, noNaN: true }),
    ebsGb: fc.double({ min: 0, max: 2000, noNaN: true }),
    ebsPriceGbMonth: fc.double({ min: 0, max: 1, noNaN: true }),
    bootS: fc.record({
      warm: fc.double({ min: 0, max: 60, noNaN: true }),
      stopped: fc.double({ min: 0, max: 600, noNaN: true }),
      cold: fc.double({ min: 0, max: 1200, noNaN: true }),
    }),
    waitPriceH: fc.double({ min: 0, max: 1000, noNaN: true }),
  });

  it("is in whole seconds, within bounds, for any pool history, cost model, job and installation", () => {
    fc.assert(
      fc.property(
        gaps,
        model,
        fc.option(fc.integer({ min: 0, max: 7 * 24 * 3600 }), { nil: undefined }),
        fc.boolean(),
        fc.record({
          defaultWarmS: fc.integer({ min: 0, max: MAX_WARM_S }),
          maxWarmS: fc.integer({ min: 0, max: MAX_WARM_S }),
        }),
        (poolGaps, costModel, jobCoolingPeriodS, spot, limits) => {
          const plan = coolingPlanFor({
            jobCoolingPeriodS,
            spot,
            poolGaps,
            model: costModel,
            limits,
          });
          expect(Number.isInteger(plan.warmS)).toBe(true);
          expect(Number.isInteger(plan.stoppedS)).toBe(true);
          expect(plan.warmS).toBeGreaterThanOrEqual(0);
          expect(plan.warmS).toBeLessThanOrEqual(limits.maxWarmS);
          expect(plan.stoppedS).toBeGreaterThanOrEqual(0);
          expect(plan.stoppedS).toBeLessThanOrEqual(spot ? 0 : MAX_STOPPED_S);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("says when the instance will be stopped and when terminated", () => {
    expect(coolingSchedule({ warmS: 90, stoppedS: 3600 }, "2026-01-01T00:00:00.000Z")).toEqual({
      coolingUntil: "2026-01-01T00:01:30.000Z",
      stoppedUntil: "2026-01-01T01:01:30.000Z",
    });
  });
});

describe("a pool's history", () => {
  it("ends the most recent idle period with each arriving job, and ignores a job with none", () => {
    let history = poolJobArrived({ idleSince: [], gaps: [] }, 5);
    expect(history).toEqual({ idleSince: [], gaps: [] });
    history = poolWentIdle(poolWentIdle(history, 10), 20);
    history = poolJobArrived(history, 25);
    expect(history).toEqual({ idleSince: [10], gaps: [5] });
    expect(poolJobArrived(history, 110)).toEqual({ idleSince: [], gaps: [5, 100] });
  });

  it("remembers a bounded number of gaps", () => {
    let history = { idleSince: [] as number[], gaps: [] as number[] };
    for (let i = 0; i < ADAPTIVE.window + 10; i++)
      history = poolJobArrived(poolWentIdle(history, i), i + 1);
    expect(history.gaps).toHaveLength(ADAPTIVE.window);
  });
});
