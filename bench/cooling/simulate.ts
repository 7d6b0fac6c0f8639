import {
  type CoolingPlan,
  type CostModel,
  EMPTY_FLEET,
  fleetSource,
  gapOverhead,
  hindsightPlan,
  idleOverhead,
  type Overhead,
  oraclePlan,
  type PoolHistory,
  type StartKind,
  startKind,
  startOverhead,
  total,
} from "../../lambdas/domain/cooling-policy.ts";
import { changePoolHistory, recordFleetGaps } from "../../lambdas/domain/pool-history.ts";
import type { Policy } from "./policies.ts";
import type { TraceJob } from "./trace.ts";

export interface SimulationResult extends Overhead {
  policy: string;
  overheadCost: number;
  starts: Record<StartKind, number>;
  /** Boot seconds all jobs waited for, added up. */
  waitS: number;
  jobs: number;
}

/** An idle instance: when it went idle, and what its policy planned for it then. */
interface Slot {
  freedAt: number;
  plan: CoolingPlan;
}

/** Decides, for an arriving job, which idle slot of its pool it takes (if any, removing it) and how it starts. */
type Arrival = (
  pool: string,
  slots: Slot[],
  now: number,
) => { kind: StartKind; overhead: Overhead };

const zero = (): Overhead => ({ idle: 0, stopped: 0, boot: 0, wait: 0 });

const add = (into: Overhead, more: Partial<Overhead>) => {
  into.idle += more.idle ?? 0;
  into.stopped += more.stopped ?? 0;
  into.boot += more.boot ?? 0;
  into.wait += more.wait ?? 0;
};

/** Inserts into an array kept sorted by `at` (instances finishing their jobs). */
const insertByTime = (
  queue: Array<{ at: number; pool: string }>,
  entry: { at: number; pool: string },
) => {
  let low = 0;
  let high = queue.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((queue[middle] as { at: number }).at <= entry.at) low = middle + 1;
    else high = middle;
  }
  queue.splice(low, 0, entry);
};

/**
 * Replays a trace: jobs arrive at their submit time and hold one instance of their pool
 * for their duration, counted from their arrival whatever their start: boot time is billed
 * and waited for as overhead but moves no later event, so every policy, and the oracle,
 * see the same instances freed at the same times. An instance going idle gets a plan; an
 * arriving job takes one its `arrive` picks. The overhead counted is what the policy
 * controls: idle running, stopped storage, billed boot time and priced user wait; the
 * jobs' own running time is the same for all.
 */
const replay = (
  name: string,
  jobs: readonly TraceJob[],
  model: CostModel,
  planFor: (pool: string, now: number) => CoolingPlan,
  arrive: Arrival,
  leftover: (slot: Slot, untilS: number, pool: string) => Partial<Overhead>,
): SimulationResult => {
  const ordered = [...jobs].sort((a, b) => a.submitS - b.submitS);
  const idle = new Map<string, Slot[]>();
  const finishing: Array<{ at: number; pool: string }> = [];
  const overhead = zero();
  const starts: Record<StartKind, number> = { warm: 0, stopped: 0, cold: 0 };
  let waitS = 0;
  let end = 0;
  const free = (until: number) => {
    while (finishing.length && (finishing[0] as { at: number }).at <= until) {
      const { at, pool } = finishing.shift() as { at: number; pool: string };
      const stack = idle.get(pool) ?? [];
      stack.push({ freedAt: at, plan: planFor(pool, at) });
      idle.set(pool, stack);
    }
  };
  for (const job of ordered) {
    free(job.submitS);
    const { kind, overhead: spent } = arrive(job.pool, idle.get(job.pool) ?? [], job.submitS);
    add(overhead, spent);
    starts[kind]++;
    waitS += model.bootS[kind];
    const done = job.submitS + job.durationS;
    end = Math.max(end, done);
    insertByTime(finishing, { at: done, pool: job.pool });
  }
  free(Number.POSITIVE_INFINITY);
  for (const [pool, stack] of idle)
    for (const slot of stack) add(overhead, leftover(slot, end, pool));
  return {
    policy: name,
    ...overhead,
    overheadCost: total(overhead),
    starts,
    waitS,
    jobs: ordered.length,
  };
};

/**
 * Which of the idle instances still warm or stopped an arriving job takes, as the control
 * plane's `findReusable` orders them: a warm one, most recently freed first, else a stopped
 * one, most recently stopped first. Undefined: there is none (a cold launch).
 */
const reusable = (slots: readonly Slot[], now: number): number | undefined => {
  let chosen: { index: number; warm: boolean; since: number } | undefined;
  slots.forEach((slot, index) => {
    const warm = startKind(slot.plan, now - slot.freedAt) === "warm";
    const since = warm ? slot.freedAt : slot.freedAt + slot.plan.warmS;
    const better =
      !chosen || (warm && !chosen.warm) || (warm === chosen.warm && since > chosen.since);
    if (better) chosen = { index, warm, since };
  });
  return chosen?.index;
};

