import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  LocalWorkflows,
  type LocalWorkflowsOptions,
  type TaskHandler,
} from "../../../lambdas/adapters/local/local-workflows.ts";
import { ExecutionAlreadyExists } from "../../../lambdas/ports.ts";
import { agent, fixture, rejection, stopAfterEach } from "./harness.ts";

const track = stopAfterEach();
const folder = await mkdtemp(join(tmpdir(), "gpuctl-workflows-"));
afterAll(() => rm(folder, { recursive: true, force: true }));

/** One fixture machine, run as "job-lifecycle", its warnings kept. */
const workflowsFor = (
  name: string,
  handlers: Record<string, TaskHandler>,
  options: Partial<LocalWorkflowsOptions> = {},
) => {
  const warnings: string[] = [];
  const workflows = new LocalWorkflows({
    definitions: { "job-lifecycle": fixture(name) },
    substitutions: {},
    handlers,
    warn: (message) => warnings.push(message),
    retryIntervalOverrides: () => 0,
    ...options,
  });
  track(workflows);
  return Object.assign(workflows, { warnings });
};

const KIB = 1024;
/** A string of `bytes` UTF-8 bytes in half as many characters. */
const twoByteChars = (bytes: number) => "é".repeat(bytes / 2);

describe("LocalWorkflows refuses what Step Functions refuses", () => {
  describe("StartExecution with a name used before", () => {
    const cases: Array<{
      when: string;
      /** Brings the first execution to the state the second start finds it in. */
      settle: (workflows: LocalWorkflows, taskToken: string, executionId: string) => Promise<void>;
      input: Record<string, unknown>;
    }> = [
      { when: "it runs with other input", settle: async () => {}, input: { jobId: "job-2" } },
      {
        when: "it succeeded",
        settle: async (workflows, taskToken, executionId) => {
          await workflows.sendTaskSuccess(taskToken, {});
          await workflows.whenDone(executionId);
        },
        input: { jobId: "job-1" },
      },
      {
        when: "it failed",
        settle: async (workflows, taskToken, executionId) => {
          await workflows.sendTaskFailure(taskToken, "gpuctl.Crashed", "exit 137");
          await workflows.whenDone(executionId);
        },
        input: { jobId: "job-1" },
      },
      {
        when: "it was aborted",
        settle: (workflows) => workflows.stopAll(),
        input: { jobId: "job-1" },
      },
    ];
    it.each(cases)("fails with ExecutionAlreadyExists when $when", async ({ settle, input }) => {
      const dispatch = agent();
      const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      await settle(workflows, (await dispatch.call(0)).taskToken, executionId);

      const refused = await rejection(workflows.start("job-lifecycle", "job-1", input));

      expect(refused).toBeInstanceOf(ExecutionAlreadyExists);
      expect(refused).toMatchObject({ name: "ExecutionAlreadyExists", executionId });
      expect(workflows.executions()).toHaveLength(1);
      expect(dispatch.calls).toHaveLength(1);
    });
  });

  it.each([
    ["empty", "", "InvalidName"],
    ["81 characters", "j".repeat(81), "InvalidName"],
    ["white space", "job 1", "InvalidName"],
    ["a colon, as in an ISO time", "job-2026-01-01T00:00:00Z", "InvalidName"],
    ["a slash", "job/1", "InvalidName"],
    ["a control character", "job\u0001", "InvalidName"],
  ])("refuses an execution name that is %s", async (_, name, error) => {
    const workflows = workflowsFor("callback", { "Run the job": agent().handler });
    expect(await rejection(workflows.start("job-lifecycle", name, {}))).toHaveProperty(
      "name",
      error,
    );
    expect(workflows.executions()).toEqual([]);
  });

  it("accepts a name of 80 characters, and refuses an input over 256 KiB measured in UTF-8", async () => {
    const workflows = workflowsFor("callback", { "Run the job": agent().handler });
    await workflows.start("job-lifecycle", "j".repeat(80), { jobId: twoByteChars(250 * KIB) });
    const refused = await rejection(
      workflows.start("job-lifecycle", "job-1", { jobId: twoByteChars(257 * KIB) }),
    );
    expect(refused).toMatchObject({ name: "ValidationException" });
    expect(String(refused)).toContain("over the 262144-byte limit");
    expect(workflows.executions()).toHaveLength(1);
  });

  describe("a state's data over 256 KiB", () => {
    it("refuses a task output over the limit, and the task waits on", async () => {
      const dispatch = agent();
      const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "j" });
      const { taskToken } = await dispatch.call(0);

      const refused = await rejection(
        workflows.sendTaskSuccess(taskToken, { files: twoByteChars(257 * KIB) }),
      );
      expect(refused).toMatchObject({ name: "ValidationException" });
      await workflows.sendTaskSuccess(taskToken, { files: 2 });
      expect((await workflows.whenDone(executionId)).status).toBe("SUCCEEDED");
    });

    const breaches: Array<{ what: string; input: string; output: string; task: string }> = [
      // Each part is within the limit; the state's output (input plus result) is not.
      {
        what: "the state's output",
        input: twoByteChars(140 * KIB),
        output: twoByteChars(140 * KIB),
        task: 'the output of "Run the job"',
      },
      {
        what: "a plain task's result",
        input: "j",
        output: "",
        task: 'the result of "Free the instance"',
      },
    ];
    it.each(breaches)(
      "fails the execution with States.DataLimitExceeded, whatever its Catch says, when $what is over it",
      async ({ input, output, task }) => {
        const dispatch = agent();
        const released: unknown[] = [];
        const workflows = workflowsFor("dispatch-release", {
          "Run the job": dispatch.handler,
          "Free the instance": async (payload) => {
            released.push(payload);
            return { files: twoByteChars(300 * KIB) };
          },
        });
        const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: input });
        await workflows.sendTaskSuccess((await dispatch.call(0)).taskToken, { files: output });

        const end = await workflows.whenDone(executionId);
        expect(end).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
        expect(end.cause).toContain(task);
        if (output !== "") expect(released).toEqual([]);
      },
    );
  });

  it("retries a callback task whose handler failed with an error its Retry names, with a new token", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("dispatch-release", {
      "Run the job": async (input, context) => {
        await dispatch.handler(input, context);
        if (dispatch.calls.length === 1) {
          throw Object.assign(new Error("Rate exceeded"), { name: "Lambda.ServiceException" });
        }
      },
      "Free the instance": async () => ({}),
    });
    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const retried = await dispatch.call(1);
    await workflows.sendTaskSuccess(retried.taskToken, { exitCode: 0 });

    expect(await workflows.whenDone(executionId)).toMatchObject({
      status: "SUCCEEDED",
      output: { jobId: "job-1", run: { exitCode: 0 } },
    });
    expect(retried.taskToken).not.toBe(dispatch.calls[0]?.taskToken);
    expect(workflows.statesEntered(executionId)).toEqual(["Run the job", "Free the instance"]);
  });
});

