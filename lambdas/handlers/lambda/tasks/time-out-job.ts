import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { jobs } from "../../../adapters/aws/builders/dynamodb.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock } from "../../../adapters/aws/builders/settings.ts";
import { workflows } from "../../../adapters/aws/builders/sfn.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { TimeOutJobFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${TimeOutJobFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(TimeOutJobFunction, {
  jobs,
  commands,
  workflows,
  events,
  clock,
  metrics,
});
