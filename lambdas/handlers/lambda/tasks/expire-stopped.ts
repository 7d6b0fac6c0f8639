import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { instances } from "../../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../../adapters/aws/builders/ec2.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock, costModel } from "../../../adapters/aws/builders/settings.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { ExpireStoppedFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${ExpireStoppedFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(ExpireStoppedFunction, {
  instances,
  compute,
  commands,
  events,
  clock,
  metrics,
  costModel,
});
