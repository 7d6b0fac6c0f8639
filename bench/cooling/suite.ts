/**
 * The trace suite: workload shapes a cooling policy has to handle without having been
 * tuned on them, each generated from a seed (the same seed, the same trace), beside the
 * Alibaba trace shipped in `bench/traces/`.
 */
import { readFileSync } from "node:fs";
import { type CostModel, DEFAULT_COST_MODEL } from "../../lambdas/domain/cooling-policy.ts";
import { type Random, seededRandom } from "./random.ts";
import { parseOpenb, parseOpenbByRequest, type TraceJob } from "./trace.ts";

/** The suite's boots: a warm start is a handover to a running agent that polls, a few seconds. */
export const SUITE_BOOT_S: CostModel["bootS"] = { warm: 5, stopped: 60, cold: 180 };
/** What an hour of a user's wait is worth: nothing, or an engineer's time. */
export const SUITE_WAIT_PRICES_H = [0, 20];
/** The suite's cost models at the default prices, one per wait price. */
export const SUITE_MODELS: readonly CostModel[] = SUITE_WAIT_PRICES_H.map((waitPriceH) => ({
  ...DEFAULT_COST_MODEL,
  bootS: SUITE_BOOT_S,
  waitPriceH,
}));

export interface SuiteTrace {
  name: string;
  /** The shape it models, and why that shape matters for cooling. */
  models: string;
  /** Sorted by submit time, in whole seconds. */
  jobs(seed: number): TraceJob[];
}

const MINUTE_S = 60;
const HOUR_S = 3600;
const DAY_S = 86_400;

/** Training and fine-tuning runs: a few minutes to hours, a median of 20 minutes. */
const trainingS = (random: Random) =>
  Math.min(12 * HOUR_S, Math.max(MINUTE_S, random.lognormal(20 * MINUTE_S, 1.1)));

/** Inference requests and batch predictions: a second to minutes, a median of 20 seconds. */
const inferenceS = (random: Random) =>
  Math.min(15 * MINUTE_S, Math.max(1, random.lognormal(20, 1.2)));

/**
 * Arrival times in [from, until) of a Poisson process of mean gap `meanGapS` at its peak,
 * thinned by `intensity` (0 to 1 at time t): a rate that varies over time.
 */
const poissonArrivals = (
  random: Random,
  meanGapS: number,
  from: number,
  until: number,
  intensity: (atS: number) => number = () => 1,
): number[] => {
  const times: number[] = [];
  for (let at = from + random.exponential(meanGapS); at < until; at += random.exponential(meanGapS))
    if (random.uniform() < intensity(at)) times.push(at);
  return times;
};

/** A working week: busiest at 14:00, a tenth of that at night, a third of it at weekends. */
const workingDay = (atS: number): number => {
  const hour = (atS % DAY_S) / HOUR_S;
  const weekend = Math.floor(atS / DAY_S) % 7 >= 5;
  const daylight = Math.max(0, Math.sin((Math.PI * (hour - 8)) / 12));
  return (0.1 + 0.9 * daylight) * (weekend ? 0.3 : 1);
};

/** Whole seconds, sorted by arrival, as traces are recorded. */
const recorded = (jobs: TraceJob[]): TraceJob[] =>
  jobs
    .map((job) => ({
      ...job,
      submitS: Math.round(job.submitS),
      durationS: Math.round(job.durationS),
    }))
    .sort((a, b) => a.submitS - b.submitS);

/** One pool's jobs at the given arrival times, each lasting what `duration` draws. */
const poolJobs = (
  pool: string,
  times: readonly number[],
  random: Random,
  duration: (random: Random) => number,
): TraceJob[] => times.map((submitS) => ({ submitS, durationS: duration(random), pool }));

const poisson = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "poisson");
  return recorded(
    [10, 30, 120, 480].flatMap((minutes) =>
      poolJobs(
        `every-${minutes}min`,
        poissonArrivals(random, minutes * MINUTE_S, 0, 14 * DAY_S),
        random,
        trainingS,
      ),
    ),
  );
};

/** Sessions of work hours apart; in each, sweeps of 1 to 6 jobs submitted seconds apart. */
const bursty = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "bursty");
  const sweepDurationS = (r: Random) => Math.max(MINUTE_S, r.lognormal(8 * MINUTE_S, 1));
  return recorded(
    ["team-a", "team-b", "team-c"].flatMap((pool) => {
      const jobs: TraceJob[] = [];
      for (let on = random.exponential(10 * HOUR_S); on < 10 * DAY_S; ) {
        const off = on + random.lognormal(90 * MINUTE_S, 0.6);
        for (const sweep of poissonArrivals(random, 4 * MINUTE_S, on, off)) {
          const size = 1 + Math.floor(random.uniform() * 6);
          for (let i = 0; i < size; i++)
            jobs.push({
              submitS: sweep + i * random.between(1, 5),
              durationS: sweepDurationS(random),
              pool,
            });
        }
        on = off + random.exponential(10 * HOUR_S);
      }
      return jobs;
    }),
  );
};