export interface SimulationOptions {
  /** Told each plan as it is made: for which pool, when its instance went idle, and the plan. */
  onPlan?(pool: string, atS: number, plan: CoolingPlan): void;
}

/**
 * A policy's run: plans are made when instances go idle, from what it has observed so far.
 * What it observes are the gaps of its pool's idle periods as if no instance were ever
 * given up (each job ends the most recent idle period): what happens to an instance does
 * not hide how long its idle period would have lasted. Each pool of a trace counts as its
 * own owner's in the fleet's share (`ADAPTIVE.fleetShare`).
 */
export const simulate = (
  jobs: readonly TraceJob[],
  policy: Policy,
  model: CostModel,
  options: SimulationOptions = {},
): SimulationResult => {
  const histories = new Map<string, PoolHistory>();
  const historyOf = (pool: string) => histories.get(pool) ?? { idleSince: [], gaps: [] };
  let fleet = EMPTY_FLEET;
  return replay(
    policy.name,
    jobs,
    model,
    (pool, now) => {
      histories.set(
        pool,
        changePoolHistory(historyOf(pool), { type: "wentIdle", atS: now }).history,
      );
      const plan = policy.plan(pool, historyOf(pool).gaps, fleet);
      options.onPlan?.(pool, now, plan);
      return plan;
    },
    (pool, slots, now) => {
      const before = historyOf(pool);
      const arrived = changePoolHistory(before, { type: "jobArrived", atS: now });
      histories.set(pool, arrived.history);
      fleet = recordFleetGaps(fleet, arrived.recorded, before.gaps, fleetSource(pool));
      const spent = zero();
      // Instances whose plan ran out are gone: each cost its whole plan and serves no one.
      for (let i = slots.length - 1; i >= 0; i--) {
        const slot = slots[i] as Slot;
        if (startKind(slot.plan, now - slot.freedAt) !== "cold") continue;
        add(spent, idleOverhead(slot.plan, now - slot.freedAt, model));
        slots.splice(i, 1);
      }
      const index = reusable(slots, now);
      if (index === undefined) {
        add(spent, startOverhead("cold", model));
        return { kind: "cold", overhead: spent };
      }
      const [slot] = slots.splice(index, 1) as [Slot];
      const { start, ...overhead } = gapOverhead(slot.plan, now - slot.freedAt, model);
      add(spent, overhead);
      return { kind: start, overhead: spent };
    },
    (slot, untilS) => idleOverhead(slot.plan, untilS - slot.freedAt, model),
  );
};

/** The offline optimum: each gap, known in advance, gets its cheapest plan; a last idle period costs nothing. */
export const simulateOracle = (jobs: readonly TraceJob[], model: CostModel): SimulationResult =>
  replay(
    "oracle (offline)",
    jobs,
    model,
    () => ({ warmS: 0, stoppedS: 0 }),
    (_pool, stack, now) => {
      const slot = stack.pop();
      if (!slot) return { kind: "cold", overhead: { ...zero(), ...startOverhead("cold", model) } };
      const gapS = now - slot.freedAt;
      const { start, ...overhead } = gapOverhead(oraclePlan(gapS, model), gapS, model);
      return { kind: start, overhead };
    },
    () => ({}),
  );

/**
 * Each pool kept under one plan, the one that would have cost it least (`hindsightPlan`):
 * what learning still costs, where the oracle also knows each gap. Under one plan the idle
 * instance a job takes is the one freed last (none freed later can be colder), so a pool's
 * gaps are those of its instances taken last freed first, and the instances still idle when
 * the trace ends cost the plan's idling until then.
 */
export const simulateHindsight = (
  jobs: readonly TraceJob[],
  model: CostModel,
): SimulationResult => {
  const seen = new Map<string, { gaps: number[]; openS: number[] }>();
  const of = (pool: string) => {
    const found = seen.get(pool) ?? { gaps: [], openS: [] };
    seen.set(pool, found);
    return found;
  };
  replay(
    "gaps",
    jobs,
    model,
    () => ({ warmS: 0, stoppedS: 0 }),
    (pool, stack, now) => {
      const slot = stack.pop();
      if (slot) of(pool).gaps.push(now - slot.freedAt);
      return { kind: "cold", overhead: zero() };
    },
    (slot, untilS, pool) => {
      of(pool).openS.push(untilS - slot.freedAt);
      return {};
    },
  );
  const plans = new Map(
    [...seen].map(([pool, { gaps, openS }]) => [pool, hindsightPlan(gaps, model, openS)]),
  );
  const terminate = { warmS: 0, stoppedS: 0 };
  return simulate(
    jobs,
    { name: "best plan per pool (hindsight)", plan: (pool) => plans.get(pool) ?? terminate },
    model,
  );
};
