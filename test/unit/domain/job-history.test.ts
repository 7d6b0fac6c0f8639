import { describe, expect, it } from "vitest";
import { jobDialects } from "../../../lambdas/domain/dialects/index.ts";
import { submitJob } from "../../../lambdas/domain/job.ts";
import { jobHistory } from "../../../lambdas/domain/job-history.ts";

const submitted = submitJob({ id: "job-1", kind: "training", workers: 2 });

describe("jobHistory", () => {
  it("rebuilds what a phase alone does not tell: workers ready, and whether the job ran", () => {
    const history = jobHistory(submitted, [
      { event: { type: "submitted" }, phase: "SUBMITTED" },
      { event: { type: "admitted" }, phase: "REQUESTING_SERVER" },
      { event: { type: "instanceLaunched", instanceId: "i-1" }, phase: "CONNECTING_SERVER" },
      { event: { type: "agentRegistered", envCached: true }, phase: "CONNECTING_SERVER" },
      { event: { type: "cancelRequested" }, phase: "CANCELING" },
    ]);
    expect(history.map((job) => job.phase)).toEqual([
      "SUBMITTED",
      "REQUESTING_SERVER",
      "CONNECTING_SERVER",
      "CONNECTING_SERVER",
      "CANCELING",
    ]);
    expect(history[3]?.workersReady).toBe(1);
    expect(jobDialects(history[3] ?? submitted).runai.status).toBe("Init:1/2");
  });

  it("takes the stored phase and reason when the replay cannot follow an event", () => {
    const [state] = jobHistory(submitted, [
      { event: { type: "retryDue" }, phase: "FAILED", reason: "INSTANCE_VANISHED" },
    ]);
    expect(state).toMatchObject({ phase: "FAILED", reason: "INSTANCE_VANISHED", workersTotal: 2 });
  });
});
