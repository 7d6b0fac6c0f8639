import type { Command } from "../../../agent/protocol.ts";
import { MailboxClosed, type PolledCommandQueue } from "../../ports.ts";

/**
 * Agent mailboxes in memory: a waiting poll is woken the moment a command arrives. They
 * live as long as the local control plane, as the workflows waiting on them do; so an
 * instance from before a restart gets a mailbox at its first command, without `open`.
 */
export class MemoryCommandQueue implements PolledCommandQueue {
  private readonly queued = new Map<string, Command[]>();
  private readonly waiting = new Map<string, Array<(command: Command) => void>>();
  private readonly closed = new Set<string>();

  async open(instanceId: string): Promise<void> {
    this.closed.delete(instanceId);
  }

  async close(instanceId: string): Promise<void> {
    this.closed.add(instanceId);
    this.queued.delete(instanceId);
  }

  async push(instanceId: string, command: Command): Promise<void> {
    if (this.closed.has(instanceId)) throw new MailboxClosed(instanceId);
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
