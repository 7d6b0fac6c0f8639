import {
  type CoolingPlan,
  type CostModel,
  gapOverhead,
  oraclePlan,
  total,
} from "../../lambdas/domain/cooling-policy.ts";

/**
 * What no online policy can beat: a pool whose jobs arrive as a Poisson process, one idle
 * instance at a time. The time to its next job is exponential however long the instance
 * has waited, so nothing seen while it waits changes the best choice: the cheapest plan in
 * expectation keeps it warm until the next job, or stopped until the next job, or gives
 * it up at once, and a policy that learns the rate can only do as well once it has. The
 * oracle picks the cheapest way through each gap knowing its length.
 */
export const MEMORYLESS_PLANS: readonly CoolingPlan[] = [
  { warmS: Number.POSITIVE_INFINITY, stoppedS: 0 },
  { warmS: 0, stoppedS: Number.POSITIVE_INFINITY },
  { warmS: 0, stoppedS: 0 },
];

/** Gaps of mean `meanGapS` at evenly spaced quantiles of the exponential: its expectation by sampling. */
export const exponentialGaps = (meanGapS: number, count = 2000): number[] =>
  Array.from({ length: count }, (_, i) => -meanGapS * Math.log(1 - (i + 0.5) / count));

/** The mean overhead over `gaps` of the plan `planOf` gives each. */
export const meanCost = (
  gaps: readonly number[],
  planOf: (gapS: number) => CoolingPlan,
  model: CostModel,
) => gaps.reduce((sum, gap) => sum + total(gapOverhead(planOf(gap), gap, model)), 0) / gaps.length;

/** The best plan's expected overhead over the oracle's, on exponential gaps of mean `meanGapS`. */
export const memorylessRatio = (meanGapS: number, model: CostModel): number => {
  const gaps = exponentialGaps(meanGapS);
  const best = Math.min(...MEMORYLESS_PLANS.map((plan) => meanCost(gaps, () => plan, model)));
  return best / meanCost(gaps, (gap) => oraclePlan(gap, model), model);
};

/** The mean gap, from 10 s to two days, where the best online plan is furthest from the oracle. */
export const worstMemorylessRatio = (model: CostModel): { meanGapS: number; ratio: number } => {
  const steps = 120;
  const [lowS, highS] = [10, 2 * 86_400];
  return Array.from({ length: steps + 1 }, (_, i) => lowS * (highS / lowS) ** (i / steps))
    .map((meanGapS) => ({ meanGapS, ratio: memorylessRatio(meanGapS, model) }))
    .reduce((worst, entry) => (entry.ratio > worst.ratio ? entry : worst));
};
