/**
 * What a job and an instance cost, estimated from list prices (prices.ts) and the times the
 * records keep: a job's timeline periods, an instance's time in each status. An estimate,
 * not the bill: no taxes, credits, Savings Plans, data transfer, or EC2's one-minute minimum.
 */
import type { Instance, InstanceUsage } from "./instance.ts";
import { instanceUse } from "./metrics.ts";
import { instanceRates, type Price } from "./prices.ts";
import { TIMELINE_PHASES, type Timeline, timelinePeriods } from "./timeline.ts";

/**
 * One part of a cost. `boot`: a job's Instance Connect period (its instance booting, starting
 * or taking it over), `running`: the job on its instance from setup to its results' return,
 * or an instance running (launching, executing, cooling); `stopped`: a stopped instance's volume.
 */
export interface CostItem {
  part: "boot" | "running" | "stopped";
  seconds: number;
  /** Absent when the cost is not priced. */
  usd?: number;
}

export interface Cost {
  /** Estimated US dollars; absent when not priced (`unpriced` says why). */
  usd?: number;
  unpriced?: string;
  /** The instance type priced; absent for a job that never had an instance. */
  instanceType?: string;
  items: CostItem[];
  /** The list prices used, by name, each with its source and when it was read. */
  prices: Record<string, Price>;
  /** Counted up to here: now, for what still runs. */
  asOf: string;
}

const BOOT_PERIOD = "Instance Connect";
const FIRST_RUNNING = TIMELINE_PHASES.indexOf(BOOT_PERIOD) + 1;

const HOUR_S = 3600;
const nonNegative = (seconds: number) => (Number.isFinite(seconds) ? Math.max(0, seconds) : 0);

/** Seconds per part, priced at the instance's rates (running price for boot and running). */
const priced = (
  seconds: Record<CostItem["part"], number>,
  instance: { instanceType: string; spot: boolean } | undefined,
  asOf: string,
): Cost => {
  const parts = (Object.keys(seconds) as CostItem["part"][]).filter((part) => seconds[part] > 0);
  if (!instance) return { usd: 0, items: [], prices: {}, asOf };
  const rates = instanceRates(instance.instanceType, instance.spot);
  const { instanceType } = instance;
  if (!rates.priced) {
    const items = parts.map((part) => ({ part, seconds: seconds[part] }));
    return { unpriced: rates.reason, instanceType, items, prices: {}, asOf };
  }
  const items = parts.map((part) => {
    const rate = part === "stopped" ? rates.stoppedUsdH : rates.runningUsdH;
    return { part, seconds: seconds[part], usd: (seconds[part] * rate) / HOUR_S };
  });
  const usd = items.reduce((sum, item) => sum + item.usd, 0);
  return { usd, instanceType, items, prices: rates.prices, asOf };
};

/**
 * A job's cost: its time on its instance (from setup to its results' return) and the boot it
 * caused (its Instance Connect period: a cold launch's or a stopped instance's start, a
 * moment on a warm one), at that instance's running price. Waiting for spot capacity and for
 * review cost nothing; a job that is still running is counted up to `now`. The timeline
 * holds the last attempt's periods, so a requeued job counts its last attempt.
 */
export const jobCost = (
  timeline: Timeline,
  instance: { instanceType: string; spot: boolean } | undefined,
  now: string,
  endedAt?: string,
): Cost => {
  const periods = timelinePeriods(timeline, now, endedAt);
  const sum = (keep: (index: number) => boolean) =>
    periods
      .filter(({ phase }) => keep(TIMELINE_PHASES.indexOf(phase)))
      .reduce((total, period) => total + nonNegative(period.seconds), 0);
  const boot = sum((index) => index === FIRST_RUNNING - 1);
  const running = sum((index) => index >= FIRST_RUNNING);
  return priced({ boot, running, stopped: 0 }, instance, endedAt ?? now);
};

/** Seconds since the instance's last change, as its current status spends them. */
const currentSpan = (instance: Instance, now: string): InstanceUsage => {
  const seconds = nonNegative((Date.parse(now) - Date.parse(instance.updatedAt ?? "")) / 1000);
  const use = instanceUse(instance);
  return {
    runningS: use === "running" || use === "cooling" ? seconds : 0,
    stoppedS: use === "stopped" ? seconds : 0,
  };
};

const NO_USAGE: InstanceUsage = { runningS: 0, stoppedS: 0 };

/**
 * The instance after a change at `at`, carrying the time it spent since its previous change
 * in its usage: running (launching, executing, cooling) or stopped. Closing and terminated
 * time is not billed.
 */
export const accrueUsage = (before: Instance, after: Instance, at: string): Instance => {
  const usage = before.usage ?? NO_USAGE;
  const span = currentSpan(before, at);
  return {
    ...after,
    usage: { runningS: usage.runningS + span.runningS, stoppedS: usage.stoppedS + span.stoppedS },
  };
};

/**
 * What an instance has cost so far: its running time at its running price, its stopped time
 * at its volume's price, up to `now`. Time before its usage was first recorded is not counted.
 */
export const instanceCost = (instance: Instance, now: string): Cost => {
  const usage = instance.usage ?? NO_USAGE;
  const span = currentSpan(instance, now);
  const { instanceType } = instance.pool;
  return priced(
    { boot: 0, running: usage.runningS + span.runningS, stopped: usage.stoppedS + span.stoppedS },
    { instanceType, spot: instance.spot },
    now,
  );
};
