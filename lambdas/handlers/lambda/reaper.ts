import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { instances, jobs } from "../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { events } from "../../adapters/aws/builders/eventbridge.ts";
import { clock } from "../../adapters/aws/builders/settings.ts";
import { workflows } from "../../adapters/aws/builders/sfn.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import { REAPER_NEEDS, reaperScheduled } from "../events/reaper.ts";
import { logger, metrics, wrapHandler } from "./wrap-handler.ts";

/** The reaper, every 5 minutes from the stack's schedule rule. */
const cp = await buildPorts(REAPER_NEEDS, {
  jobs,
  instances,
  compute,
  commands,
  workflows,
  events,
  clock,
});

/**
 * Each kind of action is a metric (`Reaped<action>`: ReapedTerminateOrphan, ...) and so are
 * the failures (`ReapFailed`), so an alarm sees orphans appear or the reaper fail.
 */
export const handler = wrapHandler(async (event: unknown) => {
  const report = await reaperScheduled(cp, event);
  for (const [type, count] of Object.entries(report.done))
    metrics.addMetric(`Reaped${type[0]?.toUpperCase()}${type.slice(1)}`, MetricUnit.Count, count);
  metrics.addMetric("ReapFailed", MetricUnit.Count, report.failed.length);
  if (report.failed.length) logger.error("reaper actions failed", { failed: report.failed });
  else logger.info("reaped", { done: report.done });
  return report;
});
