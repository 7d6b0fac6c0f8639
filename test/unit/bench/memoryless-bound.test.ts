import { describe, expect, it } from "vitest";
import {
  exponentialGaps,
  MEMORYLESS_PLANS,
  meanCost,
  memorylessRatio,
} from "../../../bench/cooling/memoryless-bound.ts";
import { adaptive } from "../../../bench/cooling/policies.ts";
import { seededRandom } from "../../../bench/cooling/random.ts";
import { simulate, simulateOracle } from "../../../bench/cooling/simulate.ts";
import { SUITE_MODELS } from "../../../bench/cooling/suite.ts";
import type { TraceJob } from "../../../bench/cooling/trace.ts";
import type { CoolingPlan, CostModel } from "../../../lambdas/domain/cooling-policy.ts";

const model = SUITE_MODELS[1] as CostModel;

/** One pool, one instance at a time: jobs of no duration arriving as a Poisson process. */
const poissonPool = (meanGapS: number, count: number): TraceJob[] => {
  const random = seededRandom(7, "memoryless");
  const jobs: TraceJob[] = [];
  for (
    let at = random.exponential(meanGapS);
    jobs.length < count;
    at += random.exponential(meanGapS)
  )
    jobs.push({ submitS: at, durationS: 0, pool: "p" });
  return jobs;
};

describe("the memoryless bound", () => {
  it("is reached by warm, stopped or gone until the next job: no plan that switches does better on exponential gaps", () => {
    for (const meanGapS of [60, 600, 1200, 7200]) {
      const gaps = exponentialGaps(meanGapS);
      const best = Math.min(...MEMORYLESS_PLANS.map((plan) => meanCost(gaps, () => plan, model)));
      for (const warmS of [0, 30, 120, 600, 1800, 3600, 14_400])
        for (const stoppedS of [0, 60, 600, 3600, 86_400])
          expect(meanCost(gaps, () => ({ warmS, stoppedS }), model)).toBeGreaterThanOrEqual(
            best * 0.999,
          );
    }
  });

  it("is what the simulator measures on a Poisson pool, and the adaptive policy does not beat it", () => {
    const meanGapS = 1200;
    const jobs = poissonPool(meanGapS, 1500);
    const oracle = simulateOracle(jobs, model).overheadCost;
    const ratio = (plan: CoolingPlan) =>
      simulate(jobs, { name: "fixed", plan: () => plan }, model).overheadCost / oracle;
    const bound = memorylessRatio(meanGapS, model);
    expect(bound).toBeGreaterThan(1.3);
    expect(Math.min(...MEMORYLESS_PLANS.map(ratio))).toBeCloseTo(bound, 1);
    const learned = simulate(jobs, adaptive(model), model).overheadCost / oracle;
    expect(learned).toBeGreaterThan(bound - 0.05);
  });
});
