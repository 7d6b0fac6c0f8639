import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { metrics } from "../../adapters/aws/builders/cloudwatch.ts";
import { instances, jobs } from "../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { events } from "../../adapters/aws/builders/eventbridge.ts";
import { clock, costModel } from "../../adapters/aws/builders/settings.ts";
import { workflows } from "../../adapters/aws/builders/sfn.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import { REAPER_NEEDS, reaperScheduled } from "../events/reaper.ts";
import { logger, wrapHandler } from "./wrap-handler.ts";

/** The reaper, every 5 minutes from the stack's schedule rule. */
const cp = await buildPorts(REAPER_NEEDS, {
  jobs,
  instances,
  compute,
  commands,
  workflows,
  events,
  metrics,
  costModel,
  clock,
});

/** Its metrics (orphans, stuck jobs, failures, cancels not released) are the use case's; the log names each one. */
export const handler = wrapHandler(async (event: unknown) => {
  const report = await reaperScheduled(cp, event);
  const { failed, orphans, stuckJobs, deleteFailed } = report;
  if (failed.length) logger.error("reaper actions failed", { failed });
  if (deleteFailed.length)
    logger.error("canceled jobs whose instance could not be stopped or terminated yet", {
      deleteFailed,
    });
  if (orphans.length || stuckJobs.length)
    logger.warn("instances no live job holds, or jobs stuck", { orphans, stuckJobs });
  logger.info("reaped", { done: report.done, canceled: report.canceled });
  return report;
});
