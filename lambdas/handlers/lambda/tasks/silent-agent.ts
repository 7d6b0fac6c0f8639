import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { instances, jobs } from "../../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../../adapters/aws/builders/ec2.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock, costModel } from "../../../adapters/aws/builders/settings.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { SilentAgentFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${SilentAgentFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(SilentAgentFunction, {
  jobs,
  instances,
  compute,
  commands,
  events,
  metrics,
  clock,
  costModel,
});
