import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { LambdaContext } from "hono/aws-lambda";

export const logger = new Logger({ serviceName: "gpuctl" });

/**
 * What every Lambda entry point runs through: logs carry the invocation's context (request
 * id, function, cold start). Metrics are the use cases' (the `metrics` port), each written
 * as it happens; there is no cold-start metric: each would be a custom metric billed for
 * every hour a cold start happens in, and Lambda's own logs give the init duration.
 */
export const wrapHandler = <E, R>(handler: (event: E, context: LambdaContext) => Promise<R>) =>
  middy(handler).use(injectLambdaContext(logger));