describe("LocalWorkflows says what it cannot do as Step Functions does", () => {
  it("fails a Wait longer than its timers can time at once, with States.Runtime and a warning", async () => {
    const workflows = workflowsFor("long-wait", {});
    const { executionId } = await workflows.start("job-lifecycle", "i-1", {
      warmS: 30 * 24 * 3600,
    });

    const end = await workflows.whenDone(executionId);
    expect(end).toMatchObject({ status: "FAILED", error: "States.Runtime" });
    expect(end.cause).toContain("~24.8 days");
    expect(workflows.warnings).toEqual([expect.stringContaining(end.cause ?? "")]);
    expect(workflows.statesEntered(executionId)).toEqual(["Keep the instance warm"]);
  });

  it("fails a callback task at the end of its timers rather than time it out early, with States.Runtime and a warning", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const dispatch = agent();
      // No TimeoutSeconds: Step Functions' default, ~3 years.
      const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });
      const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
      await dispatch.call(0);
      await vi.advanceTimersByTimeAsync(25 * 24 * 3600 * 1000);

      const end = await workflows.whenDone(executionId);
      expect(end).toMatchObject({ status: "FAILED", error: "States.Runtime" });
      expect(end.cause).toContain("TimeoutSeconds 99999999");
      expect(workflows.warnings).toEqual([end.cause]);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ["an execution TimeoutSeconds", { TimeoutSeconds: 30 * 24 * 3600 }, {}],
    ["a Wait of Seconds", {}, { Type: "Wait", Seconds: 30 * 24 * 3600, End: true }],
    ["a Wait path it cannot read", {}, { Type: "Wait", SecondsPath: "$.plan[0]", End: true }],
  ])(
    "refuses at load a definition with %s longer than its timers or beyond it",
    async (_, machine, state) => {
      const path = join(folder, `${Math.random()}.asl.json`);
      const definition = {
        StartAt: "Wait",
        States: { Wait: { Type: "Wait", Seconds: 1, End: true, ...state } },
        ...machine,
      };
      await writeFile(path, JSON.stringify(definition));
      expect(
        () =>
          new LocalWorkflows({
            definitions: { "job-lifecycle": path },
            substitutions: {},
            handlers: {},
          }),
      ).toThrow(/job-lifecycle: .*(~24.8 days|\$\.field paths only)/);
    },
  );

  it("keeps the names of its executions across a restart, and names the ones the restart lost", async () => {
    const journal = join(folder, "names.jsonl");
    const dispatch = agent();
    const first = workflowsFor("callback", { "Run the job": dispatch.handler }, { journal });
    await first.start("job-lifecycle", "job-done", { jobId: "job-done" });
    const done = await first.start("job-lifecycle", "job-done", { jobId: "job-done" });
    await first.sendTaskSuccess((await dispatch.call(0)).taskToken, {});
    await first.whenDone(done.executionId);
    const running = await first.start("job-lifecycle", "job-running", { jobId: "job-running" });
    await dispatch.call(1);

    // A second runner on the same journal while the first still runs: as after a crash.
    const second = workflowsFor("callback", { "Run the job": agent().handler }, { journal });
    expect(second.warnings).toEqual([expect.stringContaining(running.executionId)]);
    expect(second.warnings[0]).not.toContain(done.executionId);
    for (const name of ["job-done", "job-running"]) {
      expect(await rejection(second.start("job-lifecycle", name, { jobId: name }))).toBeInstanceOf(
        ExecutionAlreadyExists,
      );
    }

    // A loss is named once: the next restart has nothing more to say.
    const third = workflowsFor("callback", { "Run the job": agent().handler }, { journal });
    expect(third.warnings).toEqual([]);
    await first.stopAll();
    expect(first.warnings).toEqual([
      expect.stringMatching(`aborting 1 running execution.*${running.executionId}`),
    ]);
  });

  it("frees the name of an execution closed over 90 days ago, as Step Functions does", async () => {
    const journal = join(folder, "old-names.jsonl");
    const closedAt = (days: number) => new Date(Date.now() - days * 24 * 3600 * 1000);
    const entry = (name: string, days: number) =>
      JSON.stringify({
        executionId: `arn:aws:states:local:000000000000:execution:job-lifecycle:${name}`,
        status: "SUCCEEDED",
        at: closedAt(days).toISOString(),
      });
    await writeFile(journal, `${entry("job-old", 91)}\n${entry("job-recent", 89)}\n`);

    const workflows = workflowsFor("callback", { "Run the job": agent().handler }, { journal });

    await workflows.start("job-lifecycle", "job-old", { jobId: "job-old" });
    expect(
      await rejection(workflows.start("job-lifecycle", "job-recent", { jobId: "job-recent" })),
    ).toBeInstanceOf(ExecutionAlreadyExists);
  });
});
