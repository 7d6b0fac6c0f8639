import { EBS_GP3, EC2_ON_DEMAND, type Price, ROOT_VOLUME_GB } from "./prices.ts";

/**
 * What becomes of an instance when its job is done, and what that costs. The control
 * plane and the cooling simulator (bench/cooling) run this very code.
 *
 * A plan keeps the instance running (warm) for `warmS`, then stopped (its disk kept, so
 * it starts faster and with its env set up) for `stoppedS`, then terminates it. The next
 * job of the pool finds it warm, stopped, or gone (a cold launch).
 */
export interface CoolingPlan {
  warmS: number;
  stoppedS: number;
}

export interface CostModel {
  /** Running price of one instance, $ per hour. */
  priceH: number;
  /** Root volume kept while stopped, GB, and its price, $ per GB-month. */
  ebsGb: number;
  ebsPriceGbMonth: number;
  /** Seconds from a job's start to its command running, billed as running time. */
  bootS: { warm: number; stopped: number; cold: number };
  /** What an hour of a user waiting for a job to start is worth, $. */
  waitPriceH: number;
}

/**
 * Defaults: a g5.xlarge on-demand with its gp3 root volume, at the list prices of prices.ts
 * (which name their sources); boot: 2 s to hand a job to a running agent, 60 s to start a
 * stopped instance and its agent, 180 s to launch a new one from a GPU AMI (EC2 boot, driver
 * and agent start-up, measured by users at 2-4 minutes). User wait is free by default.
 */
export const DEFAULT_COST_MODEL: CostModel = {
  priceH: (EC2_ON_DEMAND["g5.xlarge"] as Price).usd,
  ebsGb: ROOT_VOLUME_GB,
  ebsPriceGbMonth: EBS_GP3.usd,
  bootS: { warm: 2, stopped: 60, cold: 180 },
  waitPriceH: 0,
};

const HOUR_S = 3600;
const MONTH_S = 730 * HOUR_S;

export type StartKind = "warm" | "stopped" | "cold";

/** The controllable overhead of one idle period, in $, by where it went. */
export interface Overhead {
  idle: number;
  stopped: number;
  boot: number;
  wait: number;
}

const rates = (model: CostModel) => ({
  run: model.priceH / HOUR_S,
  stored: (model.ebsGb * model.ebsPriceGbMonth) / MONTH_S,
  wait: model.waitPriceH / HOUR_S,
});

/** How a job starts on an instance idle for `gapS` under `plan`. */
export const startKind = (plan: CoolingPlan, gapS: number): StartKind =>
  gapS <= plan.warmS ? "warm" : gapS <= plan.warmS + plan.stoppedS ? "stopped" : "cold";

/** Boot billed and waited for by a job that starts `kind`. */
export const startOverhead = (
  kind: StartKind,
  model: CostModel,
): Pick<Overhead, "boot" | "wait"> => {
  const { run, wait } = rates(model);
  const seconds = model.bootS[kind];
  return { boot: seconds * run, wait: seconds * wait };
};

/** Idle and stored cost of `spanS` seconds under a plan, with nobody arriving. */
export const idleOverhead = (
  plan: CoolingPlan,
  spanS: number,
  model: CostModel,
): Pick<Overhead, "idle" | "stopped"> => {
  const { run, stored } = rates(model);
  const warm = Math.min(spanS, plan.warmS);
  const stopped = Math.min(Math.max(0, spanS - plan.warmS), plan.stoppedS);
  return { idle: warm * run, stopped: stopped * stored };
};

/** The whole overhead of an idle period of `gapS` that ends with the next job arriving. */
export const gapOverhead = (
  plan: CoolingPlan,
  gapS: number,
  model: CostModel,
): Overhead & { start: StartKind } => {
  const start = startKind(plan, gapS);
  return { ...idleOverhead(plan, gapS, model), ...startOverhead(start, model), start };
};

export const total = (overhead: Overhead): number =>
  overhead.idle + overhead.stopped + overhead.boot + overhead.wait;

/** What a cold start costs beyond a start of `kind`: the price of giving an instance up. */
const coldPenalty = (model: CostModel, kind: StartKind = "warm"): number => {
  const cold = startOverhead("cold", model);
  const instead = startOverhead(kind, model);
  return cold.boot + cold.wait - instead.boot - instead.wait;
};

/**
 * Ski rental: keep the instance warm until the idle cost equals a cold start's, then
 * terminate. Never more than twice the cheaper of "warm throughout" and "terminate at once".
 */
export const breakEvenPlan = (model: CostModel): CoolingPlan => ({
  warmS: coldPenalty(model) / rates(model).run,
  stoppedS: 0,
});

