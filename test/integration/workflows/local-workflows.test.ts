import { describe, expect, it } from "vitest";
import {
  type ExecutionEnd,
  LocalWorkflows,
  type LocalWorkflowsOptions,
  type TaskHandler,
} from "../../../lambdas/adapters/local/local-workflows.ts";
import { agent, fixture, stopAfterEach } from "./harness.ts";

const track = stopAfterEach();

/** One fixture machine, run as "job-lifecycle". */
const workflowsFor = (
  name: string,
  handlers: Record<string, TaskHandler>,
  options: Partial<LocalWorkflowsOptions> = {},
) => {
  const workflows = new LocalWorkflows({
    definitions: { "job-lifecycle": fixture(name) },
    substitutions: {},
    handlers,
    ...options,
  });
  track(workflows);
  return workflows;
};

/** The one-callback-task machine, its agent, and the ends of its executions, in order. */
const callbackMachine = () => {
  const dispatch = agent();
  const ends: ExecutionEnd[] = [];
  const workflows = workflowsFor(
    "callback",
    { "Run the job": dispatch.handler },
    { onExecutionEnd: (end) => ends.push(end) },
  );
  return { dispatch, ends, workflows };
};

describe("LocalWorkflows", () => {
  it("runs a Task chain with Parameters, ResultSelector, ResultPath, OutputPath and substitutions", async () => {
    const inputs: unknown[] = [];
    const workflows = workflowsFor(
      "provision",
      {
        "Acquire an instance": async (input) => {
          inputs.push(input);
          return { id: "i-1", type: "p4d.24xlarge" };
        },
        "Prepare the instance": async (input) => {
          inputs.push(input);
          return { ready: true, ignored: "dropped by ResultSelector" };
        },
      },
      {
        substitutions: {
          AcquireFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:acquire",
          PrepareFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:prepare",
          PoolName: "a100-pool",
        },
      },
    );

    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });

    expect(await workflows.whenDone(executionId)).toEqual({
      machine: "job-lifecycle",
      name: "job-1",
      executionId,
      input: JSON.stringify({ jobId: "job-1" }),
      status: "SUCCEEDED",
      output: { ready: true },
    });
    // A Lambda ARN resource gets the Parameters; lambda:invoke gets only their Payload.
    expect(inputs).toEqual([{ jobId: "job-1", pool: "a100-pool" }, { instanceId: "i-1" }]);
    expect(workflows.transitions(executionId)).toBe(2);
  });

  it("refuses a definition with a placeholder it has no substitution for", () => {
    expect(() =>
      workflowsFor("provision", {}, { substitutions: { PoolName: "a100-pool" } }),
    ).toThrow("job-lifecycle: no substitution for AcquireFunctionArn, PrepareFunctionArn");
  });

  it("refuses a definition with a Task state it has no handler for", () => {
    expect(() => workflowsFor("callback", {})).toThrow(
      'job-lifecycle: no local handler for Task state "Run the job"',
    );
  });

  it("hands a callback task its token and continues with the output of sendTaskSuccess", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });

    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const { input, taskToken } = await dispatch.call(0);
    expect(input).toEqual({ jobId: "job-1", taskToken });
    await workflows.sendTaskSuccess(taskToken, { exitCode: 0 });

    expect(await workflows.whenDone(executionId)).toMatchObject({
      status: "SUCCEEDED",
      output: { jobId: "job-1", run: { exitCode: 0 }, phase: "COMPLETED" },
    });
  });

  it("gives every task its own token", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });

    const first = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const second = await workflows.start("job-lifecycle", "job-2", { jobId: "job-2" });
    const [one, two] = await Promise.all([dispatch.call(0), dispatch.call(1)]);
    expect(one.taskToken).not.toBe(two.taskToken);
    await workflows.sendTaskSuccess(two.taskToken, { exitCode: 2 });
    await workflows.sendTaskSuccess(one.taskToken, { exitCode: 1 });

    expect((await workflows.whenDone(first.executionId)).output).toMatchObject({
      jobId: "job-1",
      run: { exitCode: 1 },
    });
    expect((await workflows.whenDone(second.executionId)).output).toMatchObject({
      jobId: "job-2",
      run: { exitCode: 2 },
    });
  });

  it("gives callback tasks waiting side by side in a Parallel state their own tokens", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("fan-out", {
      "Run worker A": dispatch.handler,
      "Run worker B": dispatch.handler,
    });

    const { executionId } = await workflows.start("job-lifecycle", "job-1", {});
    const calls = await Promise.all([dispatch.call(0), dispatch.call(1)]);
    for (const { input, taskToken } of calls) {
      await workflows.sendTaskSuccess(taskToken, { worker: input.worker });
    }

    expect((await workflows.whenDone(executionId)).output).toEqual({
      workers: [{ worker: "a" }, { worker: "b" }],
    });
    expect(workflows.transitions(executionId)).toBe(3);
  });

  it("fails a callback task with the error of sendTaskFailure, for its Catch to route", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });

    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const { taskToken } = await dispatch.call(0);
    await workflows.sendTaskFailure(taskToken, "gpuctl.Canceled", "canceled by ada");

    expect((await workflows.whenDone(executionId)).output).toEqual({
      jobId: "job-1",
      error: { Error: "gpuctl.Canceled", Cause: "canceled by ada" },
      phase: "CANCELED",
    });
  });

  it("fails the execution with an error no Catch matches", async () => {
    const { dispatch, ends, workflows } = callbackMachine();

    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    await workflows.sendTaskFailure(
      (await dispatch.call(0)).taskToken,
      "gpuctl.Crashed",
      "exit 137",
    );
    await workflows.whenDone(executionId);

    expect(ends).toEqual([
      {
        machine: "job-lifecycle",
        name: "job-1",
        executionId,
        input: expect.any(String),
        status: "FAILED",
        error: "gpuctl.Crashed",
        cause: "exit 137",
      },
    ]);
  });

  it("takes a report for a token it never issued or whose task is over as a no-op", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });
    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const { taskToken } = await dispatch.call(0);
    await workflows.sendTaskSuccess(taskToken, { exitCode: 0 });
    await workflows.whenDone(executionId);

    await workflows.sendTaskSuccess("made-up", {});
    await workflows.sendTaskSuccess(taskToken, { exitCode: 1 });
    await workflows.sendTaskFailure(taskToken, "gpuctl.Canceled", "too late");
    await workflows.sendTaskHeartbeat(taskToken);

    expect(await workflows.whenDone(executionId)).toMatchObject({
      status: "SUCCEEDED",
      output: { run: { exitCode: 0 }, phase: "COMPLETED" },
    });
  });

  it("starts one execution per name, however often it is started", async () => {
    const dispatch = agent();
    const workflows = workflowsFor("callback", { "Run the job": dispatch.handler });

    const first = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const again = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const other = await workflows.start("job-lifecycle", "job-2", { jobId: "job-2" });
    await dispatch.call(1);

    expect(again.executionId).toBe(first.executionId);
    expect(other.executionId).not.toBe(first.executionId);
    expect(dispatch.calls.map((call) => call.input.jobId)).toEqual(["job-1", "job-2"]);
  });

  it("makes Wait states and retry intervals instant through the overrides", async () => {
    let attempts = 0;
    const workflows = workflowsFor(
      "cooling",
      {
        "Close the instance": async (input) => {
          attempts += 1;
          if (attempts === 1)
            throw Object.assign(new Error("a job is claiming it"), { name: "gpuctl.Busy" });
          return { instanceId: input.instanceId, stopped: true };
        },
      },
      {
        waitTimeOverrides: (state) => (state === "Keep the instance warm" ? 0 : undefined),
        retryIntervalOverrides: (state) => (state === "Close the instance" ? 0 : undefined),
      },
    );
    const startedAt = Date.now();

    const { executionId } = await workflows.start("job-lifecycle", "i-1", { instanceId: "i-1" });
    const end = await workflows.whenDone(executionId);

    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(end.output).toEqual({ instanceId: "i-1", closed: { instanceId: "i-1", stopped: true } });
    expect(attempts).toBe(2);
    expect(workflows.transitions(executionId)).toBe(2);
  });

  it("aborts waiting executions on stopAll and retires their tokens", async () => {
    const { dispatch, ends, workflows } = callbackMachine();
    const { executionId } = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const { taskToken } = await dispatch.call(0);

    await workflows.stopAll();

    expect(ends).toEqual([
      {
        machine: "job-lifecycle",
        name: "job-1",
        executionId,
        input: expect.any(String),
        status: "ABORTED",
      },
    ]);
    await workflows.sendTaskSuccess(taskToken, {});
    expect(ends).toHaveLength(1);
    expect(dispatch.calls).toHaveLength(1);
  });

  it("aborts one execution by name, as StopExecution does, and takes any other abort as a no-op", async () => {
    const { dispatch, ends, workflows } = callbackMachine();
    await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });
    const other = await workflows.start("job-lifecycle", "job-2", { jobId: "job-2" });
    const { taskToken } = await dispatch.call(0);
    await dispatch.call(1);

    await workflows.abort("job-lifecycle", "job-1");
    await workflows.abort("job-lifecycle", "job-1");
    await workflows.abort("job-lifecycle", "never-started");

    expect(ends).toEqual([expect.objectContaining({ name: "job-1", status: "ABORTED" })]);
    await workflows.sendTaskSuccess(taskToken, {});
    expect(ends).toHaveLength(1);
    expect(workflows.statesEntered(other.executionId)).toEqual(["Run the job"]);
  });

  describe("timeouts (these wait for real seconds)", () => {
    it("fails a task whose heartbeats stop with States.HeartbeatTimeout, which States.TaskFailed does not retry", async () => {
      const dispatch = agent();
      const workflows = workflowsFor("timeouts", { "Run the job": dispatch.handler });

      const { executionId } = await workflows.start("job-lifecycle", "job-1", { timeoutS: 60 });
      const { taskToken } = await dispatch.call(0);
      const end = await workflows.whenDone(executionId);

      expect(end.output).toEqual({
        timeoutS: 60,
        error: { Error: "States.HeartbeatTimeout", Cause: "No heartbeat for 1 s" },
        phase: "LOST",
      });
      expect(dispatch.calls).toHaveLength(1);
      await workflows.sendTaskHeartbeat(taskToken);
    });

    it("keeps a heartbeating task alive until the timeout its TimeoutSecondsPath reads from the state input", async () => {
      const dispatch = agent();
      const workflows = workflowsFor("timeouts", { "Run the job": dispatch.handler });

      const { executionId } = await workflows.start("job-lifecycle", "job-1", { timeoutS: 2 });
      const { input, taskToken } = await dispatch.call(0);
      const heartbeats = setInterval(() => void workflows.sendTaskHeartbeat(taskToken), 300);
      const end = await workflows.whenDone(executionId).finally(() => clearInterval(heartbeats));

      expect(input).toEqual({ taskToken });
      expect(end.output).toEqual({
        timeoutS: 2,
        error: { Error: "States.Timeout", Cause: "Task ran 2 s" },
        phase: "TIMED_OUT",
      });
      expect(dispatch.calls).toHaveLength(1);
    });

    it("times out the whole execution at its TimeoutSeconds and retires its tokens", async () => {
      const dispatch = agent();
      const workflows = workflowsFor("deadline", { "Run the job": dispatch.handler });

      const { executionId } = await workflows.start("job-lifecycle", "job-1", {});
      const { taskToken } = await dispatch.call(0);

      expect(await workflows.whenDone(executionId)).toMatchObject({
        status: "TIMED_OUT",
        error: "States.Timeout",
      });
      await workflows.sendTaskSuccess(taskToken, {});
      expect((await workflows.whenDone(executionId)).status).toBe("TIMED_OUT");
    });

    it("lets a catcher on States.Timeout catch a heartbeat timeout, as AWS does", async () => {
      const dispatch = agent();
      const workflows = workflowsFor("heartbeat", { "Run the job": dispatch.handler });

      const { executionId } = await workflows.start("job-lifecycle", "job-1", {});

      expect((await workflows.whenDone(executionId)).output).toEqual({
        error: { Error: "States.HeartbeatTimeout", Cause: "No heartbeat for 1 s" },
        phase: "TIMED_OUT",
      });
    });
  });
});
