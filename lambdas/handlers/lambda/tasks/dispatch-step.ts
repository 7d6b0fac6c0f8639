import { jobs } from "../../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../../adapters/aws/builders/ec2.ts";
import { artifacts } from "../../../adapters/aws/builders/s3.ts";
import { agent } from "../../../adapters/aws/builders/secretsmanager.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { DispatchStepFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${DispatchStepFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(DispatchStepFunction, {
  jobs,
  compute,
  artifacts,
  commands,
  agent,
});
