import { z } from "zod";
import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { metrics } from "../../adapters/aws/builders/cloudwatch.ts";
import { instances } from "../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { events } from "../../adapters/aws/builders/eventbridge.ts";
import { clock, costModel } from "../../adapters/aws/builders/settings.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import {
  COOLING_EXECUTION_ENDED_NEEDS,
  coolingExecutionEnded,
} from "../events/cooling-execution-ended.ts";
import { wrapHandler } from "./wrap-handler.ts";

/** The EventBridge envelope the stack's rule on the instance-cooling machine delivers. */
const StatusChangeEvent = z.object({
  source: z.literal("aws.states"),
  "detail-type": z.literal("Step Functions Execution Status Change"),
  detail: z.unknown(),
});

const cp = await buildPorts(COOLING_EXECUTION_ENDED_NEEDS, {
  instances,
  compute,
  commands,
  events,
  clock,
  metrics,
  costModel,
});

export const handler = wrapHandler(async (event: unknown) =>
  coolingExecutionEnded(cp, StatusChangeEvent.parse(event).detail),
);
