import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { instances, jobs, pools } from "../../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../../adapters/aws/builders/ec2.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock, cooling, costModel } from "../../../adapters/aws/builders/settings.ts";
import { workflows } from "../../../adapters/aws/builders/sfn.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { ReleaseInstanceFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${ReleaseInstanceFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(ReleaseInstanceFunction, {
  jobs,
  instances,
  compute,
  commands,
  pools,
  workflows,
  events,
  clock,
  metrics,
  costModel,
  cooling,
});
