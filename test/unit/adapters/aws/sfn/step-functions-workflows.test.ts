import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  SFNServiceException,
  ExecutionAlreadyExists as SfnExecutionAlreadyExists,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { StepFunctionsWorkflows } from "../../../../../lambdas/adapters/aws/sfn/step-functions-workflows.ts";
import {
  ExecutionAlreadyExists,
  InvalidExecutionName,
  PayloadTooLarge,
} from "../../../../../lambdas/ports.ts";
import { answering, OFFLINE, THROTTLED } from "../../../../fixtures/aws-service.ts";
import { rejection } from "../../../../integration/workflows/harness.ts";

const MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-job-lifecycle";
const ARNS = {
  "job-lifecycle": MACHINE_ARN,
  "job-deadline": "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-job-deadline",
  "instance-cooling": "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-cooling",
};
const EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:gpuctl-job-lifecycle:job-1";

const client = new SFNClient(OFFLINE);
const sfn = mockClient(client);
const workflows = new StepFunctionsWorkflows({ client, stateMachineArns: ARNS });

const serviceError = (name: string) =>
  new SFNServiceException({ name, $fault: "client", $metadata: {}, message: name });

beforeEach(() => sfn.reset());

describe("StepFunctionsWorkflows.start", () => {
  it("starts the machine's execution with the name and the input as JSON", async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });

    const started = await workflows.start("job-lifecycle", "job-1", { jobId: "job-1" });

    expect(started).toEqual({ executionId: EXECUTION_ARN });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: MACHINE_ARN,
      name: "job-1",
      input: '{"jobId":"job-1"}',
    });
  });

  it("answers ExecutionAlreadyExists with the execution's ARN", async () => {
    sfn.on(StartExecutionCommand).rejects(
      new SfnExecutionAlreadyExists({
        $metadata: {},
        message: `Execution Already Exists: '${EXECUTION_ARN}'`,
      }),
    );

    const refused = await rejection(workflows.start("job-lifecycle", "job-1", { jobId: "x" }));

    expect(refused).toBeInstanceOf(ExecutionAlreadyExists);
    expect(refused).toMatchObject({ executionId: EXECUTION_ARN });
  });

  it.each([
    ["empty", ""],
    ["81 characters", "j".repeat(81)],
    ["white space", "job 1"],
    ["a colon", "job-2026-01-01T00:00:00Z"],
    ["a bracket", "job[1]"],
    ["a wildcard", "job*"],
    ["a control character", "job\u007f"],
  ])("refuses a name that is %s without calling Step Functions", async (_, name) => {
    const refused = await rejection(workflows.start("job-lifecycle", name, {}));

    expect(refused).toBeInstanceOf(InvalidExecutionName);
    expect(refused).toMatchObject({ field: "name" });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it("refuses an input over 256 KiB, measured in UTF-8, without calling Step Functions", async () => {
    const refused = await rejection(
      workflows.start("job-lifecycle", "job-1", { jobId: "é".repeat(128 * 1024) }),
    );

    expect(refused).toBeInstanceOf(PayloadTooLarge);
    expect(refused).toMatchObject({ name: "ValidationException", field: "input" });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });

  it("passes on any other error", async () => {
    sfn.on(StartExecutionCommand).rejects(serviceError("StateMachineDoesNotExist"));

    expect(await rejection(workflows.start("job-lifecycle", "job-1", {}))).toMatchObject({
      name: "StateMachineDoesNotExist",
    });
  });
});

