import { describe, expect, it } from "vitest";
import {
  ADAPTIVE,
  coolingPlanFor,
  DEFAULT_COST_MODEL,
  MAX_STOPPED_S,
  poolJobArrived,
  poolWentIdle,
} from "../../../lambdas/domain/cooling-policy.ts";

describe("the control plane's cooling plan", () => {
  const plan = (jobCoolingPeriodS: number | undefined, spot: boolean, poolGaps: number[] = []) =>
    coolingPlanFor({ jobCoolingPeriodS, spot, poolGaps, model: DEFAULT_COST_MODEL });

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
