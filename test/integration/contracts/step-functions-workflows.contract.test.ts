import { SFNClient } from "@aws-sdk/client-sfn";
import { StepFunctionsWorkflows } from "../../../lambdas/adapters/aws/sfn/step-functions-workflows.ts";
import { OFFLINE } from "../../fixtures/aws-service.ts";
import { fakeStepFunctions } from "./fake-step-functions.ts";
import { workflowsContract } from "./workflows.contract.ts";

const machineArn = (name: string) => `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;

workflowsContract(() => {
  const client = new SFNClient(OFFLINE);
  const service = fakeStepFunctions(client);
  const workflows = new StepFunctionsWorkflows({
    client,
    stateMachineArns: {
      "job-lifecycle": machineArn("gpuctl-job-lifecycle"),
      "job-deadline": machineArn("gpuctl-job-deadline"),
      "instance-cooling": machineArn("gpuctl-instance-cooling"),
    },
  });
  return { workflows, ...service };
});
