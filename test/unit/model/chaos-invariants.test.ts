/** The chaos campaign's invariants on a multi-node job: every rank's instance has its purpose. */
import { describe, expect, it } from "vitest";
import { launchInstance } from "../../../lambdas/domain/instance.ts";
import { submitJob } from "../../../lambdas/domain/job.ts";
import { checkRun } from "../../../scripts/chaos/invariants.ts";
import { runInstance } from "../../fixtures/instances.ts";

const NOW = "2026-01-01T01:00:00.000Z";
const pool = { instanceType: "g5.xlarge", envHash: "sha256:env", region: "local", owner: "ada" };

const working = (id: string, jobId: string) =>
  runInstance(launchInstance({ id, providerId: `i-${id}`, pool, spot: false, jobId }), {
    type: "agentRegistered",
  });

describe("the chaos campaign's invariants", () => {
  it("take a multi-node job's worker instance as held by it: no orphan, not held twice", () => {
    const job = {
      ...submitJob({ id: "mpi", kind: "training", workers: 2 }),
      phase: "TRAINING" as const,
      instanceId: "gi-leader",
      workerInstanceIds: ["gi-worker"],
    };
    const other = working("gi-stray", "mpi");
    const violations = checkRun({
      jobs: [job],
      instances: [working("gi-leader", "mpi"), working("gi-worker", "mpi"), other],
      compute: ["gi-leader", "gi-worker", "gi-stray"].map((instanceId) => ({
        instanceId,
        providerId: `i-${instanceId}`,
        state: "running" as const,
        launchedAt: "2026-01-01T00:00:00.000Z",
      })),
      driven: () => true,
      now: NOW,
      graceS: 60,
    });
    expect(violations).toEqual({ lost: [], orphans: ["gi-stray"], doubleAssigned: [] });
  });
});