/** With hindsight: the cheapest way through a gap whose length is known. */
export const oraclePlan = (gapS: number, model: CostModel): CoolingPlan => {
  const options: CoolingPlan[] = [
    { warmS: gapS, stoppedS: 0 },
    { warmS: 0, stoppedS: gapS },
    { warmS: 0, stoppedS: 0 },
  ];
  const costs = options.map((plan) => total(gapOverhead(plan, gapS, model)));
  return options[costs.indexOf(Math.min(...costs))] as CoolingPlan;
};

export const ADAPTIVE = {
  /** Gaps remembered per pool: recent enough to follow a change of habit. */
  window: 512,
  /** Gaps remembered of every pool of the control plane: the prior a pool starts from. */
  fleetWindow: 2048,
  /**
   * The most of the fleet's window one owner's pools lend a young pool: the newest of their
   * gaps up to this share, so a prior drawn from several owners stays a mix of them however
   * many jobs one of them runs.
   */
  fleetShare: 1 / 8,
  /**
   * How many of its own gaps a pool's history is worth as much as the fleet's: a pool with
   * this many weighs its own history and the fleet's equally, and leans on its own as it grows.
   */
  priorWeight: 16,
  /**
   * How many of its own gaps a pool's scale (its mean log gap) is worth as much as the
   * fleet's: a pool's first few gaps say how often its jobs come only roughly, so its scale
   * starts near the fleet's and moves to its own as they add up.
   */
  scaleWeight: 2,
  /** Below this many observed gaps, its own and the fleet's, fall back to the break-even plan. */
  minSamples: 8,
  /** Candidate durations tried: this many quantiles of the observed gaps. */
  quantiles: 48,
  /**
   * How fast the chance of an idle period outlasting t falls past the longest one seen, as
   * t^-tailIndex: a fair random walk's return (see `pastLongestSeen`).
   */
  tailIndex: 0.5,
};

/**
 * The longest a plan keeps an instance stopped (two weeks of storage, about $3.70 for
 * 100 GB): beyond that a cold launch is the cheaper bet, and a timer stays within what
 * a Node.js timer can wait (24.8 days) when the workflows run locally.
 */
export const MAX_STOPPED_S = 14 * 24 * HOUR_S;

/**
 * The recent gaps of every pool of the control plane, each with its shape: its log against
 * its pool's scale when it was recorded. Pools differ most in how often their jobs come,
 * far less in how their gaps spread around that: a pool borrows the fleet's shapes at its
 * own scale, where the fleet's gaps as they are would mix a pool that sees a job every
 * minute with one that sees a job a day.
 */
export interface FleetGaps {
  gaps: number[];
  /** One per gap, in the same order. */
  shapes: number[];
  /** One per gap, in the same order: whose pool recorded it, as `fleetSource` names them. */
  sources: string[];
}

export const EMPTY_FLEET: FleetGaps = { gaps: [], shapes: [], sources: [] };

/**
 * Whose gaps they are, as the fleet keeps it: a short hash of the owner (FNV-1a, 32 bits),
 * enough to count an owner's share of the fleet without naming them.
 */