const diurnal = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "diurnal");
  return recorded(
    [5, 15, 45].flatMap((minutes) =>
      poolJobs(
        `peak-every-${minutes}min`,
        poissonArrivals(random, minutes * MINUTE_S, 0, 14 * DAY_S, workingDay),
        random,
        trainingS,
      ),
    ),
  );
};

const heavyTailed = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "heavy-tailed");
  const gaps: Record<string, () => number> = {
    "pareto-1.1": () => random.pareto(30, 1.1),
    "pareto-1.5": () => random.pareto(2 * MINUTE_S, 1.5),
    "lognormal-10min": () => random.lognormal(10 * MINUTE_S, 2),
    "lognormal-1h": () => random.lognormal(HOUR_S, 1.5),
  };
  return recorded(
    Object.entries(gaps).flatMap(([pool, gap]) => {
      let at = 0;
      const times = Array.from({ length: 600 }, () => (at += gap()));
      return poolJobs(pool, times, random, trainingS);
    }),
  );
};

/**
 * 120 users, each with a pool of their own: 3,200 jobs shared out unevenly (a few dozen
 * each, a few hundred for the busiest), at a rate of their own, some time in a month.
 */
const manySmallPools = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "many-small-pools");
  const shares = Array.from({ length: 120 }, () => random.lognormal(1, 0.9));
  const sum = shares.reduce((a, b) => a + b, 0);
  return recorded(
    shares.flatMap((share, user) => {
      const count = Math.max(3, Math.round((3_200 * share) / sum));
      // Log-uniform between ten minutes and a day: casual users and busy ones.
      const meanGapS = 10 * MINUTE_S * (DAY_S / (10 * MINUTE_S)) ** random.uniform();
      let at = random.between(0, 30 * DAY_S);
      const times = Array.from({ length: count }, () => (at += random.exponential(meanGapS)));
      return poolJobs(`user-${String(user + 1).padStart(3, "0")}`, times, random, trainingS);
    }),
  );
};

/** Four days busy (a job every 5 minutes on average), then four quiet (one an hour). */
export const RATE_CHANGE = { atS: 4 * DAY_S, endS: 8 * DAY_S, before: 5 * MINUTE_S, after: HOUR_S };

const rateChange = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "rate-change");
  const { atS, endS, before, after } = RATE_CHANGE;
  const times = [
    ...poissonArrivals(random, before, 0, atS),
    ...poissonArrivals(random, after, atS, endS),
  ];
  return recorded(poolJobs("project", times, random, trainingS));
};

/** Four endpoints sharing about 26,000 requests over three days, following the day at least at a fifth. */
const inference = (seed: number): TraceJob[] => {
  const random = seededRandom(seed, "inference");
  const followingDay = (atS: number) => 0.2 + 0.8 * workingDay(atS);
  return recorded(
    [9, 22, 35, 100].flatMap((peakGapS) =>
      poolJobs(
        `endpoint-every-${peakGapS}s`,
        poissonArrivals(random, peakGapS, 0, 3 * DAY_S, followingDay),
        random,
        inferenceS,
      ),
    ),
  );
};

const ALIBABA_TRACE = new URL("../traces/openb_pod_list_default.csv", import.meta.url);

export const SUITE: readonly SuiteTrace[] = [
  {
    name: "poisson",
    models:
      "steady Poisson arrivals in four pools (a job every 10 min to 8 h): memoryless gaps, where the rate alone says how long to wait",
    jobs: poisson,
  },
  {
    name: "bursty",
    models:
      "on/off sessions of sweeps, jobs seconds apart within a burst and hours between bursts: a keep-alive right for one is ruinous for the other",
    jobs: bursty,
  },
  {
    name: "diurnal",
    models:
      "rate follows the working day for two weeks (busy afternoons, empty nights, quiet weekends): warm by day, stopped or gone by night",
    jobs: diurnal,
  },
  {
    name: "heavy-tailed",
    models:
      "Pareto and lognormal gaps, mostly short with rare very long ones: the mean gap misleads, the quantiles matter",
    jobs: heavyTailed,
  },
  {
    name: "many-small-pools",
    models:
      "about 3,200 jobs over 120 pools of a few dozen jobs at rates of their own: too little history per pool, as when every user has a pool",
    jobs: manySmallPools,
  },
  {
    name: "rate-change",
    models:
      "one pool busy for four days (a job every 5 min), then quiet (one an hour): old habits must be forgotten",
    jobs: rateChange,
  },
  {
    name: "inference",
    models:
      "about 26,000 requests of seconds to minutes in four pools over three days: gaps far shorter than a boot, where reuse and the wait price decide",
    jobs: inference,
  },
  {
    name: "alibaba-openb",
    models:
      "Alibaba's production GPU cluster trace, pooled by GPU count and model: a real mix of long services and short tasks",
    jobs: () => parseOpenb(readFileSync(ALIBABA_TRACE, "utf8")),
  },
  {
    name: "alibaba-openb-by-request",
    models:
      "the same trace, pooled also by each task's exact request (CPU, memory, GPU share, QoS), the nearest it has to an owner: many pools, some small",
    jobs: () => parseOpenbByRequest(readFileSync(ALIBABA_TRACE, "utf8")),
  },
];
