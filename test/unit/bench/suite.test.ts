import { describe, expect, it } from "vitest";
import { RATE_CHANGE, SUITE, type SuiteTrace } from "../../../bench/cooling/suite.ts";
import { scoreTrace, type TraceScore, worstRatios } from "../../../bench/cooling/suite-score.ts";
import { parseOpenbByRequest, type TraceJob } from "../../../bench/cooling/trace.ts";
import { DEFAULT_COST_MODEL } from "../../../lambdas/domain/cooling-policy.ts";

const MINUTE_S = 60;
const HOUR_S = 3600;

const trace = (name: string): SuiteTrace => {
  const found = SUITE.find((entry) => entry.name === name);
  if (!found) throw new Error(`no trace ${name} in the suite`);
  return found;
};
const GENERATED = SUITE.filter((entry) => !entry.name.startsWith("alibaba"));

const poolsOf = (jobs: readonly TraceJob[]) => {
  const pools = new Map<string, TraceJob[]>();
  for (const job of jobs) {
    const pool = pools.get(job.pool) ?? [];
    pool.push(job);
    pools.set(job.pool, pool);
  }
  return [...pools.values()];
};
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
/** Time from each job of a pool to the next. */
const arrivalGaps = (jobs: readonly TraceJob[]) =>
  jobs.slice(1).map((job, i) => job.submitS - (jobs[i] as TraceJob).submitS);