export const fleetSource = (owner: string): string => {
  let hash = 0x811c9dc5;
  for (const char of owner) {
    hash ^= char.codePointAt(0) as number;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
};

const logGap = (gapS: number): number => Math.log1p(gapS);

const sumOfLogs = (gaps: readonly number[]): number =>
  gaps.reduce((sum, gap) => sum + logGap(gap), 0);

/**
 * A pool's scale: the mean log of its gaps, drawn towards the fleet's while it has few
 * (`ADAPTIVE.scaleWeight`). Undefined when neither has any.
 */
export const poolLogScale = (
  gaps: readonly number[],
  fleetGaps: readonly number[],
): number | undefined => {
  const fleetWeight = fleetGaps.length > 0 ? ADAPTIVE.scaleWeight : 0;
  if (gaps.length + fleetWeight === 0) return undefined;
  const fleetMean = fleetWeight > 0 ? sumOfLogs(fleetGaps) / fleetGaps.length : 0;
  return (sumOfLogs(gaps) + fleetWeight * fleetMean) / (gaps.length + fleetWeight);
};

/** Shapes kept to a thousandth: the fleet's item stays small, and a gap off by 0.1% is the same gap. */
const roundShape = (shape: number): number => Math.round(shape * 1000) / 1000;

/** What the fleet lends a pool: of each source's gaps, the newest up to its share. */
export const lentBy = (fleet: FleetGaps): Pick<FleetGaps, "gaps" | "shapes"> => {
  const share = ADAPTIVE.fleetWindow * ADAPTIVE.fleetShare;
  const lent = new Map<string, number>();
  const gaps: number[] = [];
  const shapes: number[] = [];
  for (let i = fleet.gaps.length - 1; i >= 0; i--) {
    const source = fleet.sources[i] ?? "";
    const count = lent.get(source) ?? 0;
    if (count >= share) continue;
    lent.set(source, count + 1);
    gaps.push(fleet.gaps[i] as number);
    shapes.push(fleet.shapes[i] as number);
  }
  return { gaps, shapes };
};

/**
 * The fleet's gaps with one more, recorded by a pool of `source` whose gaps were `poolGaps`
 * before it, forgetting the oldest beyond the fleet's window. A gap with nothing to compare
 * it with is its own scale.
 */
export const recordFleetGap = (
  fleet: FleetGaps,
  gapS: number,
  poolGaps: readonly number[],
  source: string,
): FleetGaps => {
  const scale = poolLogScale(poolGaps, lentBy(fleet).gaps) ?? logGap(gapS);
  return {
    gaps: [...fleet.gaps, gapS].slice(-ADAPTIVE.fleetWindow),
    shapes: [...fleet.shapes, roundShape(logGap(gapS) - scale)].slice(-ADAPTIVE.fleetWindow),
    sources: [...fleet.sources, source].slice(-ADAPTIVE.fleetWindow),
  };
};

/**
 * The fleet's gaps as a pool of these `gaps` would show them: the fleet's shapes at the
 * pool's scale, to the millisecond the control plane measures gaps in (so that a gap of the
 * pool's own scale comes back as itself, not a hair short of it).
 */
const fleetAtScaleOf = (fleet: FleetGaps, gaps: readonly number[]): number[] => {
  const lent = lentBy(fleet);
  const scale = poolLogScale(gaps, lent.gaps) ?? 0;
  return lent.shapes.map((shape) =>
    Math.max(0, Math.round(Math.expm1(shape + scale) * 1000) / 1000),
  );
};

/** Remembers one more observed gap of a pool, forgetting the oldest beyond the window. */
export const recordGap = (gaps: readonly number[], gapS: number): number[] =>
  [...gaps, gapS].slice(-ADAPTIVE.window);

/** Gaps sorted, with their prefix sums: a plan's mean overhead over them in O(log n). */
interface Sample {
  sorted: number[];
  prefix: number[];
}

const sampleOf = (gaps: readonly number[]): Sample => {
  const sorted = [...gaps].sort((a, b) => a - b);
  const prefix = [0];
  for (const gap of sorted) prefix.push((prefix.at(-1) as number) + gap);
  return { sorted, prefix };
};

/** `count` quantiles of a sorted sample, each a gap it holds. */
const quantilesOf = (sorted: readonly number[], count: number): number[] =>
  sorted.length === 0
    ? []
    : Array.from(
        { length: count + 1 },
        (_, i) => sorted[Math.round((i / count) * (sorted.length - 1))] as number,
      );

/**
 * The project's default policy: the plan with the least expected overhead over the gaps
 * seen so far (the time from an instance going idle to the next job of its pool arriving).
 * A pool's own gaps are weighed against the whole control plane's (`fleet`), as a
 * hierarchical prior would: the fleet's gaps at the pool's scale (see `FleetGaps`), its own
 * `n` gaps against the fleet's `priorWeight`, so a new pool starts from what the fleet
 * shows and moves to its own history as it grows. No look-ahead: only gaps already
 * observed count. With too few gaps of either to go by, the plan is `newPool`, the
 * break-even plan unless the installation says.
 */
export const adaptivePlan = (
  gaps: readonly number[],
  model: CostModel,
  options: { fleet?: FleetGaps; newPool?: CoolingPlan } = {},
): CoolingPlan => {
  const fleetGaps = fleetAtScaleOf(options.fleet ?? EMPTY_FLEET, gaps);
  if (gaps.length + fleetGaps.length < ADAPTIVE.minSamples)
    return options.newPool ?? breakEvenPlan(model);
  const own = sampleOf(gaps);
  const fleet = sampleOf(fleetGaps);
  const ownWeight = gaps.length / (gaps.length + (fleetGaps.length > 0 ? ADAPTIVE.priorWeight : 0));
  // Each sample proposes durations in proportion to its weight: 48 candidates in all.
  const ownCount = Math.round(ADAPTIVE.quantiles * ownWeight);
  const candidates = [
    0,
    ...new Set([
      ...quantilesOf(own.sorted, ownCount),
      ...quantilesOf(fleet.sorted, ADAPTIVE.quantiles - ownCount),
    ]),
    MAX_STOPPED_S,
  ].sort((a, b) => a - b);
  const plan = cheapestPlan(
    candidates,
    (plan) =>
      ownWeight * meanOverhead(own, plan, model) +
      (1 - ownWeight) * meanOverhead(fleet, plan, model),
  );
  return pastLongestSeen(plan, own.sorted, model);
};

/** Of the plans that keep an instance warm, then until, one of these sorted durations each, the one `expected` finds cheapest. */
const cheapestPlan = (
  durations: readonly number[],
  expected: (plan: CoolingPlan) => number,
): CoolingPlan => {
  let best = { plan: { warmS: 0, stoppedS: 0 }, cost: Number.POSITIVE_INFINITY };
  for (const warmS of durations) {
    for (const end of durations) {
      if (end < warmS) continue;
      const plan = { warmS, stoppedS: Math.min(end - warmS, MAX_STOPPED_S) };
      const cost = expected(plan);
      if (cost < best.cost) best = { plan, cost };
    }
  }
  return best.plan;
};

/** Durations a pool's plan in hindsight is searched at: each of its gaps, or this many quantiles of them. */
const HINDSIGHT_DURATIONS = 512;

/**
 * With hindsight of all of a pool's gaps, and of its idle periods still open (`openS`, how
 * long each has lasted): the one plan that would have cost it least. Not a policy (it knows
 * the future), but what a policy that knew how the pool's gaps are spread, not each gap,
 * would pick: on a pool whose gaps are drawn alike, no online policy does better on
 * average, so it measures what learning still costs.
 */
export const hindsightPlan = (
  gaps: readonly number[],
  model: CostModel,
  openS: readonly number[] = [],
): CoolingPlan => {
  const sample = sampleOf(gaps);
  // Its cost only grows between two of the gaps: it is least at one of them.
  const durations = [
    0,
    ...new Set(quantilesOf(sample.sorted, Math.min(HINDSIGHT_DURATIONS, gaps.length))),
    MAX_STOPPED_S,
  ].sort((a, b) => a - b);
  const stillOpen = (plan: CoolingPlan) =>
    openS.reduce((sum, spanS) => {
      const { idle, stopped } = idleOverhead(plan, spanS, model);
      return sum + idle + stopped;
    }, 0);
  return cheapestPlan(
    durations,
    (plan) => gaps.length * meanOverhead(sample, plan, model) + stillOpen(plan),
  );
};

/**
 * Past the longest gap a pool has shown, its own gaps say nothing of when the next job
 * comes. An idle period ends when the pool's busy instances climb back to where they were
 * when it began, and over the short run their count moves like a fair random walk, whose
 * return outlasts t with a chance falling as t^-1/2 (`ADAPTIVE.tailIndex`). Under that tail
 * an idle period that has lasted t ends within the next dt with a chance of dt/(2t):
 * keeping the instance stopped costs storage for dt, and saves a cold start's extra over a
 * stopped one with that chance. So a plan that keeps the instance until the longest gap seen
 * keeps it stopped as long as that pays: until storing it has cost half that extra.
 */
const pastLongestSeen = (plan: CoolingPlan, sorted: readonly number[], model: CostModel) => {
  const longest = sorted.at(-1);
  const end = plan.warmS + plan.stoppedS;
  if (longest === undefined || end < longest) return plan;
  const keepS = (ADAPTIVE.tailIndex * coldPenalty(model, "stopped")) / rates(model).stored;
  if (!(keepS > end)) return plan;
  return { warmS: plan.warmS, stoppedS: Math.min(MAX_STOPPED_S, keepS - plan.warmS) };
};

/** Index of the first sorted gap above `limit`. */
const countAtMost = (sorted: readonly number[], limit: number): number => {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] as number) <= limit) low = middle + 1;
    else high = middle;
  }
  return low;
};

