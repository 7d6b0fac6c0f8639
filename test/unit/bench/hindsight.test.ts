/**
 * The best plan per pool in hindsight: the one plan that would have cost a pool's gaps
 * least, what the suite measures adaptive's learning against.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { meanCost } from "../../../bench/cooling/memoryless-bound.ts";
import { policies } from "../../../bench/cooling/policies.ts";
import { simulate, simulateHindsight, simulateOracle } from "../../../bench/cooling/simulate.ts";
import { SUITE_MODELS } from "../../../bench/cooling/suite.ts";
import { type CostModel, hindsightPlan } from "../../../lambdas/domain/cooling-policy.ts";

const plan = fc.record({
  warmS: fc.integer({ min: 0, max: 20_000 }),
  stoppedS: fc.integer({ min: 0, max: 500_000 }),
});

const margin = (cost: number) => 1e-9 * Math.max(1, cost);

describe("the best plan in hindsight", () => {
  it("costs a pool's gaps no more than any other plan", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400_000 }), { minLength: 1, maxLength: 60 }),
        plan,
        fc.constantFrom(...SUITE_MODELS),
        (gaps, other, model) => {
          const best = meanCost(gaps, () => hindsightPlan(gaps, model), model);
          expect(best).toBeLessThanOrEqual(meanCost(gaps, () => other, model) + margin(best));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("keeps warm through short gaps, stopped through middling ones, and gives up on long ones", () => {
    const [model] = SUITE_MODELS as [CostModel];
    expect(hindsightPlan(Array(20).fill(30), model).warmS).toBe(30);
    expect(hindsightPlan(Array(20).fill(3600), model)).toEqual({ warmS: 0, stoppedS: 3600 });
    expect(hindsightPlan(Array(20).fill(300_000), model)).toEqual({ warmS: 0, stoppedS: 0 });
  });

  it("lies between the oracle and every fixed policy, on pools running several jobs at once", () => {
    const job = fc.record({
      submitS: fc.integer({ min: 0, max: 20_000 }),
      durationS: fc.integer({ min: 0, max: 3_000 }),
      pool: fc.constantFrom("a", "b"),
    });
    fc.assert(
      fc.property(
        fc.array(job, { minLength: 1, maxLength: 30 }),
        plan,
        fc.constantFrom(...SUITE_MODELS),
        (jobs, other, model) => {
          const hindsight = simulateHindsight(jobs, model).overheadCost;
          const oracle = simulateOracle(jobs, model).overheadCost;
          expect(hindsight).toBeGreaterThanOrEqual(oracle - margin(oracle));
          const fixed = [
            ...policies(model).filter((policy) => !policy.name.startsWith("adaptive")),
            { name: "other", plan: () => other },
          ];
          for (const policy of fixed)
            expect(hindsight).toBeLessThanOrEqual(
              simulate(jobs, policy, model).overheadCost + margin(hindsight),
            );
        },
      ),
      { numRuns: 500 },
    );
  });

  it("counts the instances still idle when the trace ends", () => {
    // Fifty jobs at once, then ten one after another: forty-nine instances are never reused.
    const burst = Array.from({ length: 50 }, () => ({ submitS: 0, durationS: 10, pool: "p" }));
    const trickle = Array.from({ length: 10 }, (_, i) => ({
      submitS: 40 + 30 * i,
      durationS: 0,
      pool: "p",
    }));
    const [model] = SUITE_MODELS as [CostModel];
    const jobs = [...burst, ...trickle];
    const briefly = simulate(
      jobs,
      { name: "stop 30 s", plan: () => ({ warmS: 0, stoppedS: 30 }) },
      model,
    );
    expect(simulateHindsight(jobs, model).overheadCost).toBeLessThanOrEqual(
      briefly.overheadCost + margin(briefly.overheadCost),
    );
  });
});
