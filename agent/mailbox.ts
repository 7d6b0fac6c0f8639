/**
 * Where the agent's commands arrive. Locally, the control plane's poll route, which holds
 * the request until a command arrives. On AWS, the instance's own SQS queue, long-polled
 * with the instance role: each message is one Command's JSON, deleted once taken.
 */
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { ControlPlane, PollOutcome } from "./client.ts";
import { describeError } from "./log.ts";

export interface Mailbox {
  /** Where commands come from, for the log. */
  readonly source: string;
  /** The next command, or none within the mailbox's wait; throws only once `signal` aborts. */
  next(envHashes: string[], signal: AbortSignal): Promise<PollOutcome>;
}

/** Locally: the control plane's poll route for this instance. */
export class PolledMailbox implements Mailbox {
  readonly #controlPlane: ControlPlane;
  readonly #instanceId: string;
  readonly #waitS: number;
  readonly source: string;

  constructor(controlPlane: ControlPlane, instanceId: string, waitS: number) {
    this.#controlPlane = controlPlane;
    this.#instanceId = instanceId;
    this.#waitS = waitS;
    this.source = controlPlane.endpoint;
  }

  next(envHashes: string[], signal: AbortSignal): Promise<PollOutcome> {
    const request = { envHashes, waitS: this.#waitS };
    return this.#controlPlane.poll(this.#instanceId, request, signal);
  }
}

/** On AWS: the instance's SQS queue, which only this instance's role session may read. */
export class QueueMailbox implements Mailbox {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #waitS: number;
  readonly source: string;

  constructor(client: SQSClient, queueUrl: string, waitS: number) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#waitS = waitS;
    this.source = queueUrl;
  }

  async next(_envHashes: string[], signal: AbortSignal): Promise<PollOutcome> {
    const QueueUrl = this.#queueUrl;
    let message: Message | undefined;
    try {
      const received = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 1,
          WaitTimeSeconds: this.#waitS,
        }),
        { abortSignal: signal },
      );
      message = received.Messages?.[0];
    } catch (error) {
      if (signal.aborted) throw error;
      return { type: "retry", reason: `receive: ${describeError(error)}` };
    }
    if (!message) return { type: "empty" };
    try {
      await this.#client.send(
        new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    } catch (error) {
      // Not taken: the queue hands the message out again once its visibility timeout ends.
      return { type: "retry", reason: `taking a command: ${describeError(error)}` };
    }
    return { type: "command", body: parsed(message.Body ?? "") };
  }
}

/** A message's JSON; a body that is not JSON is handed on as text, to be refused as a command. */
const parsed = (body: string): unknown => {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
};