/** Mean overhead of a plan over a sample of gaps (none when it is empty), in O(log n). */
const meanOverhead = ({ sorted, prefix }: Sample, plan: CoolingPlan, model: CostModel): number => {
  if (sorted.length === 0) return 0;
  const { run, stored } = rates(model);
  const start = (kind: StartKind) => {
    const overhead = startOverhead(kind, model);
    return overhead.boot + overhead.wait;
  };
  const warmEnd = countAtMost(sorted, plan.warmS);
  const stoppedEnd = countAtMost(sorted, plan.warmS + plan.stoppedS);
  const sum = (from: number, to: number) => (prefix[to] as number) - (prefix[from] as number);
  const warm = run * sum(0, warmEnd) + warmEnd * start("warm");
  const stoppedCount = stoppedEnd - warmEnd;
  const stopped =
    stoppedCount * (plan.warmS * run + start("stopped")) +
    stored * (sum(warmEnd, stoppedEnd) - stoppedCount * plan.warmS);
  const coldCount = sorted.length - stoppedEnd;
  const cold = coldCount * (plan.warmS * run + plan.stoppedS * stored + start("cold"));
  return (warm + stopped + cold) / sorted.length;
};

/** The longest a plan keeps an instance warm: the longest cooling period a job may name. */
export const MAX_WARM_S = 7 * 24 * HOUR_S;

