import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { instances, jobs, pools } from "../../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../../adapters/aws/builders/ec2.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { agent } from "../../../adapters/aws/builders/secretsmanager.ts";
import { clock, costModel, region } from "../../../adapters/aws/builders/settings.ts";
import { coolingTimers } from "../../../adapters/aws/builders/sfn.ts";
import { commands } from "../../../adapters/aws/builders/sqs.ts";
import { AcquireInstanceFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${AcquireInstanceFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(AcquireInstanceFunction, {
  jobs,
  instances,
  compute,
  commands,
  pools,
  coolingTimers,
  events,
  clock,
  metrics,
  costModel,
  region,
  agent,
});
