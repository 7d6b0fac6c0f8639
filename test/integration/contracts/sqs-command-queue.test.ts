import { QueueMailbox } from "../../../agent/mailbox.ts";
import { Command } from "../../../agent/protocol.ts";
import { SqsCommandQueue } from "../../../lambdas/adapters/aws/sqs/sqs-command-queue.ts";
import { commandQueueContract } from "./command-queue.contract.ts";
import { fakeSqs } from "./fake-sqs.ts";

commandQueueContract("SQS", () => {
  const sqs = fakeSqs();
  const queue = new SqsCommandQueue({
    client: sqs.client,
    queuePrefix: "gpuctl-",
    instanceArnPrefix: "arn:aws:ec2:eu-west-1:123456789012:instance/",
  });
  return {
    queue,
    // As the agent takes them: its own mailbox over the same queue.
    take: async (instanceId) => {
      const url = sqs.urlOf(queue.queueName(instanceId));
      const mailbox = new QueueMailbox(sqs.client, url, 0);
      const taken: Command[] = [];
      for (;;) {
        const outcome = await mailbox.next([], new AbortController().signal);
        if (outcome.type !== "command") break;
        taken.push(Command.parse(outcome.body));
      }
      return taken;
    },
  };
});
