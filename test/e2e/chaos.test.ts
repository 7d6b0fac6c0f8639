/**
 * The chaos campaign with a small seed against the real local control plane, and its
 * checker shown to count what it must: a campaign that checks nothing would pass too.
 */
import { describe, expect, it } from "vitest";
import { launchInstance } from "../../lambdas/domain/instance.ts";
import { type Job, submitJob } from "../../lambdas/domain/job.ts";
import { checkRun, clean, summaryCounts } from "../../scripts/chaos/invariants.ts";
import { runChaos } from "../../scripts/chaos.ts";

const NOW = "2026-03-01T12:00:00.000Z";
const pool = { instanceType: "local", envHash: "env", region: "local", owner: "ada" };
const job = (id: string, fields: Partial<Job>): Job => ({
  ...submitJob({ id, kind: "training" }),
  ...fields,
});
const running = (instanceId: string) => ({
  instanceId,
  providerId: `p-${instanceId}`,
  state: "running" as const,
  launchedAt: "2026-03-01T11:00:00.000Z",
});

describe("the chaos campaign", () => {
  it("loses no job and leaves no instance orphaned or held twice under a small seed", async () => {
    const lines: string[] = [];
    const result = await runChaos({
      seed: 3,
      jobs: 3,
      faults: 4,
      settleMs: 40_000,
      log: (line) => lines.push(line),
    });
    const struck = result.faults.filter((fault) => "struck" in fault).length;
    expect(struck, lines.join("\n")).toBeGreaterThan(0);
    expect(result.summary, lines.join("\n")).toMatch(
      new RegExp(`jobs=3 faults=${struck} lost=0 orphans=0 double_assigned=0$`),
    );
    // A fault the build cannot inject says why, rather than vanish from the count.
    for (const fault of result.faults) {
      if ("skipped" in fault) expect(fault.skipped).not.toBe("");
    }
  }, 120_000);

  it("counts a double assignment, an orphan and a lost job when a run has them", () => {
    const violations = checkRun({
      jobs: [
        job("a", { phase: "TRAINING", instanceId: "gi-shared" }),
        job("b", { phase: "GEARING_UP_ENV", instanceId: "gi-shared" }),
        job("c", { phase: "RETRY_BACKOFF" }),
        job("d", { phase: "COMPLETED", instanceId: "gi-done" }),
      ],
      instances: [
        launchInstance({
          id: "gi-shared",
          providerId: "p-gi-shared",
          pool,
          spot: false,
          jobId: "a",
        }),
        // Its job ended: nothing will free it.
        launchInstance({ id: "gi-done", providerId: "p-gi-done", pool, spot: false, jobId: "d" }),
        {
          ...launchInstance({ id: "gi-cold", pool, spot: false, jobId: "x" }),
          status: "COOLING",
          coolingUntil: "2026-03-01T11:30:00.000Z",
          stoppedUntil: "2026-03-01T11:40:00.000Z",
        },
      ],
      compute: [
        running("gi-shared"),
        running("gi-done"),
        running("gi-cold"),
        running("gi-unknown"),
      ],
      driven: () => false,
      now: NOW,
      graceS: 0,
    });
    expect(violations).toEqual({
      lost: ["a", "b", "c"],
      orphans: ["gi-done", "gi-cold", "gi-unknown"],
      doubleAssigned: ["gi-shared"],
    });
    expect(summaryCounts(violations)).toBe("lost=3 orphans=3 double_assigned=1");
    expect(clean(violations)).toBe(false);
  });

  it("counts an instance whose record serves another job than the one holding it", () => {
    const violations = checkRun({
      jobs: [job("a", { phase: "TRAINING", instanceId: "gi-1" })],
      instances: [launchInstance({ id: "gi-1", pool, spot: false, jobId: "b" })],
      compute: [],
      driven: () => true,
      now: NOW,
      graceS: 0,
    });
    expect(violations.doubleAssigned).toEqual(["gi-1"]);
  });
});
