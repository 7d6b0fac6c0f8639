import { setTimeout as sleep } from "node:timers/promises";
import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import { sendCustomResourceResponse } from "../../adapters/aws/cloudformation/custom-resource-response.ts";
import { TEARDOWN_NEEDS, teardownRequested } from "../events/teardown.ts";
import { logger, wrapHandler } from "./wrap-handler.ts";

/** The stack's teardown custom resource (lib/constructs/teardown.ts), invoked by CloudFormation. */
const cp = await buildPorts(TEARDOWN_NEEDS, { compute, commands });

export const handler = wrapHandler(async (event: unknown, context) => {
  const { response, report } = await teardownRequested(cp, event, {
    respond: sendCustomResourceResponse,
    remainingMs: () => context.getRemainingTimeInMillis(),
    logStream: context.logStreamName,
    // EC2's listing catches up with a terminate within seconds.
    teardown: { pause: () => sleep(10_000) },
  });
  if (response.Status === "FAILED") logger.error("teardown failed", { response, report });
  else logger.info("answered", { response, report });
});
