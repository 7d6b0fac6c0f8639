import type { Command } from "../../agent/protocol.ts";
import { MailboxClosed } from "../ports.ts";
import type { Ports } from "./control-plane.ts";

/** A command for the instance's agent; an instance already gone has no agent to tell. */
export const tellAgent = async (
  cp: Ports<"commands">,
  instanceId: string,
  command: Command,
): Promise<void> => {
  try {
    await cp.commands.push(instanceId, command);
  } catch (error) {
    if (!(error instanceof MailboxClosed)) throw error;
  }
};
