import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { metrics } from "../../adapters/aws/builders/cloudwatch.ts";
import { instances, jobs } from "../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { events } from "../../adapters/aws/builders/eventbridge.ts";
import { clock, costModel } from "../../adapters/aws/builders/settings.ts";
import { workflows } from "../../adapters/aws/builders/sfn.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import { EC2_EVENTS_NEEDS, ec2EventArrived } from "../events/ec2-events.ts";
import { logger, wrapHandler } from "./wrap-handler.ts";

/** EC2's instance state changes and spot interruption warnings, from the stack's rule on `aws.ec2`. */
const cp = await buildPorts(EC2_EVENTS_NEEDS, {
  jobs,
  instances,
  compute,
  commands,
  workflows,
  events,
  clock,
  metrics,
  costModel,
});

export const handler = wrapHandler(async (event: unknown) => {
  const outcome = await ec2EventArrived(cp, event);
  logger.info("EC2 event reconciled", { outcome });
  return outcome;
});
