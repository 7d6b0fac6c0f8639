import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startPeriodicReaper } from "../../../lambdas/adapters/local/periodic-reaper.ts";
import type { ReapReport } from "../../../lambdas/use-cases/reap.ts";

const REPORT: ReapReport = {
  done: {},
  failed: [],
  orphans: [],
  canceled: [],
  deleteFailed: [],
  stuckJobs: [],
};

/** A reaper whose runs end only when the test says, counting how many run at once. */
const controlledRuns = () => {
  const pending: Array<(outcome: Error | undefined) => void> = [];
  let running = 0;
  let most = 0;
  let started = 0;
  const reap = () =>
    new Promise<ReapReport>((resolve, reject) => {
      started += 1;
      running += 1;
      most = Math.max(most, running);
      pending.push((error) => {
        running -= 1;
        if (error) reject(error);
        else resolve(REPORT);
      });
    });
  const endNext = async (error?: Error) => {
    pending.shift()?.(error);
    await vi.advanceTimersByTimeAsync(0);
  };
  return { reap, endNext, stats: () => ({ started, most, waiting: pending.length }) };
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("the local reaper's schedule", () => {
  it("runs every interval, never two runs at once, however long one takes", async () => {
    const runs = controlledRuns();
    const reaper = startPeriodicReaper({
      intervalMs: 1000,
      reap: runs.reap,
      onReport: () => {},
      onFailure: () => {},
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs.stats()).toEqual({ started: 1, most: 1, waiting: 1 });
    // A slow run: the next waits for it, and a run asked for meanwhile queues behind it.
    await vi.advanceTimersByTimeAsync(5000);
    const asked = reaper.reapNow();
    expect(runs.stats().started).toBe(1);
    await runs.endNext();
    expect(runs.stats()).toEqual({ started: 2, most: 1, waiting: 1 });
    await runs.endNext();
    await expect(asked).resolves.toEqual(REPORT);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs.stats()).toMatchObject({ started: 3, most: 1 });
    await runs.endNext();
    await reaper.stop();
  });

  it("hands a failed run to onFailure and keeps its schedule", async () => {
    const runs = controlledRuns();
    const failures: unknown[] = [];
    const reaper = startPeriodicReaper({
      intervalMs: 1000,
      reap: runs.reap,
      onReport: () => {},
      onFailure: (error) => void failures.push(error),
    });
    await vi.advanceTimersByTimeAsync(1000);
    await runs.endNext(new Error("the compute did not answer"));
    expect(failures).toEqual([new Error("the compute did not answer")]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs.stats().started).toBe(2);
    await runs.endNext();
    await reaper.stop();
  });

  it("starts no run once stopped, and stop waits for the run in flight", async () => {
    const runs = controlledRuns();
    const reports: ReapReport[] = [];
    const reaper = startPeriodicReaper({
      intervalMs: 1000,
      reap: runs.reap,
      onReport: (report) => void reports.push(report),
      onFailure: () => {},
    });
    await vi.advanceTimersByTimeAsync(1000);
    let stopped = false;
    const stopping = reaper.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    await runs.endNext();
    await stopping;
    expect(reports).toEqual([REPORT]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(runs.stats().started).toBe(1);
  });

  it("with no interval, runs only when asked", async () => {
    const runs = controlledRuns();
    const reaper = startPeriodicReaper({
      intervalMs: 0,
      reap: runs.reap,
      onReport: () => {},
      onFailure: () => {},
    });
    await vi.advanceTimersByTimeAsync(600_000);
    expect(runs.stats().started).toBe(0);
    const asked = reaper.reapNow();
    await vi.advanceTimersByTimeAsync(0);
    await runs.endNext();
    await expect(asked).resolves.toEqual(REPORT);
    await reaper.stop();
  });
});
