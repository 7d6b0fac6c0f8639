/**
 * A stateful SQS behind aws-sdk-client-mock: queues by name with their attributes, tags and
 * messages, as far as the command queue and the agent's mailbox use them.
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  TagQueueCommand,
} from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";

interface FakeQueue {
  attributes: Record<string, string>;
  tags: Record<string, string>;
  messages: Array<{ body: string; receipt: string }>;
}

const BASE = "https://sqs.eu-west-1.amazonaws.com/123456789012/";

export const fakeSqs = () => {
  const client = new SQSClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const queues = new Map<string, FakeQueue>();
  let receipts = 0;
  const gone = () => new QueueDoesNotExist({ $metadata: {}, message: "no such queue" });
  const byUrl = (url: string | undefined) => {
    const queue = queues.get((url ?? "").replace(BASE, ""));
    if (!queue) throw gone();
    return queue;
  };
  const mock = mockClient(client);
  mock.on(CreateQueueCommand).callsFake(({ QueueName = "", Attributes = {}, tags = {} }) => {
    const existing = queues.get(QueueName);
    if (existing && JSON.stringify(existing.attributes) !== JSON.stringify(Attributes))
      throw new QueueNameExists({ $metadata: {}, message: "other attributes" });
    if (!existing) queues.set(QueueName, { attributes: Attributes, tags, messages: [] });
    return { QueueUrl: BASE + QueueName };
  });
  mock.on(GetQueueUrlCommand).callsFake(({ QueueName = "" }) => {
    if (!queues.has(QueueName)) throw gone();
    return { QueueUrl: BASE + QueueName };
  });
  mock.on(TagQueueCommand).callsFake(({ QueueUrl, Tags = {} }) => {
    Object.assign(byUrl(QueueUrl).tags, Tags);
    return {};
  });
  mock.on(SendMessageCommand).callsFake(({ QueueUrl, MessageBody = "" }) => {
    byUrl(QueueUrl).messages.push({ body: MessageBody, receipt: `r-${++receipts}` });
    return { MessageId: `m-${receipts}` };
  });
  mock.on(ReceiveMessageCommand).callsFake(({ QueueUrl, MaxNumberOfMessages = 1 }) => ({
    Messages: byUrl(QueueUrl)
      .messages.slice(0, MaxNumberOfMessages)
      .map(({ body, receipt }) => ({ Body: body, ReceiptHandle: receipt })),
  }));
  mock.on(DeleteMessageCommand).callsFake(({ QueueUrl, ReceiptHandle }) => {
    const queue = byUrl(QueueUrl);
    queue.messages = queue.messages.filter(({ receipt }) => receipt !== ReceiptHandle);
    return {};
  });
  mock.on(DeleteQueueCommand).callsFake(({ QueueUrl }) => {
    byUrl(QueueUrl);
    queues.delete((QueueUrl ?? "").replace(BASE, ""));
    return {};
  });
  return { client, mock, queues, urlOf: (name: string) => BASE + name };
};
