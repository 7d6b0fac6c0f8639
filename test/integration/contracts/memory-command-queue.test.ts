import type { Command } from "../../../agent/protocol.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import { commandQueueContract } from "./command-queue.contract.ts";

commandQueueContract("in memory", () => {
  const queue = new MemoryCommandQueue();
  return {
    queue,
    take: async (instanceId) => {
      const taken: Command[] = [];
      for (
        let command = await queue.next(instanceId, 0);
        command;
        command = await queue.next(instanceId, 0)
      )
        taken.push(command);
      return taken;
    },
  };
});
