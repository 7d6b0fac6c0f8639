import { metrics } from "../../../adapters/aws/builders/cloudwatch.ts";
import { jobs } from "../../../adapters/aws/builders/dynamodb.ts";
import { events } from "../../../adapters/aws/builders/eventbridge.ts";
import { clock } from "../../../adapters/aws/builders/settings.ts";
import { RequestReviewFunction } from "../../workflow/tasks.ts";
import { taskHandler } from "../task-handler.ts";

/** `${RequestReviewFunction}` in statemachines/*.asl.json. */
export const handler = await taskHandler(RequestReviewFunction, { jobs, events, metrics, clock });
