import { describe, expect, it } from "vitest";
import { LATE_LOGS_MS, resultWritable } from "../../../lambdas/domain/results.ts";

const ENDED = "2026-01-01T00:00:00.000Z";
const later = (ms: number) => new Date(Date.parse(ENDED) + ms).toISOString();

describe("a job's results", () => {
  it("may be written, and written again, while the job runs", () => {
    const running = { phase: "TRAINING", endedAt: ENDED } as const;
    expect(resultWritable(running, "results/model.json", later(0))).toBe(true);
  });

  it("stay as they are once the job ended, but for its log files soon after", () => {
    const ended = { phase: "CANCELED", endedAt: ENDED } as const;
    const at = later(LATE_LOGS_MS - 1);
    expect(resultWritable(ended, "logs/stderr.log", at)).toBe(true);
    expect(resultWritable(ended, "results/model.json", at)).toBe(false);
    const late = later(LATE_LOGS_MS + 1);
    expect(resultWritable(ended, "logs/stderr.log", late)).toBe(false);
  });
});
