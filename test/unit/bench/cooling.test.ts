import { describe, expect, it } from "vitest";
import { adaptive } from "../../../bench/cooling/policies.ts";
import { simulate, simulateOracle } from "../../../bench/cooling/simulate.ts";
import { parseNeutral, parseOpenb } from "../../../bench/cooling/trace.ts";
import {
  ADAPTIVE,
  adaptivePlan,
  breakEvenPlan,
  type CoolingPlan,
  type CostModel,
  EMPTY_FLEET,
  oraclePlan,
  recordFleetGap,
  startKind,
} from "../../../lambdas/domain/cooling-policy.ts";

const MONTH_S = 730 * 3600;
/** Round numbers: running costs $1/s, a stopped instance $0.1/s, boots 0 / 10 / 100 s. */
const model: CostModel = {
  priceH: 3600,
  ebsGb: 1,
  ebsPriceGbMonth: 0.1 * MONTH_S,
  bootS: { warm: 0, stopped: 10, cold: 100 },
  waitPriceH: 0,
};

/**
 * One pool. Job 1 holds its instance for 10 s from its arrival, whatever its boot; job 2
 * comes 10 s later, job 3 50 s after job 2 ends, job 4 2,000 s after job 3 ends.
 */
const trace = parseNeutral(`submit_s,duration_s,pool
0,10,a
20,0,a
70,0,a
2070,0,a`);

const fixed = (plan: CoolingPlan) => ({ name: "fixed", plan: () => plan });

/** The fleet as pools of these gaps leave it: each pool's gaps recorded one after another. */
const fleetFrom = (...pools: number[][]) =>
  pools.reduce(
    (fleet, gaps, pool) =>
      gaps.reduce(
        (next, gap, i) => recordFleetGap(next, gap, gaps.slice(0, i), `owner-${pool}`),
        fleet,
      ),
    EMPTY_FLEET,
  );

describe("the cooling simulator", () => {
  it("gives the oracle the cheapest choice for each gap: warm, stopped or cold", () => {
    expect(oraclePlan(10, model)).toEqual({ warmS: 10, stoppedS: 0 });
    expect(oraclePlan(50, model)).toEqual({ warmS: 0, stoppedS: 50 });
    expect(oraclePlan(2000, model)).toEqual({ warmS: 0, stoppedS: 0 });
    const oracle = simulateOracle(trace, model);
    // cold 100 + warm idle 10 + stopped 50 * 0.1 and boot 10 + cold 100
    expect(oracle.overheadCost).toBeCloseTo(225);
    expect(oracle).toMatchObject({ starts: { cold: 2, warm: 1, stopped: 1 }, idle: 10, boot: 210 });
    expect(oracle.stopped).toBeCloseTo(5);
  });

  it("charges terminate-at-once a cold start for every job", () => {
    const result = simulate(trace, fixed({ warmS: 0, stoppedS: 0 }), model);
    expect(result).toMatchObject({
      overheadCost: 400,
      starts: { cold: 4, warm: 0, stopped: 0 },
      waitS: 400,
    });
  });

  it("keeps a fixed keep-alive's instance warm through short gaps only, paying its whole keep-alive for the others", () => {
    const result = simulate(trace, fixed({ warmS: 30, stoppedS: 0 }), model);
    // cold 100; warm after 10 s; gap 50 > 30: 30 idle + cold 100; gap 1910 s: 30 idle + cold 100
    expect(result).toMatchObject({
      overheadCost: 370,
      idle: 70,
      boot: 300,
      starts: { cold: 3, warm: 1 },
    });
  });

  it("stops an idle-stop policy's instance after its idle time and terminates it later", () => {
    const result = simulate(trace, fixed({ warmS: 30, stoppedS: 100 }), model);
    // cold 100; warm 10; 30 idle + 20 s stopped + boot 10; 30 idle + 100 s stopped + cold 100
    expect(result.overheadCost).toBeCloseTo(100 + 10 + 42 + 140);
    expect(result.starts).toEqual({ warm: 1, stopped: 1, cold: 2 });
  });

  it("charges an instance nobody comes back for until its plan or the trace ends", () => {
    const twoPools = parseNeutral("submit_s,duration_s,pool\n0,0,a\n0,5000,b");
    // a's instance is idle from 0 s; the trace ends when b's job does, at 5,000 s
    expect(simulate(twoPools, fixed({ warmS: 1000, stoppedS: 0 }), model).idle).toBe(1000);
    expect(simulate(twoPools, fixed({ warmS: 1e9, stoppedS: 0 }), model).idle).toBe(5000);
    expect(simulateOracle(twoPools, model).overheadCost).toBe(200);
  });

  it("reuses the most recently freed warm instance of the job's pool", () => {
    const jobs = parseNeutral("submit_s,duration_s,pool\n0,50,a\n0,10,a\n200,0,a");
    // both launch cold; the 50 s job's instance is freed last: the job at 200 s takes it
    // after 150 s, and the other one idles from 10 s to the end of the trace at 200 s
    const result = simulate(jobs, fixed({ warmS: 300, stoppedS: 0 }), model);
    expect(result.starts).toEqual({ cold: 2, warm: 1, stopped: 0 });
    expect(result.idle).toBe(150 + 190);
  });

  it("takes a warm instance before a stopped one freed later, as the control plane does", () => {
    const jobs = parseNeutral("submit_s,duration_s,pool\n0,10,a\n0,50,a\n100,0,a");
    // the instance freed at 10 s stays warm; the one freed at 50 s is stopped at once
    const plans = [
      { warmS: 1000, stoppedS: 0 },
      { warmS: 0, stoppedS: 1000 },
      { warmS: 0, stoppedS: 0 },
    ];
    const alternating = { name: "alternating", plan: () => plans.shift() as CoolingPlan };
    const result = simulate(jobs, alternating, model);
    expect(result.starts).toEqual({ cold: 2, warm: 1, stopped: 0 });
    // 90 s warm for the job at 100 s; the stopped one is kept 50 s, to the end of the trace
    expect(result.idle).toBe(90);
    expect(result.stopped).toBeCloseTo(5);
  });
});

