import { describe, expect, it } from "vitest";
import {
  endPeriod,
  startPeriod,
  type Timeline,
  timelinePeriods,
} from "../../../lambdas/domain/timeline.ts";

const ok = (result: ReturnType<typeof startPeriod>): Timeline => {
  if (!result.ok) throw new Error(result.message);
  return result.timeline;
};

describe("the timeline", () => {
  it("turns timestamps into durations in AIbro's order, open periods measured to now", () => {
    let timeline: Timeline = {};
    timeline = ok(startPeriod(timeline, "Model Training", "2026-01-01T00:01:00Z", { spot: false }));
    timeline = ok(startPeriod(timeline, "Job Create", "2026-01-01T00:00:00Z", { spot: false }));
    timeline = ok(endPeriod(timeline, "Job Create", "2026-01-01T00:00:02.500Z"));
    expect(timelinePeriods(timeline, "2026-01-01T00:02:30Z")).toEqual([
      {
        phase: "Job Create",
        startedAt: "2026-01-01T00:00:00Z",
        endedAt: "2026-01-01T00:00:02.500Z",
        seconds: 2.5,
      },
      { phase: "Model Training", startedAt: "2026-01-01T00:01:00Z", seconds: 90 },
    ]);
  });

  it("has a Request Launch period for spot requests only", () => {
    expect(startPeriod({}, "Request Launch", "2026-01-01T00:00:00Z", { spot: false })).toEqual({
      ok: false,
      message: "Request Launch applies to spot instances only",
    });
    expect(startPeriod({}, "Request Launch", "2026-01-01T00:00:00Z", { spot: true }).ok).toBe(true);
  });

  it("refuses to end a period that never started, twice, or before it started", () => {
    const started = ok(startPeriod({}, "Env Gear up", "2026-01-01T00:00:10Z", { spot: false }));
    expect(endPeriod({}, "Env Gear up", "2026-01-01T00:00:10Z").ok).toBe(false);
    expect(endPeriod(started, "Env Gear up", "2026-01-01T00:00:09Z").ok).toBe(false);
    const ended = ok(endPeriod(started, "Env Gear up", "2026-01-01T00:00:11Z"));
    expect(endPeriod(ended, "Env Gear up", "2026-01-01T00:00:12Z").ok).toBe(false);
    expect(startPeriod({}, "Env Gear up", "yesterday", { spot: false }).ok).toBe(false);
  });
});
