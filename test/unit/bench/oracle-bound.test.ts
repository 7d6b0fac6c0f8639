/**
 * The oracle is a true lower bound: on any trace, no online policy, however its plans are
 * chosen, costs less. It holds because a job's timing does not depend on how it started,
 * so every run sees the same instances freed at the same times.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { policies } from "../../../bench/cooling/policies.ts";
import { simulate, simulateOracle } from "../../../bench/cooling/simulate.ts";
import { SUITE_MODELS } from "../../../bench/cooling/suite.ts";
import { parseNeutral, type TraceJob } from "../../../bench/cooling/trace.ts";
import type { CoolingPlan, CostModel } from "../../../lambdas/domain/cooling-policy.ts";

const job = fc.record({
  submitS: fc.integer({ min: 0, max: 3_000 }),
  durationS: fc.integer({ min: 0, max: 400 }),
  pool: fc.constantFrom("a", "b"),
});
const plan = fc.record({
  warmS: fc.integer({ min: 0, max: 600 }),
  stoppedS: fc.integer({ min: 0, max: 5_000 }),
});

/** An adversary: each plan it is asked for is the next of its list, round and round. */
const cycling = (plans: CoolingPlan[]) => {
  let next = 0;
  return { name: "cycling", plan: () => plans[next++ % plans.length] as CoolingPlan };
};

const margin = (oracle: number) => 1e-9 * Math.max(1, oracle);

describe("the oracle", () => {
  it("costs no more than a plan that beat it when boot times moved the jobs", () => {
    // With each instance freed after its job's boot, the cold starts here freed instances
    // later than the oracle's warm ones, and this plan came out $0.158 against $0.168.
    const trace = parseNeutral("submit_s,duration_s,pool\n83,8,p\n341,147,p\n488,170,p\n502,101,p");
    const [atNoWaitPrice] = SUITE_MODELS as [CostModel];
    const policy = simulate(trace, cycling([{ warmS: 115, stoppedS: 2810 }]), atNoWaitPrice);
    expect(simulateOracle(trace, atNoWaitPrice).overheadCost).toBeLessThanOrEqual(
      policy.overheadCost,
    );
  });

  it("is never beaten by any policy, fixed, adaptive or choosing its plans at random", () => {
    fc.assert(
      fc.property(
        fc.array(job, { minLength: 1, maxLength: 12 }),
        fc.array(plan, { minLength: 1, maxLength: 8 }),
        fc.constantFrom(...SUITE_MODELS),
        (jobs: TraceJob[], plans, model) => {
          const oracle = simulateOracle(jobs, model).overheadCost;
          for (const policy of [...policies(model), cycling(plans)])
            expect(simulate(jobs, policy, model).overheadCost).toBeGreaterThanOrEqual(
              oracle - margin(oracle),
            );
        },
      ),
      { numRuns: 2000 },
    );
  });
});
