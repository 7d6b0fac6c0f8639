import { beforeAll, describe, expect, it } from "vitest";
import { LocalWorkflows } from "../../../lambdas/adapters/local/local-workflows.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Job } from "../../../lambdas/domain/job.ts";
import type { Assignment } from "../../../lambdas/use-cases/agent-identity.ts";
import {
  dispatchStep,
  reportStepFailure,
  reportStepSuccess,
} from "../../../lambdas/use-cases/agent-steps.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores, newRecord } from "../stores.ts";
import { fixture, stopAfterEach } from "../workflows/harness.ts";

const track = stopAfterEach();
let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/**
 * A job gearing up its env whose workflow (the callback fixture) waits on the agent's report,
 * on the local runner, which holds each state's data to Step Functions' 256 KiB.
 */
const gearingUp = async (id: string) => {
  const commands = new MemoryCommandQueue();
  const cp = {
    ...stores.at("2026-01-01T00:00:00.000Z"),
    commands,
    artifacts: {
      inputDownload: async (_owner: string, sha256: string) => `http://127.0.0.1/inputs/${sha256}`,
    },
    settings: { agent: { secret: "secret" } },
  } as unknown as ControlPlane;
  const workflows = track(
    new LocalWorkflows({
      definitions: { "job-lifecycle": fixture("callback") },
      substitutions: {},
      handlers: {
        "Run the job": (input: { jobId: string }, { taskToken = "" }) =>
          dispatchStep(cp, { jobId: input.jobId, step: "gearUp", taskToken }),
      },
      warn: () => {},
    }),
  );
  cp.workflows = workflows;
  const job: Job = { ...newRecord({ id }).job, phase: "GEARING_UP_ENV", instanceId: "i-1" };
  await stores.jobs.submit({ record: newRecord({ id }, { job }) });
  const { executionId } = await workflows.start("job-lifecycle", id, { jobId: id });
  const command = await commands.next("i-1", 30);
  if (command?.type !== "gearUp") throw new Error("no gear-up command");
  const assignment: Assignment = { instanceId: "i-1", jobId: id, attempt: 1, requeues: 0 };
  return { cp, workflows, sealed: command.taskToken, executionId, assignment };
};

const FILES = Array.from(
  { length: 5000 },
  (_, n) => `results/predictions/sample-${String(n).padStart(5, "0")}-of-05000.json`,
);

describe("what an agent's report hands its workflow", () => {
  it.each([
    {
      what: "5,000 result files",
      output: { files: FILES, missing: ["checkpoints"] },
      expected: {
        files: FILES.slice(0, 20),
        filesCount: 5000,
        missing: ["checkpoints"],
        missingCount: 1,
      },
    },
    {
      what: "a long text",
      output: { note: "x".repeat(300_000) },
      expected: { note: `${"x".repeat(2000)}… (300000 characters)` },
    },
    {
      what: "a nested object",
      output: { nested: { deep: "y".repeat(300_000) } },
      expected: { nested: expect.stringMatching(/^\{"deep":"y+… \(300011 characters\)$/) },
    },
    {
      what: "20,000 small fields",
      output: Object.fromEntries(Array.from({ length: 20_000 }, (_, n) => [`f${n}`, n])),
      expected: { reportBytes: expect.any(Number) },
    },
  ])("bounds $what, and the workflow goes on", async ({ output, expected }) => {
    const { cp, workflows, sealed, executionId, assignment } = await gearingUp(
      `job-${Math.random()}`.replace(".", ""),
    );

    expect(await reportStepSuccess(cp, assignment, sealed, output)).toEqual({ ok: true });

    const end = await workflows.whenDone(executionId);
    expect(end.status).toBe("SUCCEEDED");
    expect((end.output as { run: unknown }).run).toEqual({
      ...expected,
      phase: "SENDING_MODEL_AND_DATA",
    });
  });

  it("bounds the cause of a failure", async () => {
    const { cp, workflows, sealed, executionId, assignment } = await gearingUp("job-failing");
    const cause = `pip: ${"e".repeat(400_000)}`;

    await reportStepFailure(cp, assignment, sealed, { error: "gpuctl.EnvFailed", cause });

    const end = await workflows.whenDone(executionId);
    expect(end).toMatchObject({ status: "FAILED", error: "gpuctl.EnvFailed" });
    expect(end.cause).toBe(`${cause.slice(0, 2000)}… (${cause.length} characters)`);
  });
});
