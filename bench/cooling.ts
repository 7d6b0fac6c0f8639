/**
 * `npm run bench:cooling -- --trace FILE [--format neutral|openb]`: replays a job trace
 * against every cooling policy and the offline oracle, and prints what each costs.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type CostModel, DEFAULT_COST_MODEL } from "../lambdas/domain/cooling-policy.ts";
import { EC2_ON_DEMAND } from "../lambdas/domain/prices.ts";
import { drawCostVsColdStarts } from "./cooling/plot.ts";
import { policies } from "./cooling/policies.ts";
import { type SimulationResult, simulate, simulateOracle } from "./cooling/simulate.ts";
import { TRACE_FORMATS, type TraceFormat, toNeutral } from "./cooling/trace.ts";

const usage = `usage: npm run bench:cooling -- --trace FILE [--format neutral|openb]
  [--instance-type g5.xlarge | --price-h 1.006] [--wait-price-h 0] [--ebs-gb 100] [--boot-s 2,60,180] [--plot FILE.png]
  [--write-neutral FILE.csv]  (keeps the trace converted to submit_s,duration_s,pool)`;

const fail = (message: string): never => {
  console.error(`bench:cooling: ${message}\n${usage}`);
  process.exit(2);
};

const { values } = parseArgs({
  options: {
    trace: { type: "string" },
    format: { type: "string", default: "neutral" },
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

const bootS = (value: string | undefined): CostModel["bootS"] => {
  if (value === undefined) return DEFAULT_COST_MODEL.bootS;
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
  bootS: bootS(values["boot-s"]),
};
if (!values.trace) fail("--trace is required");
if (!(values.format in TRACE_FORMATS)) fail(`--format: neutral or openb, not "${values.format}"`);
const readTrace = (path: string, format: TraceFormat) => {
  try {
    return TRACE_FORMATS[format](readFileSync(path, "utf8"));
  } catch (error) {
    return fail(`--trace ${path}: ${(error as Error).message}`);
  }
};
const jobs = readTrace(values.trace as string, values.format as TraceFormat);
const pools = new Set(jobs.map((job) => job.pool));
if (values["write-neutral"]) {
  writeFileSync(values["write-neutral"], `${toNeutral(jobs)}\n`);
  console.log(`wrote the trace in the neutral format to ${values["write-neutral"]}`);
}

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
  `${ratio(result).toFixed(2)}x`,
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
const widths = headers.map((header, column) =>
  Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
);
const line = (cells: string[]) =>
  cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ");

console.log(
  `${jobs.length} jobs in ${pools.size} pools; $${model.priceH}/h running, $${model.waitPriceH}/h waiting, ` +
    `${model.ebsGb} GB at $${model.ebsPriceGbMonth}/GB-month stopped, boot ${model.bootS.warm}/${model.bootS.stopped}/${model.bootS.cold} s warm/stopped/cold`,
);
console.log([line(headers), ...rows.map(line)].join("\n"));
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