describe("the policies' plans", () => {
  it("keeps the break-even instance warm until idling has cost one cold start", () => {
    expect(breakEvenPlan(model)).toEqual({ warmS: 100, stoppedS: 0 });
  });

  it("falls back to break-even in a pool it knows too little about, in a fleet that knows as little", () => {
    expect(adaptivePlan(Array(ADAPTIVE.minSamples - 1).fill(10), model)).toEqual(
      breakEvenPlan(model),
    );
  });

  it("starts a new pool from what the fleet's pools have shown", () => {
    expect(
      adaptivePlan([], model, { fleet: fleetFrom(Array(100).fill(10)) }).warmS,
    ).toBeGreaterThanOrEqual(10);
    expect(adaptivePlan([], model, { fleet: fleetFrom(Array(100).fill(2000)) })).toEqual({
      warmS: 0,
      stoppedS: 0,
    });
  });

  it("reads the fleet's gaps at a young pool's own scale: a busy pool and a quiet one learn apart", () => {
    // Half the fleet's pools see a job every 5 s, half one a day: both alike in shape.
    const fleet = fleetFrom(
      ...Array.from({ length: 20 }, (_, i) => Array(20).fill(i % 2 ? 5 : 100_000)),
    );
    const busy = adaptivePlan([5, 5, 5], model, { fleet });
    const quiet = adaptivePlan([100_000, 100_000, 100_000], model, { fleet });
    expect(startKind(busy, 5)).not.toBe("cold");
    expect(quiet).toEqual({ warmS: 0, stoppedS: 0 });
  });

  it("moves from the fleet's gaps to the pool's own as they grow", () => {
    const fleet = fleetFrom(Array(ADAPTIVE.fleetWindow).fill(2));
    const young = adaptivePlan([50], model, { fleet });
    expect(young.warmS).toBeGreaterThanOrEqual(2);
    const grown = adaptivePlan(Array(ADAPTIVE.window).fill(50), model, { fleet });
    expect(grown.warmS).toBe(0);
    expect(grown.stoppedS).toBeGreaterThanOrEqual(50);
  });

  it("keeps warm through gaps it has seen to be short, stops for middling ones, terminates for long ones", () => {
    const plan = (gap: number) => adaptivePlan(Array(20).fill(gap), model);
    expect(plan(10).warmS).toBeGreaterThanOrEqual(10);
    expect(plan(50)).toMatchObject({ warmS: 0 });
    expect(plan(50).stoppedS).toBeGreaterThanOrEqual(50);
    expect(plan(2000)).toEqual({ warmS: 0, stoppedS: 0 });
  });

  it("keeps an instance stopped past the longest gap its pool has shown, until storing it has cost half a cold start's extra", () => {
    // A stopped start saves 90 $ over a cold one, storing costs 0.1 $/s: kept until 450 s.
    for (const seen of [9, 99]) {
      const plan = adaptivePlan(Array(seen).fill(50), model);
      expect(plan.warmS + plan.stoppedS).toBeCloseTo(450);
    }
    // A plan that already keeps it longer, or lets its longest gaps go cold, is left as it is.
    const longer = adaptivePlan(Array(9).fill(600), model);
    expect(longer.warmS + longer.stoppedS).toBe(600);
    const lets = adaptivePlan([...Array(9).fill(10), 5000], model);
    expect(lets.warmS + lets.stoppedS).toBe(10);
  });

  it("learns online, and beats every fixed keep-alive on a pool whose gaps are short", () => {
    const rows = [
      "submit_s,duration_s,pool",
      ...Array.from({ length: 60 }, (_, i) => `${i * 20},5,a`),
    ];
    const jobs = parseNeutral(rows.join("\n"));
    const learned = simulate(jobs, adaptive(model), model);
    for (const warmS of [0, 300, 600]) {
      expect(learned.overheadCost).toBeLessThan(
        simulate(jobs, fixed({ warmS, stoppedS: 0 }), model).overheadCost,
      );
    }
  });
});

describe("traces", () => {
  it("reads the neutral format and names a bad field", () => {
    expect(parseNeutral("pool,submit_s,duration_s,extra\ng5,10,20,x")).toEqual([
      { submitS: 10, durationS: 20, pool: "g5" },
    ]);
    expect(() => parseNeutral("submit_s,duration_s,pool\nsoon,20,g5")).toThrow(
      'line 2: submit_s must be a number, got "soon"',
    );
    expect(() => parseNeutral("submit_s,duration_s,pool\n1,-5,g5")).toThrow(
      "line 2: duration_s must not be negative",
    );
  });

  it("turns Alibaba's scheduled GPU tasks into jobs and leaves out the rest", () => {
    const csv = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p0,1,1,1,1000,,LS,Running,0,500,10
p1,1,1,8,1000,V100,LS,Succeeded,5,90,20
p2,1,1,1,1000,,LS,Pending,7,9,
p3,1,1,0,0,,BE,Running,8,99,8`;
    expect(parseOpenb(csv)).toEqual([
      { submitS: 10, durationS: 490, pool: "1xgpu" },
      { submitS: 20, durationS: 70, pool: "8xV100" },
    ]);
  });
});
