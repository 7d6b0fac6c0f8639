import { readFileSync } from "node:fs";
import type { TaskHandler } from "./local-workflows.ts";

interface TaskState {
  Type: string;
  Parameters?: { FunctionName?: string };
}

const PLACEHOLDER = /^\$\{(\w+)\}$/;

/**
 * Binds each Task state of the ASL files to the handler its `${...Function}` placeholder
 * names. The runner speaks Step Functions' Lambda integration itself: the handler gets
 * the state's `Payload` (with `$$.Task.Token` in it for a `.waitForTaskToken` state).
 */
export const bindTasks = (
  definitions: Record<string, string>,
  functions: Record<string, (payload: unknown) => Promise<unknown>>,
): { handlers: Record<string, TaskHandler>; substitutions: Record<string, string> } => {
  const handlers: Record<string, TaskHandler> = {};
  const substitutions: Record<string, string> = {};
  for (const path of Object.values(definitions)) {
    const states = JSON.parse(readFileSync(path, "utf8")).States as Record<string, TaskState>;
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== "Task") continue;
      const placeholder = PLACEHOLDER.exec(state.Parameters?.FunctionName ?? "")?.[1];
      const fn = placeholder ? functions[placeholder] : undefined;
      if (!placeholder || !fn)
        throw new Error(`${path}: state "${name}" invokes no known function`);
      substitutions[placeholder] = placeholder;
      handlers[name] = (payload: unknown) => fn(payload);
    }
  }
  return { handlers, substitutions };
};
