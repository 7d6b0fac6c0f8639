import {
  adaptivePlan,
  breakEvenPlan,
  type CoolingPlan,
  type CostModel,
  type FleetGaps,
} from "../../lambdas/domain/cooling-policy.ts";

/**
 * A cooling policy as the simulator drives it: asked for a plan when an instance of a pool
 * goes idle, told each gap it can observe (no look-ahead).
 */
export interface Policy {
  name: string;
  /**
   * `gaps`: the idle periods of the pool seen so far (see `poolJobArrived`); `fleet`: the
   * latest of every pool's, as the control plane keeps them.
   */
  plan(pool: string, gaps: readonly number[], fleet: FleetGaps): CoolingPlan;
}

const MINUTE_S = 60;
const DAY_S = 86_400;

const fixed = (name: string, plan: CoolingPlan): Policy => ({ name, plan: () => plan });

/** The project's default: learns each pool's gaps online (the same code the control plane runs). */
export const adaptive = (model: CostModel): Policy => ({
  name: "adaptive (default)",
  plan: (_pool, gaps, fleet) => adaptivePlan(gaps, model, { fleet }),
});

/** Every policy compared, the oracle aside (it is not a policy: it knows the future). */
export const policies = (model: CostModel): Policy[] => [
  fixed("terminate at once", { warmS: 0, stoppedS: 0 }),
  ...[5, 10, 20, 60].map((minutes) =>
    fixed(`keep-alive ${minutes} min`, { warmS: minutes * MINUTE_S, stoppedS: 0 }),
  ),
  // SkyPilot's autostop: stop after the idle minutes, tear down later (here a day).
  fixed("SkyPilot idle-stop 10 min", { warmS: 10 * MINUTE_S, stoppedS: DAY_S }),
  // SageMaker warm pools: KeepAlivePeriodInSeconds, at most 3,600 s.
  fixed("SageMaker warm pool 3600 s", { warmS: 3600, stoppedS: 0 }),
  fixed("break-even (ski rental)", breakEvenPlan(model)),
  adaptive(model),
];
