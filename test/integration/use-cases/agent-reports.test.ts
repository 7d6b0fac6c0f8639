import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { Workflows } from "../../../lambdas/ports.ts";
import type { Assignment } from "../../../lambdas/use-cases/agent-identity.ts";
import {
  dispatchStep,
  reportStepFailure,
  reportStepSuccess,
} from "../../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores, newRecord } from "../stores.ts";

const AT = "2026-01-01T00:00:00.000Z";

/** Step Functions as the reports see it: every call recorded, the first success lost in transit. */
const flakyWorkflows = () => {
  const calls: Array<[string, string]> = [];
  let failNext = true;
  const workflows: Pick<Workflows, "sendTaskSuccess" | "sendTaskFailure"> = {
    sendTaskSuccess: async (token) => {
      calls.push(["success", token]);
      if (failNext) {
        failNext = false;
        throw new Error("connection reset");
      }
    },
    sendTaskFailure: async (token, error) => void calls.push([error, token]),
  };
  return { workflows, calls };
};

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/** A control plane over the run's DynamoDB Local, with a job whose agent is gearing up its env. */
const gearingUp = async (id: string) => {
  const flaky = flakyWorkflows();
  const commands = new MemoryCommandQueue();
  const cp = {
    ...stores.at(AT),
    workflows: flaky.workflows,
    commands,
    artifacts: {
      inputDownload: async (_owner: string, sha256: string) => `http://127.0.0.1/inputs/${sha256}`,
    },
    settings: { agent: { secret: "secret" } },
  } as unknown as ControlPlane;
  const job: Job = { ...newRecord({ id }).job, phase: "GEARING_UP_ENV", instanceId: "i-1" };
  await stores.jobs.submit({ record: newRecord({ id }, { job }) });
  await dispatchStep(cp, { jobId: id, step: "gearUp", taskToken: `token-${id}` });
  const command = await commands.next("i-1", 0);
  if (command?.type !== "gearUp") throw new Error("no gear-up command");
  return { cp, sealed: command.taskToken, ...flaky };
};

/** The assignment of the job's first attempt on an instance. */
const on = (instanceId: string, jobId: string): Assignment => ({
  instanceId,
  jobId,
  attempt: 1,
  requeues: 0,
});

describe("agent reports", () => {
  it("tells the workflow again when a report is repeated after the workflow missed it", async () => {
    const { cp, sealed, calls } = await gearingUp("repeat");
    await expect(reportStepSuccess(cp, on("i-1", "repeat"), sealed, {})).rejects.toThrow(
      "connection reset",
    );
    expect(await reportStepSuccess(cp, on("i-1", "repeat"), sealed, {})).toEqual({ ok: true });
    expect(calls).toEqual([
      ["success", "token-repeat"],
      ["success", "token-repeat"],
    ]);
    const events = await stores.jobs.events("repeat");
    expect(events.map((event) => event.event.type)).toEqual(["submitted", "envReady"]);
  });

  it("ends the workflow's wait when the job moved on while its agent worked", async () => {
    const { cp, sealed, calls } = await gearingUp("moved");
    const record = await stores.jobs.get("moved");
    if (!record) throw new Error("no job");
    const canceled = {
      ...record.job,
      phase: "CANCELING" as const,
      version: record.job.version + 1,
    };
    await stores.jobs.apply({
      before: record,
      after: canceled,
      event: { type: "cancelRequested" },
      at: AT,
    });
    expect(await reportStepSuccess(cp, on("i-1", "moved"), sealed, {})).toMatchObject({
      ok: false,
      error: "REFUSED",
    });
    const failure = { error: "gpuctl.EnvFailed", cause: "exit 1" };
    expect(await reportStepFailure(cp, on("i-1", "moved"), sealed, failure)).toEqual({ ok: true });
    expect(calls).toEqual([
      ["gpuctl.JobEnded", "token-moved"],
      ["gpuctl.EnvFailed", "token-moved"],
    ]);
    expect((await stores.jobs.get("moved"))?.job.phase).toBe("CANCELING");
  });

  it("keeps the workflow waiting on a preempted job's step until its instance is gone", async () => {
    const { cp, sealed, calls } = await gearingUp("preempted");
    const record = await stores.jobs.get("preempted");
    if (!record) throw new Error("no job");
    await stores.jobs.apply({
      before: record,
      after: { ...record.job, phase: "PREEMPTING", version: record.job.version + 1 },
      event: { type: "spotInterruptionNotice" },
      at: AT,
    });
    expect(await reportStepSuccess(cp, on("i-1", "preempted"), sealed, {})).toMatchObject({
      ok: false,
      error: "REFUSED",
    });
    const failure = { error: "gpuctl.EnvFailed", cause: "killed" };
    expect(await reportStepFailure(cp, on("i-1", "preempted"), sealed, failure)).toEqual({
      ok: true,
    });
    expect(calls).toEqual([]);
    expect((await stores.jobs.get("preempted"))?.job.phase).toBe("PREEMPTING");
  });

  it("takes a report only with the assignment of the job's current attempt on its instance", async () => {
    const { cp, sealed, calls } = await gearingUp("elsewhere");
    for (const assignment of [
      on("i-2", "elsewhere"),
      on("i-1", "another-job"),
      { ...on("i-1", "elsewhere"), attempt: 2 },
      { ...on("i-1", "elsewhere"), requeues: 1 },
    ]) {
      expect(await reportStepSuccess(cp, assignment, sealed, {})).toMatchObject({
        ok: false,
        error: "NOT_FOUND",
      });
    }
    expect(calls).toEqual([]);
    expect((await stores.jobs.get("elsewhere"))?.job.phase).toBe("GEARING_UP_ENV");
  });

  it("refuses to hand a step to a job that is no longer in it", async () => {
    const { cp } = await gearingUp("late");
    await expect(
      dispatchStep(cp, { jobId: "late", step: "run", taskToken: "token-late-run" }),
    ).rejects.toThrow("job late is not waiting for run");
  });
});
