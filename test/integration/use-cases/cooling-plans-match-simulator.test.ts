import { describe, expect, it } from "vitest";
import { adaptive } from "../../../bench/cooling/policies.ts";
import { simulate } from "../../../bench/cooling/simulate.ts";
import type { TraceJob } from "../../../bench/cooling/trace.ts";
import { DynamoPoolStats } from "../../../lambdas/adapters/aws/dynamodb/pool-stats.ts";
import {
  type CoolingPlan,
  coolingPlanFor,
  DEFAULT_COST_MODEL,
  MAX_STOPPED_S,
  MAX_WARM_S,
  policyCoolingLimits,
} from "../../../lambdas/domain/cooling-policy.ts";
import { arrivalChange, idleChange } from "../../../lambdas/domain/pool-history.ts";
import { freshTable } from "../table.ts";

const model = DEFAULT_COST_MODEL;
/** Trace time 0 on the control plane's clock, in whole epoch seconds, so gaps are the same numbers. */
const EPOCH_S = Date.parse("2026-01-01T00:00:00.000Z") / 1000;

interface PlanMade {
  pool: string;
  atS: number;
  plan: CoolingPlan;
}

/** 40 jobs over 3 pools, one busier than the others, in whole seconds (a seeded generator). */
const trace = (): TraceJob[] => {
  let seed = 14;
  const next = (below: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % below;
  };
  const jobs: TraceJob[] = [];
  let at = 0;
  for (let i = 0; i < 40; i++) {
    at += 1 + next(600);
    const pool = ["busy", "busy", "quiet", "rare"][next(4)] as string;
    jobs.push({ submitS: at, durationS: 1 + next(400), pool });
  }
  return jobs;
};

/** As coolingPlanFor gives a plan to the workflow: whole seconds within the caps. */
const wholeSeconds = (plan: CoolingPlan): CoolingPlan => ({
  warmS: Math.min(MAX_WARM_S, Math.max(0, Math.ceil(plan.warmS))),
  stoppedS: Math.min(MAX_STOPPED_S, Math.max(0, Math.ceil(plan.stoppedS))),
});

/**
 * The trace through the control plane's own decisions, in the order the simulator replays
 * it: before each job arrives, the instances freed by then go idle (release: the pool's
 * history records it and the plan is made as finish-job.ts makes it), then the job is placed
 * (acquire: the pool's history records its arrival). Every handler runs twice, as a retried
 * step does after its first run wrote: each change must count once.
 */
const controlPlanePlans = async (jobs: readonly TraceJob[]): Promise<PlanMade[]> => {
  const stats = new DynamoPoolStats(await freshTable());
  // Each pool its own owner's, as the simulator counts them in the fleet's share.
  const poolOf = (name: string) => ({
    instanceType: "g5.xlarge",
    envHash: name,
    region: "us-east-1",
    owner: `owner-of-${name}`,
  });
  const plans: PlanMade[] = [];
  const finishing: Array<{ at: number; pool: string; instanceId: string }> = [];
  const release = async (until: number) => {
    while (finishing.length && (finishing[0] as { at: number }).at <= until) {
      const { at, pool, instanceId } = finishing.shift() as (typeof finishing)[number];
      const change = idleChange({ id: instanceId, coolingEpoch: 0 }, EPOCH_S + at);
      await stats.update(poolOf(pool), change);
      const { history, fleet } = await stats.update(poolOf(pool), change);
      const learned = { poolGaps: history.gaps, fleet };
      const plan = coolingPlanFor({
        jobCoolingPeriodS: undefined,
        spot: false,
        ...learned,
        model,
        limits: policyCoolingLimits(model),
      });
      plans.push({ pool, atS: at, plan });
    }
  };
  const ordered = [...jobs].sort((a, b) => a.submitS - b.submitS);
  for (const [i, job] of ordered.entries()) {
    await release(job.submitS);
    const arrival = arrivalChange(
      { id: `job-${i}`, attempt: 1, requeues: 0 },
      EPOCH_S + job.submitS,
    );
    await stats.update(poolOf(job.pool), arrival);
    await stats.update(poolOf(job.pool), arrival);
    const at = job.submitS + job.durationS;
    const after = finishing.findIndex((entry) => entry.at > at);
    const entry = { at, pool: job.pool, instanceId: `i-${i}` };
    finishing.splice(after === -1 ? finishing.length : after, 0, entry);
  }
  await release(Number.POSITIVE_INFINITY);
  return plans;
};

describe("the control plane and the cooling simulator", () => {
  it("make the same plans for the same trace", async () => {
    const jobs = trace();
    const simulated: PlanMade[] = [];
    simulate(jobs, adaptive(model), model, {
      onPlan: (pool, atS, plan) => simulated.push({ pool, atS, plan: wholeSeconds(plan) }),
    });
    const made = await controlPlanePlans(jobs);
    expect(made).toEqual(simulated);
    expect(made).toHaveLength(jobs.length);
    // The pools' histories were long enough for the policy to learn from, not only to fall back.
    const learned = made.filter(
      ({ plan }) => plan.warmS !== Math.ceil(policyCoolingLimits(model).defaultWarmS),
    );
    expect(learned.length).toBeGreaterThan(0);
  });
});
