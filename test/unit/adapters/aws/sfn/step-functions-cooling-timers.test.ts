import {
  ExecutionDoesNotExist,
  SFNClient,
  SFNServiceException,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { StepFunctionsCoolingTimers } from "../../../../../lambdas/adapters/aws/sfn/step-functions-cooling-timers.ts";
import { OFFLINE } from "../../../../fixtures/aws-service.ts";
import { rejection } from "../../../../integration/workflows/harness.ts";

const COOLING_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-cooling";
const COOLING_EXECUTION =
  "arn:aws:states:us-east-1:123456789012:execution:gpuctl-cooling:gi-1-cooling-3";

const client = new SFNClient(OFFLINE);
const sfn = mockClient(client);
const timers = new StepFunctionsCoolingTimers({ client, stateMachineArn: COOLING_MACHINE });

beforeEach(() => {
  sfn.reset();
});

describe("StepFunctionsCoolingTimers.stop", () => {
  it("stops the cooling machine's execution of that name, with the cause", async () => {
    sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });

    await timers.stop("gi-1-cooling-3", "claimed");

    expect(sfn).toHaveReceivedCommandTimes(StopExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: COOLING_EXECUTION,
      cause: "claimed",
    });
  });

  it("takes an execution that does not exist as nothing to stop", async () => {
    sfn
      .on(StopExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ $metadata: {}, message: "Execution Does Not Exist" }));

    await expect(timers.stop("gi-1-cooling-3", "claimed")).resolves.toBe(undefined);
  });

  it("passes on any other error", async () => {
    sfn.on(StopExecutionCommand).rejects(
      new SFNServiceException({
        name: "AccessDeniedException",
        $fault: "client",
        $metadata: {},
        message: "denied",
      }),
    );

    const refused = await rejection(timers.stop("gi-1-cooling-3", "x"));

    expect(refused).toMatchObject({ name: "AccessDeniedException" });
  });
});
