import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  QueueNameExists,
  SendMessageCommand,
  type SQSClient,
  TagQueueCommand,
} from "@aws-sdk/client-sqs";
import type { Command } from "../../../../agent/protocol.ts";
import { type CommandQueue, MailboxClosed } from "../../../ports.ts";

/** SQS's limits on a queue name and a message body. */
const MAX_QUEUE_NAME = 80;
const QUEUE_NAME_CHARS = /^[A-Za-z0-9_-]+$/;
const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * The tag the instance role's policy matches against the caller's `ec2:SourceInstanceARN`:
 * only the agent on that EC2 instance may receive and delete the queue's messages.
 */
export const AGENT_INSTANCE_TAG = "gpuctl:agent-instance-arn";
export const GPUCTL_INSTANCE_TAG = "gpuctl:instance";

/**
 * The queue's settings, the same on every open so that a retried CreateQueue finds the
 * queue it made (a CreateQueue with other attributes fails with QueueNameExists).
 */
const QUEUE_ATTRIBUTES: Record<string, string> = {
  // Receives wait for a message by default, so no agent ever polls in a tight loop.
  ReceiveMessageWaitTimeSeconds: "20",
  // A command received and not deleted (the agent died taking it) comes back this soon.
  VisibilityTimeout: "30",
  // A command nobody took in a day is for an instance that is not coming back.
  MessageRetentionPeriod: "86400",
  SqsManagedSseEnabled: "true",
};

export interface SqsCommandQueueOptions {
  client: SQSClient;
  /** Starts every queue's name: the stack's name, so that two installations never share a queue. */
  queuePrefix: string;
  /** `arn:<partition>:ec2:<region>:<account>:instance/`: with the EC2 instance id, its ARN. */
  instanceArnPrefix: string;
  /** Put on every queue besides the instance's own tags (the control plane's, for cost and IAM). */
  tags?: Record<string, string>;
}

/**
 * An SQS queue per instance, named `<queuePrefix><gpuctl instance id>`: the control plane
 * sends each command as one message (the Command's JSON); the agent long-polls its queue
 * with its instance role and deletes each message it takes. Queue URLs are remembered per
 * container, so a command costs one SendMessage after the first.
 */
export class SqsCommandQueue implements CommandQueue {
  readonly #options: SqsCommandQueueOptions;
  readonly #urls = new Map<string, string>();

  constructor(options: SqsCommandQueueOptions) {
    if (!QUEUE_NAME_CHARS.test(options.queuePrefix)) {
      throw new Error(
        `queuePrefix: must be letters, digits, hyphens or underscores, not "${options.queuePrefix}"`,
      );
    }
    this.#options = options;
  }

  /** The queue of a gpuctl instance; ids are the control plane's own, so a bad one is a bug. */
  queueName(instanceId: string): string {
    const name = this.#options.queuePrefix + instanceId;
    if (name.length > MAX_QUEUE_NAME || !QUEUE_NAME_CHARS.test(instanceId)) {
      throw new Error(
        `instanceId: "${instanceId}" makes the queue name "${name}", which SQS refuses ` +
          `(at most ${MAX_QUEUE_NAME} letters, digits, hyphens or underscores)`,
      );
    }
    return name;
  }

  async open(instanceId: string, providerId?: string): Promise<void> {
    const QueueName = this.queueName(instanceId);
    let url: string | undefined;
    try {
      ({ QueueUrl: url } = await this.#options.client.send(
        new CreateQueueCommand({
          QueueName,
          Attributes: QUEUE_ATTRIBUTES,
          tags: { ...this.#options.tags, [GPUCTL_INSTANCE_TAG]: instanceId },
        }),
      ));
    } catch (error) {
      if (error instanceof QueueNameExists) {
        throw new Error(
          `queue ${QueueName} exists with other attributes than this version sets: ${error.message}`,
        );
      }
      throw error;
    }
    if (!url) throw new Error(`CreateQueue ${QueueName} answered no QueueUrl`);
    this.#urls.set(instanceId, url);
    // Tagged on its own, so that a retried open binds a queue that an earlier try created.
    if (providerId !== undefined) {
      await this.#options.client.send(
        new TagQueueCommand({
          QueueUrl: url,
          Tags: { [AGENT_INSTANCE_TAG]: this.#options.instanceArnPrefix + providerId },
        }),
      );
    }
  }

  async push(instanceId: string, command: Command): Promise<void> {
    const body = JSON.stringify(command);
    const bytes = Buffer.byteLength(body);
    if (bytes > MAX_MESSAGE_BYTES) {
      throw new Error(
        `command ${command.type} for instance ${instanceId} is ${bytes} bytes; ` +
          `an SQS message holds at most ${MAX_MESSAGE_BYTES}`,
      );
    }
    try {
      const QueueUrl = await this.#url(instanceId);
      await this.#options.client.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    } catch (error) {
      if (error instanceof QueueDoesNotExist) {
        this.#urls.delete(instanceId);
        throw new MailboxClosed(instanceId);
      }
      throw error;
    }
  }

  async close(instanceId: string): Promise<void> {
    try {
      const QueueUrl = await this.#url(instanceId);
      await this.#options.client.send(new DeleteQueueCommand({ QueueUrl }));
    } catch (error) {
      if (!(error instanceof QueueDoesNotExist)) throw error;
    }
    this.#urls.delete(instanceId);
  }

  async #url(instanceId: string): Promise<string> {
    const known = this.#urls.get(instanceId);
    if (known) return known;
    const QueueName = this.queueName(instanceId);
    const { QueueUrl } = await this.#options.client.send(new GetQueueUrlCommand({ QueueName }));
    if (!QueueUrl) throw new Error(`GetQueueUrl ${QueueName} answered no QueueUrl`);
    this.#urls.set(instanceId, QueueUrl);
    return QueueUrl;
  }
}
