import {
  type FleetGaps,
  type PoolHistory,
  poolJobArrived,
  poolWentIdle,
  recordFleetGap,
} from "./cooling-policy.ts";

/**
 * The ids of a pool's most recent changes it keeps, so that a change recorded again (a
 * handler retried after it wrote) is recognised. A retry comes within minutes, long before
 * a pool sees this many other idle periods and arrivals.
 */
export const RECENT_CHANGES = 128;

/**
 * One event of a pool's history, named by what happened, so that recording it twice (its
 * handler retried) records it once.
 */
export type PoolChange =
  | { id: string; type: "wentIdle"; atS: number }
  | { id: string; type: "jobArrived"; atS: number };

/**
 * An instance went idle at `atS` (epoch seconds). Its cooling epoch names this idle period:
 * a retried release of the same job finds the instance in the same epoch.
 */
export const idleChange = (
  instance: { id: string; coolingEpoch: number },
  atS: number,
): PoolChange => ({ id: `idle:${instance.id}:${instance.coolingEpoch}`, type: "wentIdle", atS });

/**
 * A job was placed in the pool at `atS`. One arrival per placement: a retried acquire of the
 * same attempt is the same arrival; a retry or a requeue after a preemption is a new one.
 */
export const arrivalChange = (
  job: { id: string; attempt: number; requeues: number },
  atS: number,
): PoolChange => ({
  id: `arrival:${job.id}:${job.attempt}:${job.requeues}`,
  type: "jobArrived",
  atS,
});

/** A pool's history as stored, with the ids of the changes it took in most recently. */
export interface StoredPoolHistory extends PoolHistory {
  changeIds: string[];
}

export const EMPTY_POOL_HISTORY: StoredPoolHistory = { idleSince: [], gaps: [], changeIds: [] };

/** What the cooling policy learns from: a pool's own history and the recent gaps of every pool. */
export interface PoolEvidence {
  history: PoolHistory;
  fleet: FleetGaps;
}

/**
 * What a change makes of a pool's stored history, and the gaps it recorded (for the fleet's
 * list); undefined when the change is among those it already took.
 */
export const applyPoolChange = (
  stored: StoredPoolHistory,
  change: PoolChange,
): { stored: StoredPoolHistory; recorded: number[] } | undefined => {
  if (stored.changeIds.includes(change.id)) return undefined;
  const { history, recorded } = changePoolHistory(stored, change);
  return {
    stored: { ...history, changeIds: [...stored.changeIds, change.id].slice(-RECENT_CHANGES) },
    recorded,
  };
};

/**
 * What a change makes of a pool's history, and the gaps it recorded: an arrival records one
 * exactly when it ends an idle period, and it is then the newest. The simulator replays a
 * trace through this very function.
 */
export const changePoolHistory = (
  history: PoolHistory,
  change: Pick<PoolChange, "type" | "atS">,
): { history: PoolHistory; recorded: number[] } => {
  const next =
    change.type === "wentIdle"
      ? poolWentIdle(history, change.atS)
      : poolJobArrived(history, change.atS);
  const ended = next.idleSince.length < history.idleSince.length;
  return {
    history: { idleSince: next.idleSince, gaps: next.gaps },
    recorded: ended ? [next.gaps.at(-1) as number] : [],
  };
};

/**
 * The fleet's gaps with those a change just recorded in a pool of `source` whose gaps were
 * `poolGaps` before it (see `recordFleetGap`).
 */
export const recordFleetGaps = (
  fleet: FleetGaps,
  recorded: readonly number[],
  poolGaps: readonly number[],
  source: string,
): FleetGaps => recorded.reduce((next, gap) => recordFleetGap(next, gap, poolGaps, source), fleet);
