/**
 * How the adaptive policy fares on each trace of the suite: against the oracle, against the
 * best fixed policy, and against the best plan per pool in hindsight.
 */
import type { CostModel } from "../../lambdas/domain/cooling-policy.ts";
import { adaptive, policies } from "./policies.ts";
import { simulate, simulateHindsight, simulateOracle } from "./simulate.ts";
import type { TraceJob } from "./trace.ts";

export interface PriceScore {
  waitPriceH: number;
  /** Adaptive's overhead over the oracle's. */
  adaptiveRatio: number;
  /** The cheapest of the other policies, and its overhead over the oracle's. */
  bestOther: string;
  bestOtherRatio: number;
  /** That policy costs less than the adaptive one. */
  beaten: boolean;
  /** Each pool kept under the one plan that would have cost it least, over the oracle's overhead. */
  hindsightRatio: number;
}

export interface TraceScore {
  trace: string;
  jobs: number;
  pools: number;
  /** One per cost model, in the order given. */
  prices: PriceScore[];
}

const scoreAt = (jobs: readonly TraceJob[], model: CostModel): PriceScore => {
  const oracle = simulateOracle(jobs, model).overheadCost;
  const adaptiveName = adaptive(model).name;
  const ratios = policies(model).map((policy) => ({
    policy: policy.name,
    ratio: simulate(jobs, policy, model).overheadCost / oracle,
  }));
  const own = ratios.find((entry) => entry.policy === adaptiveName);
  if (!own) throw new Error(`the policies compared lack "${adaptiveName}"`);
  const best = ratios
    .filter((entry) => entry !== own)
    .reduce((best, entry) => (entry.ratio < best.ratio ? entry : best));
  return {
    waitPriceH: model.waitPriceH,
    adaptiveRatio: own.ratio,
    bestOther: best.policy,
    bestOtherRatio: best.ratio,
    beaten: best.ratio < own.ratio,
    hindsightRatio: simulateHindsight(jobs, model).overheadCost / oracle,
  };
};

export const scoreTrace = (
  trace: string,
  jobs: readonly TraceJob[],
  models: readonly CostModel[],
): TraceScore => ({
  trace,
  jobs: jobs.length,
  pools: new Set(jobs.map((job) => job.pool)).size,
  prices: models.map((model) => scoreAt(jobs, model)),
});

/**
 * Per cost model, the trace where adaptive is furthest from the oracle, or from what
 * `ratioOf` measures it against.
 */
export const worstRatios = (
  scores: readonly TraceScore[],
  ratioOf: (price: PriceScore) => number = (price) => price.adaptiveRatio,
): Array<{ waitPriceH: number; ratio: number; trace: string }> =>
  (scores[0]?.prices ?? []).map((_, i) =>
    scores
      .map(({ prices, trace }) => {
        const price = prices[i] as PriceScore;
        return { waitPriceH: price.waitPriceH, ratio: ratioOf(price), trace };
      })
      .reduce((worst, entry) => (entry.ratio > worst.ratio ? entry : worst)),
  );
