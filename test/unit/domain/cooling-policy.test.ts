import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ADAPTIVE,
  coolingPlanFor,
  coolingSchedule,
  DEFAULT_COST_MODEL,
  EMPTY_FLEET,
  type FleetGaps,
  fleetSource,
  lentBy,
  MAX_STOPPED_S,
  MAX_WARM_S,
  policyCoolingLimits,
  poolJobArrived,
  poolLogScale,
  poolWentIdle,
  recordFleetGap,
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
        gaps,
        (poolGaps, costModel, jobCoolingPeriodS, spot, limits, fleetGaps) => {
          const fleet = fleetGaps.reduce(
            (fleet, gap, i) => recordFleetGap(fleet, gap, fleetGaps.slice(0, i), `owner-${i % 3}`),
            EMPTY_FLEET,
          );
          const plan = coolingPlanFor({
            jobCoolingPeriodS,
            spot,
            poolGaps,
            fleet,
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

  it("draws a young pool's scale towards the fleet's, and an old pool's to its own", () => {
    const fleet = [10, 1000];
    const meanLog = (gaps: number[]) =>
      gaps.reduce((sum, gap) => sum + Math.log1p(gap), 0) / gaps.length;
    expect(poolLogScale([], [])).toBeUndefined();
    expect(poolLogScale([], fleet)).toBeCloseTo(meanLog(fleet));
    expect(poolLogScale([50], [])).toBeCloseTo(Math.log1p(50));
    const young = poolLogScale([50], fleet) as number;
    expect(young).toBeGreaterThan(Math.min(Math.log1p(50), meanLog(fleet)));
    expect(young).toBeLessThan(Math.max(Math.log1p(50), meanLog(fleet)));
    expect(poolLogScale(Array(500).fill(50), fleet)).toBeCloseTo(Math.log1p(50), 1);
  });

  it("gives the fleet each gap with its shape against its pool's scale, within the fleet's window", () => {
    // A gap with nothing to compare it with, and a gap just like its pool's, are of shape 0.
    expect(recordFleetGap(EMPTY_FLEET, 40, [], "a")).toEqual({
      gaps: [40],
      shapes: [0],
      sources: ["a"],
    });
    expect(recordFleetGap({ gaps: [40], shapes: [0], sources: ["a"] }, 40, [40], "b")).toEqual({
      gaps: [40, 40],
      shapes: [0, 0],
      sources: ["a", "b"],
    });
    // Ten times its pool's usual gap: about log(10) above it.
    const longer = recordFleetGap(EMPTY_FLEET, 999, Array(500).fill(99), "a");
    expect(longer.shapes[0]).toBeCloseTo(Math.log(10), 2);
    let fleet = EMPTY_FLEET;
    for (let i = 0; i < ADAPTIVE.fleetWindow + 10; i++) fleet = recordFleetGap(fleet, i, [], "a");
    expect(fleet.gaps).toHaveLength(ADAPTIVE.fleetWindow);
    expect(fleet.shapes).toHaveLength(ADAPTIVE.fleetWindow);
    expect(fleet.sources).toHaveLength(ADAPTIVE.fleetWindow);
    expect(fleet.gaps[0]).toBe(10);
    expect(fleet.gaps.at(-1)).toBe(ADAPTIVE.fleetWindow + 9);
  });

  it("lends a pool no more of one owner's gaps than its share, the newest, however many jobs it runs", () => {
    const share = ADAPTIVE.fleetWindow * ADAPTIVE.fleetShare;
    let fleet = EMPTY_FLEET;
    // For each gap of a modest owner, four of a busy one.
    for (let i = 0; i < ADAPTIVE.fleetWindow; i++)
      fleet = recordFleetGap(fleet, i, [], i % 5 === 0 ? "modest" : "busy");
    const newest = (source: string) =>
      fleet.gaps.filter((_, i) => fleet.sources[i] === source).slice(-share);
    const lent = lentBy(fleet).gaps;
    expect(lent).toHaveLength(2 * share);
    expect(new Set(lent)).toEqual(new Set([...newest("busy"), ...newest("modest")]));
  });

  it("forgets every gap in the order recorded, whoever's, so an owner no longer busy ages out", () => {
    const share = ADAPTIVE.fleetWindow * ADAPTIVE.fleetShare;
    // A fleet item written before gaps had sources, then one owner's gaps: the old ones go.
    let fleet: FleetGaps = {
      gaps: Array(ADAPTIVE.fleetWindow).fill(1),
      shapes: Array(ADAPTIVE.fleetWindow).fill(0),
      sources: Array(ADAPTIVE.fleetWindow).fill(""),
    };
    for (let i = 0; i < ADAPTIVE.fleetWindow; i++) fleet = recordFleetGap(fleet, 500, [], "ada");
    expect(new Set(fleet.sources)).toEqual(new Set(["ada"]));
    expect(lentBy(fleet).gaps).toEqual(Array(share).fill(500));
  });

  it("names an owner in the fleet by its 32-bit FNV-1a hash", () => {
    // FNV-1a's published 32-bit values.
    expect(fleetSource("a")).toBe("e40c292c");
    expect(fleetSource("foobar")).toBe("bf9cf968");
    expect(fleetSource("")).toBe("811c9dc5");
  });

  it("remembers a bounded number of gaps", () => {
    let history = { idleSince: [] as number[], gaps: [] as number[] };
    for (let i = 0; i < ADAPTIVE.window + 10; i++)
      history = poolJobArrived(poolWentIdle(history, i), i + 1);
    expect(history.gaps).toHaveLength(ADAPTIVE.window);
  });
});