describe("the cooling trace suite", () => {
  it("names every generated trace's shape and gives the same trace for a seed, another for another seed", () => {
    expect(GENERATED.map((entry) => entry.name)).toEqual([
      "poisson",
      "bursty",
      "diurnal",
      "heavy-tailed",
      "many-small-pools",
      "rate-change",
      "inference",
    ]);
    for (const entry of GENERATED) {
      expect(entry.models.length).toBeGreaterThan(40);
      expect(entry.jobs(7)).toEqual(entry.jobs(7));
      expect(entry.jobs(8)).not.toEqual(entry.jobs(7));
    }
  });

  it("gives jobs in arrival order, in whole non-negative seconds", () => {
    for (const entry of GENERATED) {
      const jobs = entry.jobs(1);
      const misfits = jobs.filter(
        (job, i) =>
          !Number.isInteger(job.submitS) ||
          !Number.isInteger(job.durationS) ||
          job.submitS < (jobs[i - 1]?.submitS ?? 0) ||
          job.durationS < 0,
      );
      expect(misfits, entry.name).toEqual([]);
    }
  });

  it("has the job and pool counts each shape is meant to have", () => {
    const counts = Object.fromEntries(
      GENERATED.map((entry) => {
        const jobs = entry.jobs(1);
        return [entry.name, { jobs: jobs.length, pools: poolsOf(jobs).length }];
      }),
    );
    expect(counts.poisson).toMatchObject({ pools: 4 });
    expect(counts.bursty).toMatchObject({ pools: 3 });
    expect(counts.diurnal).toMatchObject({ pools: 3 });
    expect(counts["heavy-tailed"]).toEqual({ jobs: 2400, pools: 4 });
    expect(counts["rate-change"]).toMatchObject({ pools: 1 });
    expect(counts["many-small-pools"]?.pools).toBe(120);
    expect(counts["many-small-pools"]?.jobs).toBeGreaterThan(3_100);
    expect(counts["many-small-pools"]?.jobs).toBeLessThan(3_300);
    expect(counts.inference?.jobs).toBeGreaterThan(23_000);
    expect(counts.inference?.jobs).toBeLessThan(29_000);
    expect(counts.inference?.pools).toBe(4);
    for (const { jobs } of Object.values(counts)) expect(jobs).toBeGreaterThan(1_000);
  });

  it("makes most of the many small pools a few dozen jobs, at rates of their own", () => {
    const pools = poolsOf(trace("many-small-pools").jobs(1));
    const sizes = pools.map((jobs) => jobs.length);
    const fewDozen = sizes.filter((size) => size >= 5 && size <= 60).length;
    expect(fewDozen / pools.length).toBeGreaterThan(0.7);
    const meanGaps = pools
      .filter((jobs) => jobs.length >= 5)
      .map((jobs) => mean(arrivalGaps(jobs)));
    expect(Math.max(...meanGaps) / Math.min(...meanGaps)).toBeGreaterThan(20);
  });

  it("changes the rate-change pool's rate half-way", () => {
    const jobs = trace("rate-change").jobs(1);
    const before = jobs.filter((job) => job.submitS < RATE_CHANGE.atS).length;
    const after = jobs.filter((job) => job.submitS >= RATE_CHANGE.atS).length;
    expect(jobs.at(-1)?.submitS).toBeLessThan(RATE_CHANGE.endS);
    expect(after).toBeGreaterThan(0);
    expect(before / after).toBeGreaterThan(6);
  });

  it("keeps the diurnal trace busy by day and quiet by night", () => {
    const hourOf = (job: TraceJob) => (job.submitS % 86_400) / HOUR_S;
    const jobs = trace("diurnal").jobs(1);
    const day = jobs.filter((job) => hourOf(job) >= 10 && hourOf(job) < 18).length;
    const night = jobs.filter((job) => hourOf(job) >= 22 || hourOf(job) < 6).length;
    expect(day / night).toBeGreaterThan(4);
  });

  it("clusters the bursty trace's arrivals and gives the heavy-tailed one a few gaps that take much of the time", () => {
    // A Poisson process's gaps spread as much as their mean (a coefficient of variation of 1),
    // and its longest 1% of gaps add up to about 6% of the time.
    const spread = (gaps: number[]) =>
      Math.sqrt(mean(gaps.map((gap) => (gap - mean(gaps)) ** 2))) / mean(gaps);
    const longestShare = (gaps: number[]) => {
      const sorted = [...gaps].sort((a, b) => b - a);
      const longest = sorted.slice(0, Math.ceil(gaps.length / 100));
      return (mean(longest) * longest.length) / (mean(sorted) * sorted.length);
    };
    for (const pool of poolsOf(trace("poisson").jobs(1))) {
      expect(spread(arrivalGaps(pool))).toBeGreaterThan(0.8);
      expect(spread(arrivalGaps(pool))).toBeLessThan(1.25);
      expect(longestShare(arrivalGaps(pool))).toBeLessThan(0.1);
    }
    for (const pool of poolsOf(trace("bursty").jobs(1)))
      expect(spread(arrivalGaps(pool))).toBeGreaterThan(3);
    for (const pool of poolsOf(trace("heavy-tailed").jobs(1)))
      expect(longestShare(arrivalGaps(pool))).toBeGreaterThan(0.15);
  });

  it("lasts minutes to hours for training jobs, seconds to minutes for inference requests", () => {
    const training = trace("poisson")
      .jobs(1)
      .map((job) => job.durationS);
    expect(Math.min(...training)).toBeGreaterThanOrEqual(MINUTE_S);
    expect(Math.max(...training)).toBeLessThanOrEqual(12 * HOUR_S);
    expect(median(training)).toBeGreaterThan(10 * MINUTE_S);
    expect(median(training)).toBeLessThan(HOUR_S);
    const inference = trace("inference")
      .jobs(1)
      .map((job) => job.durationS);
    expect(Math.min(...inference)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...inference)).toBeLessThanOrEqual(15 * MINUTE_S);
    expect(median(inference)).toBeLessThan(MINUTE_S);
  });

  it("pools the Alibaba trace by request too: the same jobs, split finer", () => {
    const [byGpu, byRequest] = ["alibaba-openb", "alibaba-openb-by-request"].map((name) =>
      trace(name).jobs(1),
    ) as [TraceJob[], TraceJob[]];
    expect(byRequest.map(({ pool: _, ...job }) => job)).toEqual(
      byGpu.map(({ pool: _, ...job }) => job),
    );
    expect(poolsOf(byRequest).length).toBeGreaterThan(10 * poolsOf(byGpu).length);
  });
});

