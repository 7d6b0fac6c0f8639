/**
 * Who may review, cancel or complete a job is the use cases' rule, whatever calls them: an
 * entry point other than the API gets the same answers, on DynamoDB Local.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Caller, Role } from "../../../lambdas/domain/identity.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { cancelJob, completeJob, reviewJob } from "../../../lambdas/use-cases/finish-job.ts";
import { freshStores, newRecord } from "../stores.ts";

const NOW = "2026-01-01T00:10:00.000Z";
let stores: Awaited<ReturnType<typeof freshStores>>;
let cp: ControlPlane;

beforeAll(async () => {
  stores = await freshStores();
  cp = {
    ...stores.at(NOW),
    commands: new MemoryCommandQueue(),
    workflows: { sendTaskSuccess: async () => {}, sendTaskFailure: async () => {} },
  } as unknown as ControlPlane;
});

const as = (userId: string, role: Role): Caller => ({ userId, email: `${userId}@x.org`, role });
const ada = as("ada", "user");

let jobs = 0;
const adasJob = async (awaitingReview: boolean, kind: "training" | "inference" = "training") => {
  const id = `job-rules-${++jobs}`;
  await stores.jobs.submit({ record: newRecord({ id, kind }, { owner: ada.userId }) });
  if (awaitingReview) await applyJobEvent(cp, id, { type: "reviewRequested" });
  return id;
};

describe("reviewing", () => {
  it("refuses the owner naming the rule, whatever the job's phase", async () => {
    for (const awaiting of [true, false])
      expect(await reviewJob(cp, await adasJob(awaiting), "approve", ada)).toMatchObject({
        error: "FORBIDDEN",
        message: expect.stringContaining("owner of a job cannot review it"),
      });
  });

  it("answers a job not awaiting review as one that does not exist, to reviewers too", async () => {
    const id = await adasJob(false);
    for (const role of ["user", "reviewer", "admin"] as const)
      expect(await reviewJob(cp, id, "approve", as("rita", role))).toEqual({
        ok: false,
        error: "NOT_FOUND",
        message: `job ${id} not found`,
      });
    expect((await stores.jobs.get(id))?.job.phase).toBe("SUBMITTED");
  });

  it("lets a reviewer decide while the job awaits review, named in its events", async () => {
    const id = await adasJob(true);
    expect(await reviewJob(cp, id, "approve", as("rita", "reviewer"))).toMatchObject({ ok: true });
    expect((await stores.jobs.events(id)).at(-1)?.by).toEqual({
      userId: "rita",
      email: "rita@x.org",
    });
  });
});

describe("stopping", () => {
  it.each([
    ["cancel", cancelJob],
    ["complete", completeJob],
  ] as const)("%s: its owner and an admin may; the others find no such job", async (_, stop) => {
    // A deployment, the job that runs until someone completes it.
    const job = () => adasJob(false, "inference");
    for (const role of ["user", "reviewer"] as const) {
      const id = await job();
      expect(await stop(cp, id, as("rita", role))).toMatchObject({ error: "NOT_FOUND" });
    }
    expect(await stop(cp, await job(), ada)).toMatchObject({ ok: true });
    const id = await job();
    expect(await stop(cp, id, as("root", "admin"))).toMatchObject({ ok: true });
    expect((await stores.jobs.events(id)).at(-1)?.by).toMatchObject({ userId: "root" });
  });
});
