import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { jobs } from "../../../adapters/aws/builders/dynamodb.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock } from "../../../adapters/aws/builders/settings.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { MarkJobLostFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${MarkJobLostFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(MarkJobLostFunction, {
  jobs,
  commands,
  events,
  metrics,
  clock,
});
