/** The agent's SQS mailbox: long-polls its queue, and deletes a message only once it took it. */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SQSServiceException,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { QueueMailbox } from "../../../agent/mailbox.ts";

const QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/gpuctl-gi-0123";
const client = new SQSClient({
  region: "eu-west-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const sqs = mockClient(client);
const mailbox = new QueueMailbox(client, QUEUE_URL, 20);
const abort = { type: "abort", jobId: "j-1" };

beforeEach(() => sqs.reset());

describe("QueueMailbox", () => {
  it("long-polls for one message, deletes it, and hands its command on", async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [{ Body: JSON.stringify(abort), ReceiptHandle: "receipt-1" }],
    });
    sqs.on(DeleteMessageCommand).resolves({});
    expect(await mailbox.next([], new AbortController().signal)).toEqual({
      type: "command",
      body: abort,
    });
    expect(sqs).toHaveReceivedCommandWith(ReceiveMessageCommand, {
      QueueUrl: QUEUE_URL,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 20,
    });
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageCommand, {
      QueueUrl: QUEUE_URL,
      ReceiptHandle: "receipt-1",
    });
  });

  it("deletes nothing when no message came", async () => {
    sqs.on(ReceiveMessageCommand).resolves({});
    expect(await mailbox.next([], new AbortController().signal)).toEqual({ type: "empty" });
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
  });

  it("does not hand on a command it could not delete: the queue hands it out again", async () => {
    sqs.on(ReceiveMessageCommand).resolves({
      Messages: [{ Body: JSON.stringify(abort), ReceiptHandle: "receipt-1" }],
    });
    sqs.on(DeleteMessageCommand).rejects(
      new SQSServiceException({
        name: "InternalError",
        $fault: "server",
        $metadata: {},
        message: "try again",
      }),
    );
    const outcome = await mailbox.next([], new AbortController().signal);
    expect(outcome).toMatchObject({ type: "retry" });
  });

  it("retries when the queue cannot be read (not bound to this instance yet, say)", async () => {
    sqs.on(ReceiveMessageCommand).rejects(
      new SQSServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: {},
        message: "not authorized",
      }),
    );
    expect(await mailbox.next([], new AbortController().signal)).toMatchObject({
      type: "retry",
      reason: expect.stringContaining("not authorized"),
    });
  });

  it("throws once the agent stops", async () => {
    const stopping = new AbortController();
    sqs.on(ReceiveMessageCommand).callsFake(() => {
      stopping.abort();
      throw new Error("aborted");
    });
    await expect(mailbox.next([], stopping.signal)).rejects.toThrow("aborted");
  });

  it("hands on a body that is not JSON as text, to be refused as a command", async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [{ Body: "{oops", ReceiptHandle: "r" }] });
    sqs.on(DeleteMessageCommand).resolves({});
    expect(await mailbox.next([], new AbortController().signal)).toEqual({
      type: "command",
      body: "{oops",
    });
  });
});
