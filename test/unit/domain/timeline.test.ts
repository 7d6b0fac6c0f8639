import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  endPeriod,
  jobCreateStart,
  startPeriod,
  TIMELINE_PHASES,
  type Timeline,
  timelinePeriods,
} from "../../../lambdas/domain/timeline.ts";

const ok = (result: ReturnType<typeof startPeriod>): Timeline => {
  if (!result.ok) throw new Error(result.message);
  return result.timeline;
};

describe("the timeline", () => {
  it("turns timestamps into durations in AIbro's order, the open period measured to now", () => {
    let timeline: Timeline = {};
    timeline = ok(startPeriod(timeline, "Model Training", "2026-01-01T00:01:00Z", { spot: false }));
    timeline = ok(startPeriod(timeline, "Job Create", "2026-01-01T00:00:00Z", { spot: false }));
    timeline = ok(endPeriod(timeline, "Job Create", "2026-01-01T00:00:02.500Z"));
    expect(timelinePeriods(timeline, "2026-01-01T00:02:30Z")).toEqual([
      {
        phase: "Job Create",
        startedAt: "2026-01-01T00:00:00.000Z",
        endedAt: "2026-01-01T00:00:02.500Z",
        seconds: 2.5,
      },
      // The time between the two belongs to the later period: the job is on its way to training.
      { phase: "Model Training", startedAt: "2026-01-01T00:00:02.500Z", seconds: 147.5 },
    ]);
  });

  it("closes the open period when the job ends, so a LOST job's timeline stops counting", () => {
    const timeline: Timeline = {
      "Job Create": { startedAt: "2026-01-01T00:00:00Z", endedAt: "2026-01-01T00:00:01Z" },
      "Model Training": { startedAt: "2026-01-01T00:00:05Z" },
    };
    const later = (now: string) => timelinePeriods(timeline, now, "2026-01-01T00:00:42Z").at(-1);
    expect(later("2026-01-01T00:05:00Z")).toEqual(later("2026-01-01T09:00:00Z"));
    expect(later("2026-01-01T00:05:00Z")).toMatchObject({
      endedAt: "2026-01-01T00:00:42.000Z",
      seconds: 41,
    });
  });

  it("tiles the job's life with no gap and no overlap, whatever was recorded", () => {
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();
    const times = fc.uniqueArray(fc.integer({ min: 0, max: 3600 }), {
      minLength: 1,
      maxLength: 22,
    });
    fc.assert(
      fc.property(times, fc.boolean(), fc.boolean(), (seconds, ended, shuffle) => {
        // Periods with starts and ends in any order, some overlapping, some open.
        const timeline: Timeline = {};
        TIMELINE_PHASES.forEach((phase, index) => {
          const start = seconds[index % seconds.length] as number;
          const end = seconds[(index * 7 + 3) % seconds.length] as number;
          if (index < seconds.length)
            timeline[phase] = {
              startedAt: at(shuffle ? end : start),
              ...(index % 3 ? { endedAt: at(Math.max(start, end)) } : {}),
            };
        });
        const periods = timelinePeriods(timeline, at(4000), ended ? at(3800) : undefined);
        const first = periods[0];
        for (const [index, period] of periods.entries()) {
          expect(period.seconds).toBeGreaterThanOrEqual(0);
          const next = periods[index + 1];
          if (next) expect(next.startedAt).toBe(period.endedAt);
          else if (ended) expect(period.endedAt).toBeDefined();
        }
        const total = periods.reduce((sum, period) => sum + period.seconds, 0);
        const last = periods.at(-1);
        const span =
          (Date.parse(last?.endedAt ?? at(4000)) - Date.parse(first?.startedAt ?? "")) / 1000;
        expect(total).toBeCloseTo(span, 6);
      }),
    );
  });

  it("starts Job Create when the client began preparing the job, within a day, never later than its record", () => {
    const recorded = "2026-01-01T12:00:00.000Z";
    expect(jobCreateStart(undefined, recorded)).toEqual({ ok: true, at: recorded });
    expect(jobCreateStart("2026-01-01T11:59:57.500Z", recorded)).toEqual({
      ok: true,
      at: "2026-01-01T11:59:57.500Z",
    });
    // A client clock a little ahead.
    expect(jobCreateStart("2026-01-01T12:00:01Z", recorded)).toEqual({ ok: true, at: recorded });
    for (const bad of ["not a date", "1767268800", "2025-12-31T11:59:00Z", ""]) {
      expect(jobCreateStart(bad, recorded).ok).toBe(false);
    }
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
