import { describe, expect, it } from "vitest";
import {
  capacityWaitOver,
  capacityWaitSince,
  type TimedEvent,
} from "../../../lambdas/domain/capacity-wait.ts";
import type { Phase } from "../../../lambdas/domain/phases.ts";
import type { JobEventType } from "../../../lambdas/domain/transitions.ts";

/** Events one minute apart, from 00:00, each `[type, phase it landed in]`. */
const history = (...steps: Array<[JobEventType | "submitted", Phase]>): TimedEvent[] =>
  steps.map(([type, phase], minute) => ({
    at: `2026-01-01T00:${String(minute).padStart(2, "0")}:00.000Z`,
    event: { type },
    phase,
  }));

const SEARCH_STARTED = history(["submitted", "SUBMITTED"], ["admitted", "REQUESTING_SERVER"]);

describe("the wait for capacity", () => {
  it("has not begun while the job never went QUEUED in this search", () => {
    expect(capacityWaitSince(SEARCH_STARTED)).toBeUndefined();
    expect(capacityWaitSince([])).toBeUndefined();
  });

  it("began when the job first went QUEUED, however often it tried again since", () => {
    const events = history(
      ["submitted", "SUBMITTED"],
      ["admitted", "REQUESTING_SERVER"],
      ["capacityWait", "QUEUED"],
      ["capacityAvailable", "REQUESTING_SERVER"],
      // A stopped instance that would not start is part of the same search.
      ["instanceStarted", "CONNECTING_SERVER"],
      ["instanceStartFailed", "REQUESTING_SERVER"],
      ["capacityWait", "QUEUED"],
      ["capacityAvailable", "REQUESTING_SERVER"],
    );
    expect(capacityWaitSince(events)).toBe("2026-01-01T00:02:00.000Z");
  });

  it("starts again with a retried attempt or a requeue: an earlier wait does not count", () => {
    const waited = history(
      ["submitted", "SUBMITTED"],
      ["admitted", "REQUESTING_SERVER"],
      ["capacityWait", "QUEUED"],
      ["capacityAvailable", "REQUESTING_SERVER"],
      ["instanceLaunched", "CONNECTING_SERVER"],
      ["agentRegistered", "GEARING_UP_ENV"],
      ["failed", "RETRY_BACKOFF"],
      ["retryDue", "REQUESTING_SERVER"],
    );
    expect(capacityWaitSince(waited)).toBeUndefined();
    const queuedAgain = [...waited, ...history(["capacityWait", "QUEUED"])].map((event, n) => ({
      ...event,
      at: `2026-01-01T01:${String(n).padStart(2, "0")}:00.000Z`,
    }));
    expect(capacityWaitSince(queuedAgain)).toBe("2026-01-01T01:08:00.000Z");
  });

  it("counts a job queued at submission from then", () => {
    const events = history(["submitted", "SUBMITTED"], ["capacityWait", "QUEUED"]);
    expect(capacityWaitSince(events)).toBe("2026-01-01T00:01:00.000Z");
  });

  it("is over once waitRequestS has passed, and at once for a wait of 0 s", () => {
    const since = "2026-01-01T00:00:00.000Z";
    expect(capacityWaitOver(since, "2026-01-01T00:00:59.999Z", 60)).toBe(false);
    expect(capacityWaitOver(since, "2026-01-01T00:01:00.000Z", 60)).toBe(true);
    expect(capacityWaitOver(since, since, 0)).toBe(true);
  });
});