describe("the openb trace pooled by request", () => {
  it("keeps tasks of one GPU model apart when they ask for different resources", () => {
    const csv = `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
a,8000,30517,1,470,,BE,Succeeded,0,100,10
b,8000,30517,1,470,,BE,Succeeded,0,300,200
c,4000,30517,1,470,,BE,Succeeded,0,500,400
d,8000,30517,1,470,,LS,Succeeded,0,700,600
e,8000,30517,0,0,,BE,Succeeded,0,900,800`;
    expect(parseOpenbByRequest(csv)).toEqual([
      { submitS: 10, durationS: 90, pool: "1xgpu:8000m-30517Mi-470-BE" },
      { submitS: 200, durationS: 100, pool: "1xgpu:8000m-30517Mi-470-BE" },
      { submitS: 400, durationS: 100, pool: "1xgpu:4000m-30517Mi-470-BE" },
      { submitS: 600, durationS: 100, pool: "1xgpu:8000m-30517Mi-470-LS" },
    ]);
  });
});

describe("the suite's score", () => {
  const models = [0, 20].map((waitPriceH) => ({ ...DEFAULT_COST_MODEL, waitPriceH }));

  it("says adaptive is beaten when a fixed policy costs less", () => {
    // One job per pool: no gap to learn from, and any instance kept warm is wasted.
    const lonely = ["a", "b", "c"].map((pool, i) => ({ submitS: i * 100, durationS: 60, pool }));
    const score = scoreTrace("lonely", lonely, models);
    expect(score).toMatchObject({ trace: "lonely", jobs: 3, pools: 3 });
    for (const price of score.prices) {
      expect(price).toMatchObject({
        bestOther: "terminate at once",
        bestOtherRatio: 1,
        beaten: true,
      });
      expect(price.adaptiveRatio).toBeGreaterThan(1);
    }
    expect(score.prices.map((price) => price.waitPriceH)).toEqual([0, 20]);
  });

  it("says adaptive is not beaten when no fixed policy costs less", () => {
    // A job every 30 s: adaptive learns to keep an instance warm for just that long.
    const steady = Array.from({ length: 200 }, (_, i) => ({
      submitS: i * 30,
      durationS: 0,
      pool: "a",
    }));
    for (const price of scoreTrace("steady", steady, models).prices) {
      expect(price.beaten).toBe(false);
      expect(price.bestOtherRatio).toBeGreaterThanOrEqual(price.adaptiveRatio);
    }
  });

  it("finds the worst adaptive ratio at each wait price, and on which trace", () => {
    const score = (trace: string, ratios: [number, number]): TraceScore => ({
      trace,
      jobs: 1,
      pools: 1,
      prices: ratios.map((adaptiveRatio, i) => ({
        waitPriceH: i * 20,
        adaptiveRatio,
        bestOther: "terminate at once",
        bestOtherRatio: 2,
        beaten: false,
        hindsightRatio: adaptiveRatio / (trace === "x" ? 1.1 : 1.05),
      })),
    });
    const scores = [score("x", [1.2, 1.9]), score("y", [1.5, 1.1])];
    expect(worstRatios(scores)).toEqual([
      { waitPriceH: 0, ratio: 1.5, trace: "y" },
      { waitPriceH: 20, ratio: 1.9, trace: "x" },
    ]);
    const overHindsight = worstRatios(
      scores,
      (price) => price.adaptiveRatio / price.hindsightRatio,
    );
    expect(overHindsight.map(({ trace }) => trace)).toEqual(["x", "x"]);
    expect(overHindsight.map(({ ratio }) => ratio)).toEqual([
      expect.closeTo(1.1),
      expect.closeTo(1.1),
    ]);
  });
});
