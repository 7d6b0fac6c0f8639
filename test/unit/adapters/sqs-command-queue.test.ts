/** The SQS command queue: the exact requests it makes, and how it takes SQS's faults. */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SendMessageCommand,
  SQSClient,
  TagQueueCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { Command } from "../../../agent/protocol.ts";
import {
  AGENT_INSTANCE_TAG,
  GPUCTL_INSTANCE_TAG,
  SqsCommandQueue,
} from "../../../lambdas/adapters/aws/sqs/sqs-command-queue.ts";
import { MailboxClosed } from "../../../lambdas/ports.ts";

const REGION = "eu-west-1";
const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
const URL_OF = (name: string) => `https://sqs.${REGION}.amazonaws.com/123456789012/${name}`;
const ARN_PREFIX = `arn:aws:ec2:${REGION}:123456789012:instance/`;
const client = new SQSClient({ region: REGION, credentials: CREDENTIALS });
const sqs = mockClient(client);
const queueOf = (sqsClient: SQSClient) =>
  new SqsCommandQueue({
    client: sqsClient,
    queuePrefix: "gpuctl-prod-",
    instanceArnPrefix: ARN_PREFIX,
    tags: { "gpuctl:control-plane": "prod" },
  });
const abort: Command = { type: "abort", jobId: "j-1" };
const gone = () =>
  new QueueDoesNotExist({ $metadata: {}, message: "The specified queue does not exist." });

const md5 = (text: string) => createHash("md5").update(text).digest("hex");

beforeEach(() => sqs.reset());

describe("SqsCommandQueue requests", () => {
  it("creates the instance's queue, then binds it to the EC2 instance by tag", async () => {
    sqs.on(CreateQueueCommand).resolves({ QueueUrl: URL_OF("gpuctl-prod-gi-0123") });
    sqs.on(TagQueueCommand).resolves({});
    await queueOf(client).open("gi-0123", "i-0abc");
    expect(sqs).toHaveReceivedCommandWith(CreateQueueCommand, {
      QueueName: "gpuctl-prod-gi-0123",
      Attributes: {
        ReceiveMessageWaitTimeSeconds: "20",
        VisibilityTimeout: "30",
        MessageRetentionPeriod: "86400",
        SqsManagedSseEnabled: "true",
      },
      tags: { "gpuctl:control-plane": "prod", [GPUCTL_INSTANCE_TAG]: "gi-0123" },
    });
    expect(sqs).toHaveReceivedCommandWith(TagQueueCommand, {
      QueueUrl: URL_OF("gpuctl-prod-gi-0123"),
      Tags: { [AGENT_INSTANCE_TAG]: `${ARN_PREFIX}i-0abc` },
    });
  });

  it("sends a command as its JSON, with the URL CreateQueue answered", async () => {
    sqs.on(CreateQueueCommand).resolves({ QueueUrl: URL_OF("gpuctl-prod-gi-0123") });
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    const queue = queueOf(client);
    await queue.open("gi-0123");
    await queue.push("gi-0123", abort);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: URL_OF("gpuctl-prod-gi-0123"),
      MessageBody: JSON.stringify(abort),
    });
    expect(sqs).not.toHaveReceivedCommand(GetQueueUrlCommand);
    expect(sqs).not.toHaveReceivedCommand(TagQueueCommand);
  });

  it("looks the queue up by name in a container that did not open it, then deletes it", async () => {
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: URL_OF("gpuctl-prod-gi-0123") });
    sqs.on(DeleteQueueCommand).resolves({});
    await queueOf(client).close("gi-0123");
    expect(sqs).toHaveReceivedCommandWith(GetQueueUrlCommand, { QueueName: "gpuctl-prod-gi-0123" });
    expect(sqs).toHaveReceivedCommandWith(DeleteQueueCommand, {
      QueueUrl: URL_OF("gpuctl-prod-gi-0123"),
    });
  });

  it("refuses a command over SQS's 256 KiB without sending it", async () => {
    const huge = { ...abort, jobId: "j".repeat(256 * 1024) };
    await expect(queueOf(client).push("gi-0123", huge)).rejects.toThrow(
      /abort for instance gi-0123 is \d+ bytes; an SQS message holds at most 262144/,
    );
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it("refuses a queue name SQS would refuse, naming the field", () => {
    expect(() => queueOf(client).queueName("x".repeat(80))).toThrow(/instanceId: .*at most 80/);
    expect(() => queueOf(client).queueName("gi/0123")).toThrow(/instanceId/);
    expect(
      () => new SqsCommandQueue({ client, queuePrefix: "a.b", instanceArnPrefix: ARN_PREFIX }),
    ).toThrow(/queuePrefix/);
  });
});

describe("SqsCommandQueue faults", () => {
  it("takes a queue that is gone on send as a closed mailbox", async () => {
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: URL_OF("gpuctl-prod-gi-0123") });
    sqs.on(SendMessageCommand).rejects(gone());
    const pushed = queueOf(client).push("gi-0123", abort);
    await expect(pushed).rejects.toBeInstanceOf(MailboxClosed);
    await expect(pushed).rejects.toThrow("instance gi-0123 has no mailbox: it was terminated");
  });

  it("takes a queue that is gone on delete as deleted", async () => {
    sqs.on(GetQueueUrlCommand).rejects(gone());
    await queueOf(client).close("gi-0123");
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: URL_OF("gpuctl-prod-gi-0123") });
    sqs.on(DeleteQueueCommand).rejects(gone());
    await queueOf(client).close("gi-0123");
  });

  it("retries a throttled request with the SDK's backoff", async () => {
    const answers = [
      {
        statusCode: 400,
        body: {
          __type: "com.amazon.coral.availability#ThrottlingException",
          message: "Rate exceeded",
        },
      },
      { statusCode: 200, body: { QueueUrl: URL_OF("gpuctl-prod-gi-0123") } },
      // SendMessage's answer carries the body's MD5, which the SDK checks.
      { statusCode: 200, body: { MessageId: "m-1", MD5OfMessageBody: md5(JSON.stringify(abort)) } },
    ];
    const sent: string[] = [];
    const throttled = new SQSClient({
      region: REGION,
      credentials: CREDENTIALS,
      maxAttempts: 3,
      requestHandler: {
        handle: async (request: { headers: Record<string, string> }) => {
          sent.push(request.headers["x-amz-target"] ?? "");
          const answer = answers.shift() ?? { statusCode: 500, body: {} };
          return {
            response: {
              statusCode: answer.statusCode,
              reason: "",
              headers: { "content-type": "application/x-amz-json-1.0" },
              body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
            },
          };
        },
      },
    });
    await queueOf(throttled).push("gi-0123", abort);
    expect(sent).toEqual([
      "AmazonSQS.GetQueueUrl",
      "AmazonSQS.GetQueueUrl",
      "AmazonSQS.SendMessage",
    ]);
  });
});
