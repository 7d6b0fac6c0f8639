/**
 * `npm run bench:cooling -- --trace FILE [--format neutral|openb|openb-by-request]`: replays
 * a job trace against every cooling policy and the offline oracle, and prints what each
 * costs. `--suite`: the adaptive policy on every trace of the suite at two wait prices.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CostModel, DEFAULT_COST_MODEL } from "../lambdas/domain/cooling-policy.ts";
import { EC2_ON_DEMAND } from "../lambdas/domain/prices.ts";
import { worstMemorylessRatio } from "./cooling/memoryless-bound.ts";
import { drawCostVsColdStarts } from "./cooling/plot.ts";
import { policies } from "./cooling/policies.ts";
import { type SimulationResult, simulate, simulateOracle } from "./cooling/simulate.ts";
import { SUITE, SUITE_BOOT_S, SUITE_WAIT_PRICES_H } from "./cooling/suite.ts";
import {
  type PriceScore,
  scoreTrace,
  type TraceScore,
  worstRatios,
} from "./cooling/suite-score.ts";
import { formatTable } from "./cooling/table.ts";
import { TRACE_FORMATS, type TraceFormat, type TraceJob, toNeutral } from "./cooling/trace.ts";

const usage = `usage: npm run bench:cooling -- --trace FILE [--format neutral|openb|openb-by-request]
  [--instance-type g5.xlarge | --price-h 1.006] [--wait-price-h 0] [--ebs-gb 100] [--boot-s 2,60,180] [--plot FILE.png]
  [--write-neutral FILE.csv]  (keeps the trace converted to submit_s,duration_s,pool)
or: npm run bench:cooling -- --suite [--seed 1] [--write-suite DIR]
  [--instance-type | --price-h] [--ebs-gb] [--boot-s 5,60,180]  (at $0/h and $20/h of user wait)`;

const fail = (message: string): never => {
  console.error(`bench:cooling: ${message}\n${usage}`);
  process.exit(2);
};

const { values } = parseArgs({
  options: {
    trace: { type: "string" },
    format: { type: "string", default: "neutral" },
    suite: { type: "boolean", default: false },
    seed: { type: "string", default: "1" },
    "write-suite": { type: "string" },
    "instance-type": { type: "string" },
    "price-h": { type: "string" },
    "wait-price-h": { type: "string" },
    "ebs-gb": { type: "string" },
    "boot-s": { type: "string" },
    plot: { type: "string" },
    "write-neutral": { type: "string" },
  },
});

const positive = (flag: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= 0
    ? parsed
    : fail(`--${flag}: give a number >= 0, not "${value}"`);
};

const bootS = (value: string | undefined, fallback: CostModel["bootS"]): CostModel["bootS"] => {
  if (value === undefined) return fallback;
  const [warm, stopped, cold] = value
    .split(",")
    .map((part) => positive("boot-s", part, Number.NaN));
  if (warm === undefined || stopped === undefined || cold === undefined)
    return fail("--boot-s: give warm,stopped,cold");
  return { warm, stopped, cold };
};

/** The running price of `--instance-type`, from the list prices the control plane estimates with. */
const listPriceH = (instanceType: string | undefined): number => {
  if (instanceType === undefined) return DEFAULT_COST_MODEL.priceH;
  const price = EC2_ON_DEMAND[instanceType];
  if (price) return price.usd / price.per;
  return fail(`--instance-type: no list price for "${instanceType}"; give --price-h`);
};

const model: CostModel = {
  ...DEFAULT_COST_MODEL,
  priceH: positive("price-h", values["price-h"], listPriceH(values["instance-type"])),
  waitPriceH: positive("wait-price-h", values["wait-price-h"], DEFAULT_COST_MODEL.waitPriceH),
  ebsGb: positive("ebs-gb", values["ebs-gb"], DEFAULT_COST_MODEL.ebsGb),
  bootS: bootS(values["boot-s"], values.suite ? SUITE_BOOT_S : DEFAULT_COST_MODEL.bootS),
};

const describeModel = (model: CostModel, wait: string) =>
  `$${model.priceH}/h running, ${wait} waiting, ` +
  `${model.ebsGb} GB at $${model.ebsPriceGbMonth}/GB-month stopped, boot ${model.bootS.warm}/${model.bootS.stopped}/${model.bootS.cold} s warm/stopped/cold`;

const ratioText = (ratio: number) => `${ratio.toFixed(2)}x`;

/** One trace, every policy, at the wait price given. */
const replayTrace = async (jobs: readonly TraceJob[]) => {
  const startedAt = performance.now();
  const oracle = simulateOracle(jobs, model);
  const results = [...policies(model).map((policy) => simulate(jobs, policy, model)), oracle];
  const elapsedS = (performance.now() - startedAt) / 1000;

  const dollars = (value: number) => value.toFixed(2);
  const ratio = (result: SimulationResult) => result.overheadCost / oracle.overheadCost;
  const rows = results.map((result) => [
    result.policy,
    dollars(result.overheadCost),
    dollars(result.idle),
    dollars(result.stopped),
    dollars(result.boot),
    dollars(result.wait),
    String(result.starts.warm),
    String(result.starts.stopped),
    String(result.starts.cold),
    (result.waitS / result.jobs).toFixed(1),
    ratioText(ratio(result)),
  ]);
  const headers = [
    "policy",
    "overhead $",
    "running-idle $",
    "stopped $",
    "boot $",
    "wait $",
    "warm",
    "stopped",
    "cold",
    "mean added wait s",
    "vs oracle",
  ];
  const pools = new Set(jobs.map((job) => job.pool));
  console.log(
    `${jobs.length} jobs in ${pools.size} pools; ${describeModel(model, `$${model.waitPriceH}/h`)}`,
  );
  console.log(formatTable(headers, rows));
  console.log(`simulated in ${elapsedS.toFixed(1)} s`);
  for (const result of results) {
    console.log(
      JSON.stringify({
        policy: result.policy,
        overheadCost: Number(result.overheadCost.toFixed(4)),
        oracleRatio: Number(ratio(result).toFixed(4)),
        coldStarts: result.starts.cold,
        stoppedStarts: result.starts.stopped,
        warmStarts: result.starts.warm,
        addedWaitS: Number((result.waitS / result.jobs).toFixed(2)),
      }),
    );
  }
  if (values.plot) {
    await drawCostVsColdStarts(
      values.plot,
      results,
      `Cooling policies on ${jobs.length} jobs (wait $${model.waitPriceH}/h)`,
    );
    console.log(`plot written to ${values.plot}`);
  }
};

