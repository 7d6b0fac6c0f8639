import type { Phase } from "./phases.ts";
import type { JobEventType } from "./transitions.ts";

/** A recorded event of the job, as the capacity wait reads it. */
export interface TimedEvent {
  at: string;
  event: { type: JobEventType | "submitted" };
  phase: Phase;
}

/**
 * Events of one search for a GPU: waiting for capacity, trying again, taking an instance,
 * and a stopped one that would not start sending the job back to look further. Any other
 * event (admitted, a retry due, a requeue after an eviction) begins a search.
 */
const SEARCHING: ReadonlySet<string> = new Set<JobEventType>([
  "capacityWait",
  "capacityAvailable",
  "instanceClaimed",
  "instanceLaunched",
  "instanceStarted",
  "instanceStartFailed",
]);

/**
 * When the job first went QUEUED in its current search for a GPU, `events` in the order
 * they were recorded; undefined when it has not waited in this search. A retried attempt
 * or a requeue starts a new search, with a whole `waitRequestS` of its own.
 */
export const capacityWaitSince = (events: readonly TimedEvent[]): string | undefined => {
  let since: string | undefined;
  for (const recorded of [...events].reverse()) {
    if (!SEARCHING.has(recorded.event.type)) break;
    if (recorded.phase === "QUEUED") since = recorded.at;
  }
  return since;
};

/** Whether a wait for capacity that began at `since` has lasted `waitRequestS` by `now`. */
export const capacityWaitOver = (since: string, now: string, waitRequestS: number): boolean =>
  Date.parse(now) - Date.parse(since) >= waitRequestS * 1000;
