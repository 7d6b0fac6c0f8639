/**
 * What every CommandQueue does, whichever service holds the mailboxes: run against the
 * in-memory queue and the SQS adapter, so that the two cannot drift.
 */
import { describe, expect, it } from "vitest";
import type { Command } from "../../../agent/protocol.ts";
import { type CommandQueue, MailboxClosed } from "../../../lambdas/ports.ts";

export interface CommandQueueSubject {
  queue: CommandQueue;
  /** Takes every command waiting in the instance's mailbox, as its agent would. */
  take(instanceId: string): Promise<Command[]>;
}

const abort = (jobId: string): Command => ({ type: "abort", jobId });

export const commandQueueContract = (name: string, subject: () => CommandQueueSubject) =>
  describe(`CommandQueue contract: ${name}`, () => {
    it("delivers an open mailbox's commands in the order they were pushed", async () => {
      const { queue, take } = subject();
      await queue.open("gi-a", "i-0a");
      await queue.push("gi-a", abort("j-1"));
      await queue.push("gi-a", abort("j-2"));
      expect(await take("gi-a")).toEqual([abort("j-1"), abort("j-2")]);
      expect(await take("gi-a")).toEqual([]);
    });

    it("keeps mailboxes apart", async () => {
      const { queue, take } = subject();
      await queue.open("gi-a", "i-0a");
      await queue.open("gi-b", "i-0b");
      await queue.push("gi-a", abort("j-1"));
      expect(await take("gi-b")).toEqual([]);
      expect(await take("gi-a")).toEqual([abort("j-1")]);
    });

    it("opens a mailbox again without losing what it holds (a retried launch)", async () => {
      const { queue, take } = subject();
      await queue.open("gi-a", "i-0a");
      await queue.push("gi-a", abort("j-1"));
      await queue.open("gi-a", "i-0a");
      expect(await take("gi-a")).toEqual([abort("j-1")]);
    });

    it("refuses commands for a closed mailbox with MailboxClosed", async () => {
      const { queue } = subject();
      await queue.open("gi-a", "i-0a");
      await queue.close("gi-a");
      const pushed = queue.push("gi-a", abort("j-1"));
      await expect(pushed).rejects.toBeInstanceOf(MailboxClosed);
      await expect(pushed).rejects.toThrow("gi-a");
    });

    it("closes a closed mailbox, or one never opened, as a success", async () => {
      const { queue } = subject();
      await queue.open("gi-a", "i-0a");
      await queue.close("gi-a");
      await queue.close("gi-a");
      await queue.close("gi-never");
    });
  });
