import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { Workflows } from "../../../lambdas/ports.ts";
import type { Assignment } from "../../../lambdas/use-cases/agent-identity.ts";
import {
  type AgentStep,
  dispatchStep,
  reportStepFailure,
  reportStepSuccess,
} from "../../../lambdas/use-cases/agent-steps.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
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

describe("a step handed out as the job is canceled", () => {
  it("fails at once when the cancel came before its task token was there to end the wait", async () => {
    const id = "canceled-meanwhile";
    const commands = new MemoryCommandQueue();
    const base = stores.at(AT);
    // The cancel lands between the step's read of the job and its token's write: it finds
    // no token, so it cannot end the wait itself.
    const jobs = Object.create(base.jobs, {
      setTaskToken: {
        value: async (jobId: string, taskToken: string) => {
          await applyJobEvent(base, jobId, { type: "cancelRequested" });
          return base.jobs.setTaskToken(jobId, taskToken);
        },
      },
    });
    const cp = { ...base, jobs, commands } as unknown as ControlPlane;
    const job: Job = { ...newRecord({ id }).job, phase: "GEARING_UP_ENV", instanceId: "i-9" };
    await stores.jobs.submit({ record: newRecord({ id }, { job }) });
    await expect(
      dispatchStep(cp, { jobId: id, step: "gearUp", taskToken: `token-${id}` }),
    ).rejects.toThrow(`job ${id} ended while its workflow began to wait (CANCELING)`);
    expect(await commands.next("i-9", 0)).toBeUndefined();
  });
});

describe("a multi-node job's reports", () => {
  const RANKS = ["m-0", "m-1", "m-2"];
  /** A three-worker job on m-0 (the leader), m-1 and m-2, its agents given `step`. */
  const gearingUpSet = async (
    id: string,
    at: { phase: Job["phase"]; step: AgentStep } = { phase: "GEARING_UP_ENV", step: "gearUp" },
  ) => {
    const calls: Array<[string, string]> = [];
    const commands = new MemoryCommandQueue();
    const cp = {
      ...stores.at(AT),
      workflows: {
        sendTaskSuccess: async (token: string) => void calls.push(["success", token]),
        sendTaskFailure: async (token: string, error: string) => void calls.push([error, token]),
      },
      commands,
      compute: {
        serviceAddress: async (_id: string, port: number) => ({ host: "10.0.0.7", port }),
      },
      artifacts: { inputDownload: async () => "http://127.0.0.1/inputs/x" },
      settings: { agent: { secret: "secret" } },
    } as unknown as ControlPlane;
    const job: Job = {
      ...newRecord({ id, workers: 3 }).job,
      phase: at.phase,
      workersReady: 3,
      instanceId: "m-0",
      workerInstanceIds: ["m-1", "m-2"],
    };
    await stores.jobs.submit({ record: newRecord({ id }, { job }) });
    await dispatchStep(cp, { jobId: id, step: at.step, taskToken: `token-${id}` });
    const sent = await Promise.all(RANKS.map((rank) => commands.next(rank, 0)));
    return { cp, sent, calls, commands };
  };
  const sealedOf = (command: unknown) => (command as { taskToken: string }).taskToken;

  it("hands every rank the step with its rank, the world size and the leader's address", async () => {
    const { sent } = await gearingUpSet("set-dispatch");
    expect(sent.map((command) => (command as { job: unknown }).job)).toEqual(
      [0, 1, 2].map((rank) =>
        expect.objectContaining({ multiNode: { rank, worldSize: 3, leaderAddr: "10.0.0.7" } }),
      ),
    );
  });

  it("moves on once every rank reported, all at once and one twice", async () => {
    const { cp, sent, calls } = await gearingUpSet("set-race");
    const report = (rank: number) =>
      reportStepSuccess(cp, on(RANKS[rank] as string, "set-race"), sealedOf(sent[rank]), {});
    expect(await Promise.all([report(0), report(1), report(2), report(1)])).toEqual(
      Array(4).fill({ ok: true }),
    );
    expect((await stores.jobs.get("set-race"))?.job.phase).toBe("SENDING_MODEL_AND_DATA");
    const events = (await stores.jobs.events("set-race")).map((event) => event.event);
    expect(events.filter((event) => event.type === "envReady")).toHaveLength(3);
    // Told it once, or again for the repeated report once the step was over: a no-op then.
    expect(new Set(calls.map((call) => call.join(" ")))).toEqual(
      new Set(["success token-set-race"]),
    );
  });

  it("fails the attempt as an init failure when any worker's set-up fails", async () => {
    const { cp, sent, calls } = await gearingUpSet("set-fails");
    const failure = { error: "gpuctl.EnvFailed", cause: "exit 3" };
    expect(await reportStepFailure(cp, on("m-2", "set-fails"), sealedOf(sent[2]), failure)).toEqual(
      { ok: true },
    );
    expect((await stores.jobs.get("set-fails"))?.job).toMatchObject({
      phase: "RETRY_BACKOFF",
      reason: "INIT_FAILED",
    });
    expect(calls).toEqual([["gpuctl.EnvFailed", "token-set-fails"]]);
  });

  it("takes no report from an instance the job does not hold", async () => {
    const { cp, sent } = await gearingUpSet("set-stranger");
    expect(
      await reportStepSuccess(cp, on("m-9", "set-stranger"), sealedOf(sent[1]), {}),
    ).toMatchObject({ ok: false, error: "NOT_FOUND" });
  });

  it("ends the run with the leader's: a worker's clean exit waits for it, and the other ranks' runs are stopped", async () => {
    const { cp, sent, calls, commands } = await gearingUpSet("set-run", {
      phase: "TRAINING",
      step: "run",
    });
    const exited = (rank: number) =>
      reportStepSuccess(cp, on(RANKS[rank] as string, "set-run"), sealedOf(sent[rank]), {
        exitCode: 0,
      });
    expect(await exited(1)).toEqual({ ok: true });
    expect((await stores.jobs.get("set-run"))?.job.phase).toBe("TRAINING");
    expect(calls).toEqual([]);
    expect(await exited(0)).toEqual({ ok: true });
    expect((await stores.jobs.get("set-run"))?.job.phase).toBe("RETURNING");
    expect(calls).toEqual([["success", "token-set-run"]]);
    for (const worker of ["m-1", "m-2"])
      expect(await commands.next(worker, 0)).toEqual({ type: "abort", jobId: "set-run" });
    expect(await commands.next("m-0", 0)).toBeUndefined();
  });

  it("fails the attempt when a worker's run fails, and stops the leader's", async () => {
    const { cp, sent, commands } = await gearingUpSet("set-run-fails", {
      phase: "TRAINING",
      step: "run",
    });
    const report = { exitCode: 3 };
    expect(
      await reportStepSuccess(cp, on("m-2", "set-run-fails"), sealedOf(sent[2]), report),
    ).toEqual({ ok: true });
    expect((await stores.jobs.get("set-run-fails"))?.job).toMatchObject({
      phase: "RETRY_BACKOFF",
      exitCode: 3,
    });
    expect(await commands.next("m-0", 0)).toEqual({ type: "abort", jobId: "set-run-fails" });
  });
});