const beatenAt = (score: TraceScore) => {
  const prices = score.prices
    .filter((price) => price.beaten)
    .map((price) => `$${price.waitPriceH}/h`);
  return prices.length ? `at ${prices.join(" and ")}` : "no";
};

/** Every trace of the suite, adaptive against the oracle and the best other policy, at each wait price. */
const replaySuite = (seed: number) => {
  const models = SUITE_WAIT_PRICES_H.map((waitPriceH) => ({ ...model, waitPriceH }));
  const startedAt = performance.now();
  const scores = SUITE.map((trace) => {
    const jobs = trace.jobs(seed);
    if (values["write-suite"])
      writeFileSync(join(values["write-suite"], `${trace.name}.csv`), `${toNeutral(jobs)}\n`);
    return scoreTrace(trace.name, jobs, models);
  });
  const elapsedS = (performance.now() - startedAt) / 1000;

  const perPrice = (header: (price: string) => string[]) =>
    SUITE_WAIT_PRICES_H.flatMap((waitPriceH) => header(`$${waitPriceH}/h`));
  const headers = [
    "trace",
    "jobs",
    "pools",
    ...perPrice((price) => [
      `${price}: adaptive vs oracle`,
      `${price}: best other policy`,
      `${price}: best plan per pool, hindsight`,
    ]),
    "adaptive beaten",
  ];
  const rows = scores.map((score) => [
    score.trace,
    String(score.jobs),
    String(score.pools),
    ...score.prices.flatMap((price: PriceScore) => [
      ratioText(price.adaptiveRatio),
      `${price.bestOther}, ${ratioText(price.bestOtherRatio)}`,
      ratioText(price.hindsightRatio),
    ]),
    beatenAt(score),
  ]);
  console.log(
    `cooling trace suite, seed ${seed}; ${describeModel(model, SUITE_WAIT_PRICES_H.map((price) => `$${price}/h`).join(" or "))}`,
  );
  console.log(formatTable(headers, rows));
  const worst = (ratioOf?: (price: PriceScore) => number) =>
    worstRatios(scores, ratioOf)
      .map(({ waitPriceH, ratio, trace }) => `${ratioText(ratio)} at $${waitPriceH}/h (${trace})`)
      .join(", ");
  const beaten = scores.filter((score) => score.prices.some((price) => price.beaten)).length;
  console.log(
    `worst adaptive ratio: ${worst()}; a fixed policy beats adaptive on ${beaten} of ${scores.length} traces`,
  );
  console.log(
    `what learning costs, adaptive over the best plan per pool in hindsight, at worst: ${worst((price) => price.adaptiveRatio / price.hindsightRatio)}`,
  );
  const bounds = models
    .map((each) => {
      const { meanGapS, ratio } = worstMemorylessRatio(each);
      return `${ratioText(ratio)} at $${each.waitPriceH}/h (a job every ${Math.round(meanGapS)} s)`;
    })
    .join(", ");
  console.log(
    `memoryless bound, the least any online policy can reach on a Poisson pool at its worst rate: ${bounds}`,
  );
  console.log(`simulated in ${elapsedS.toFixed(1)} s`);
  const rounded = (value: number) => Number(value.toFixed(4));
  for (const score of scores) {
    console.log(
      JSON.stringify({
        ...score,
        prices: score.prices.map((price) => ({
          ...price,
          adaptiveRatio: rounded(price.adaptiveRatio),
          bestOtherRatio: rounded(price.bestOtherRatio),
          hindsightRatio: rounded(price.hindsightRatio),
        })),
      }),
    );
  }
  if (values["write-suite"])
    console.log(`traces written to ${values["write-suite"]} in the neutral format`);
};

const readTrace = (path: string, format: TraceFormat) => {
  try {
    return TRACE_FORMATS[format](readFileSync(path, "utf8"));
  } catch (error) {
    return fail(`--trace ${path}: ${(error as Error).message}`);
  }
};

if (values.suite) {
  for (const flag of ["trace", "wait-price-h", "plot", "write-neutral"] as const)
    if (values[flag] !== undefined) fail(`--${flag} does not go with --suite`);
  const seed = positive("seed", values.seed, 1);
  if (!Number.isInteger(seed)) fail(`--seed: give a whole number, not "${values.seed}"`);
  if (values["write-suite"]) mkdirSync(values["write-suite"], { recursive: true });
  replaySuite(seed);
} else {
  if (!values.trace) fail("--trace is required (or --suite)");
  if (!(values.format in TRACE_FORMATS))
    fail(`--format: one of ${Object.keys(TRACE_FORMATS).join(", ")}, not "${values.format}"`);
  const jobs = readTrace(values.trace as string, values.format as TraceFormat);
  if (values["write-neutral"]) {
    writeFileSync(values["write-neutral"], `${toNeutral(jobs)}\n`);
    console.log(`wrote the trace in the neutral format to ${values["write-neutral"]}`);
  }
  await replayTrace(jobs);
}
