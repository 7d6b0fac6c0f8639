import type { Command } from "../../../agent/protocol.ts";
import type { CommandQueue } from "../../ports.ts";

/**
 * Agent mailboxes in memory: a waiting poll is woken the moment a command arrives. They
 * live as long as the local control plane, as the workflows waiting on them do.
 */
export class MemoryCommandQueue implements CommandQueue {
  private readonly queued = new Map<string, Command[]>();
  private readonly waiting = new Map<string, Array<(command: Command) => void>>();

  async push(instanceId: string, command: Command): Promise<void> {
    const waiter = this.waiting.get(instanceId)?.shift();
    if (waiter) waiter(command);
    else this.queued.set(instanceId, [...(this.queued.get(instanceId) ?? []), command]);
  }

  next(instanceId: string, waitS: number, signal?: AbortSignal): Promise<Command | undefined> {
    const command = this.queued.get(instanceId)?.shift();
    if (command || waitS === 0 || signal?.aborted) return Promise.resolve(command);
    return new Promise((resolve) => {
      const waiters = this.waiting.get(instanceId) ?? [];
      const stopWaiting = () => {
        clearTimeout(timer);
        const index = waiters.indexOf(deliver);
        if (index >= 0) waiters.splice(index, 1);
        resolve(undefined);
      };
      const deliver = (arrived: Command) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", stopWaiting);
        resolve(arrived);
      };
      const timer = setTimeout(stopWaiting, waitS * 1000);
      // A poll whose agent went away (stopped, crashed) must not swallow the next command.
      signal?.addEventListener("abort", stopWaiting, { once: true });
      waiters.push(deliver);
      this.waiting.set(instanceId, waiters);
    });
  }
}
