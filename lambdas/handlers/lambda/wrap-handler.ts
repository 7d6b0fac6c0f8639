import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { LambdaContext } from "hono/aws-lambda";

export const logger = new Logger({ serviceName: "gpuctl" });

/** Metrics leave as CloudWatch embedded metric format (EMF) in the logs: the dashboard's source. */
export const metrics = new Metrics({ namespace: "gpuctl", serviceName: "gpuctl" });

/**
 * What every Lambda entry point runs through: logs carry the invocation's context (request
 * id, function, cold start), and the metrics recorded during the invocation, with a
 * ColdStart count, are flushed when it ends, even when it fails.
 */
export const wrapHandler = <E, R>(handler: (event: E, context: LambdaContext) => Promise<R>) =>
  middy(handler)
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