describe("StepFunctionsWorkflows task reports", () => {
  it("sends success with the output as JSON, failure with its error and cause, and heartbeats", async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
    sfn.on(SendTaskHeartbeatCommand).resolves({});

    await workflows.sendTaskSuccess("token-1", { exitCode: 0 });
    await workflows.sendTaskFailure("token-2", "gpuctl.Canceled", "canceled by ada");
    await workflows.sendTaskHeartbeat("token-3");

    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: "token-1",
      output: '{"exitCode":0}',
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: "token-2",
      error: "gpuctl.Canceled",
      cause: "canceled by ada",
    });
    expect(sfn).toHaveReceivedCommandWith(SendTaskHeartbeatCommand, { taskToken: "token-3" });
  });

  const late = [
    ["TaskTimedOut", () => new TaskTimedOut({ $metadata: {}, message: "Task Timed Out" })],
    ["TaskDoesNotExist", () => new TaskDoesNotExist({ $metadata: {}, message: "gone" })],
    ["InvalidToken", () => new InvalidToken({ $metadata: {}, message: "Invalid Token" })],
  ] as const;

  it.each(late)("takes %s as a late report: every report resolves", async (_, error) => {
    sfn.on(SendTaskSuccessCommand).rejects(error());
    sfn.on(SendTaskFailureCommand).rejects(error());
    sfn.on(SendTaskHeartbeatCommand).rejects(error());

    await expect(workflows.sendTaskSuccess("token-1", {})).resolves.toBeUndefined();
    await expect(workflows.sendTaskFailure("token-1", "e", "c")).resolves.toBeUndefined();
    await expect(workflows.sendTaskHeartbeat("token-1")).resolves.toBeUndefined();
  });

  it("throws any other error: the report may not have arrived", async () => {
    sfn.on(SendTaskSuccessCommand).rejects(serviceError("InvalidOutput"));
    sfn.on(SendTaskHeartbeatCommand).rejects(new Error("socket hang up"));

    expect(await rejection(workflows.sendTaskSuccess("token-1", {}))).toMatchObject({
      name: "InvalidOutput",
    });
    expect(await rejection(workflows.sendTaskHeartbeat("token-1"))).toMatchObject({
      message: "socket hang up",
    });
  });

  it("refuses an output over 256 KiB without calling Step Functions", async () => {
    const refused = await rejection(
      workflows.sendTaskSuccess("token-1", { files: "x".repeat(256 * 1024) }),
    );

    expect(refused).toBeInstanceOf(PayloadTooLarge);
    expect(refused).toMatchObject({ field: "output" });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
  });
});

describe("StepFunctionsWorkflows under throttling (the SDK's own retries, over a fake HTTP handler)", () => {
  it("retries a throttled StartExecution with backoff until it is taken", async () => {
    const service = answering([
      THROTTLED,
      THROTTLED,
      { status: 200, body: { executionArn: EXECUTION_ARN, startDate: 1_767_225_600 } },
    ]);
    const real = new StepFunctionsWorkflows({
      client: new SFNClient(service.config),
      stateMachineArns: ARNS,
    });

    expect(await real.start("job-lifecycle", "job-1", {})).toEqual({ executionId: EXECUTION_ARN });
    expect(service.targets).toEqual(Array(3).fill("AWSStepFunctions.StartExecution"));
    expect(service.backoffs).toEqual([1, 2]);
  });

  it("retries a throttled report, and takes a late answer after it as a no-op", async () => {
    const service = answering([
      THROTTLED,
      { status: 400, body: { __type: "TaskTimedOut", message: "Task Timed Out" } },
    ]);
    const real = new StepFunctionsWorkflows({
      client: new SFNClient(service.config),
      stateMachineArns: ARNS,
    });

    await real.sendTaskHeartbeat("token-1");

    expect(service.targets).toEqual(Array(2).fill("AWSStepFunctions.SendTaskHeartbeat"));
  });

  it("gives up after the strategy's attempts and throws the throttling error", async () => {
    const service = answering(Array(4).fill(THROTTLED));
    const real = new StepFunctionsWorkflows({
      client: new SFNClient(service.config),
      stateMachineArns: ARNS,
    });

    expect(await rejection(real.sendTaskSuccess("token-1", {}))).toMatchObject({
      name: "ThrottlingException",
    });
    expect(service.targets).toHaveLength(3);
  });
});
