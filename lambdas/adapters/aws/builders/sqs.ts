import { SQSClient } from "@aws-sdk/client-sqs";
import type { ControlPlane } from "../../../use-cases/control-plane.ts";
import { TAGS } from "../ec2/ec2-compute.ts";
import type { Environment } from "../environment.ts";
import { SqsCommandQueue } from "../sqs/sqs-command-queue.ts";
import { type Builder, builder, once } from "./builder.ts";

type QueueEnvironment = Environment<"commandQueues" | "controlPlane" | "region">;

/** The partition and domain of a region's ARNs and endpoints. */
const partitionOf = (region: string) =>
  region.startsWith("cn-")
    ? { partition: "aws-cn", domain: "amazonaws.com.cn" }
    : { partition: region.startsWith("us-gov-") ? "aws-us-gov" : "aws", domain: "amazonaws.com" };

/** Shared by the commands port and the launches, whose user data names each instance's queue. */
const commandQueues = /* @__PURE__ */ once(
  ({ commandQueues, controlPlane, region }: QueueEnvironment) =>
    new SqsCommandQueue({
      client: new SQSClient({}),
      queuePrefix: commandQueues.COMMAND_QUEUE_PREFIX,
      instanceArnPrefix: `arn:${partitionOf(region.AWS_REGION).partition}:ec2:${region.AWS_REGION}:${commandQueues.ACCOUNT_ID}:instance/`,
      tags: { [TAGS.controlPlane]: controlPlane.CONTROL_PLANE_NAME },
    }),
);

/**
 * The URL SQS gives the queue `open` creates for an instance, known before the launch: the
 * user data carries it, and the queue is created only once the instance is recorded.
 */
export const commandQueueUrl = (environment: QueueEnvironment, instanceId: string) => {
  const region = environment.region.AWS_REGION;
  const queueName = commandQueues(environment).queueName(instanceId);
  return `https://sqs.${region}.${partitionOf(region).domain}/${environment.commandQueues.ACCOUNT_ID}/${queueName}`;
};

export const commands: Builder<ControlPlane["commands"]> = /* @__PURE__ */ builder(
  ["commandQueues", "controlPlane", "region"],
  commandQueues,
);