/**
 * What an installation sets of its cooling (the `coolingDefaultMinutes` and
 * `coolingMaxMinutes` context): how long a freed instance of a pool with no history yet
 * stays warm, and the longest any instance stays warm, whatever its job or its pool's
 * history asks: a cap on what an idle GPU may cost.
 */
export interface CoolingLimits {
  defaultWarmS: number;
  maxWarmS: number;
}

/** Without an installation's say: the break-even plan for a new pool, and no cap but MAX_WARM_S. */
export const policyCoolingLimits = (model: CostModel): CoolingLimits => ({
  defaultWarmS: breakEvenPlan(model).warmS,
  maxWarmS: MAX_WARM_S,
});

/** Whole seconds in [0, max], rounded up; not a number at all means no time (terminate at once). */
const wholeSeconds = (seconds: number, max: number): number =>
  Number.isNaN(seconds) ? 0 : Math.min(max, Math.max(0, Math.ceil(seconds)));

/**
 * The control plane's plan for an instance its job just freed: the job's own cooling
 * period when it names one (then the instance is stopped, kept two weeks at most), else
 * the adaptive policy on the gaps its pool has shown, starting from the installation's
 * default. Never warm beyond the installation's cap, even for a job submitted before the
 * cap was lowered. A spot instance cannot be stopped. In whole, bounded seconds: a Step
 * Functions Wait state takes nothing else, and a Wait that fails cannot be caught, so the
 * instance would cool for ever.
 */
export const coolingPlanFor = (input: {
  jobCoolingPeriodS: number | undefined;
  spot: boolean;
  poolGaps: readonly number[];
  /** Recent gaps of every pool of the control plane (`ADAPTIVE.fleetWindow` at most). */
  fleet?: FleetGaps;
  model: CostModel;
  limits: CoolingLimits;
}): CoolingPlan => {
  const { limits } = input;
  const plan =
    input.jobCoolingPeriodS === undefined
      ? adaptivePlan(input.poolGaps, input.model, {
          fleet: input.fleet ?? EMPTY_FLEET,
          newPool: { warmS: limits.defaultWarmS, stoppedS: 0 },
        })
      : { warmS: input.jobCoolingPeriodS, stoppedS: MAX_STOPPED_S };
  return {
    warmS: wholeSeconds(plan.warmS, Math.min(limits.maxWarmS, MAX_WARM_S)),
    stoppedS: input.spot ? 0 : wholeSeconds(plan.stoppedS, MAX_STOPPED_S),
  };
};

/** When an instance freed at `at` under `plan` will be stopped and then terminated. */
export const coolingSchedule = (
  plan: CoolingPlan,
  at: string,
): { coolingUntil: string; stoppedUntil: string } => {
  const coolingUntil = Date.parse(at) + plan.warmS * 1000;
  return {
    coolingUntil: new Date(coolingUntil).toISOString(),
    stoppedUntil: new Date(coolingUntil + plan.stoppedS * 1000).toISOString(),
  };
};

/** A pool's idle periods in flight and the gaps it has shown, as the control plane keeps them. */
export interface PoolHistory {
  /** When each idle instance of the pool went idle, the most recent last. */
  idleSince: number[];
  gaps: number[];
}

const MAX_IDLE_TRACKED = 64;

/** An instance of the pool went idle at `atS` (epoch seconds). */
export const poolWentIdle = (history: PoolHistory, atS: number): PoolHistory => ({
  idleSince: [...history.idleSince, atS].slice(-MAX_IDLE_TRACKED),
  gaps: history.gaps,
});

/**
 * A job of the pool arrived at `atS`: it ends the most recent idle period, whatever became
 * of that instance, so an instance given up never hides how long its idle period lasted.
 */
export const poolJobArrived = (history: PoolHistory, atS: number): PoolHistory => {
  const since = history.idleSince.at(-1);
  if (since === undefined) return history;
  return {
    idleSince: history.idleSince.slice(0, -1),
    gaps: recordGap(history.gaps, Math.max(0, atS - since)),
  };
};
