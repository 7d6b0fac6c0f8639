import { ExecutionAlreadyExists, type StateMachineName, type Workflows } from "../ports.ts";

/**
 * Starts the execution an attempt is named after, unless that attempt was started before:
 * Step Functions then answers ExecutionAlreadyExists (unless the start is the very request of
 * the execution still running), and a replayed request or a retried task has nothing more to
 * start. A caller that means a new attempt gives it a new name instead.
 */
export const startOnce = async (
  workflows: Workflows,
  machine: StateMachineName,
  name: string,
  input: Record<string, unknown>,
): Promise<void> => {
  try {
    await workflows.start(machine, name, input);
  } catch (error) {
    if (!(error instanceof ExecutionAlreadyExists)) throw error;
  }
};
