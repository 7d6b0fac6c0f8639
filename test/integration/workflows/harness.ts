import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import type {
  LocalWorkflows,
  TaskHandler,
} from "../../../lambdas/adapters/local/local-workflows.ts";

/** Path of a test state machine under test/fixtures/asl. */
export const fixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/asl/${name}.asl.json`, import.meta.url));

/** Stops, after each test of the calling file, every runner it tracked. */
export const stopAfterEach = () => {
  const running: LocalWorkflows[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((workflows) => workflows.stopAll()));
  });
  return (workflows: LocalWorkflows) => {
    running.push(workflows);
    return workflows;
  };
};

interface Call {
  // biome-ignore lint/suspicious/noExplicitAny: whatever the state's Parameters built
  input: any;
  taskToken: string;
}

/** A callback task's handler that records each call, for the test to answer in its place. */
export const agent = () => {
  const calls: Call[] = [];
  const listeners = new Set<() => void>();
  const handler: TaskHandler = async (input, { taskToken }) => {
    if (taskToken === undefined) throw new Error("a callback task got no token");
    calls.push({ input, taskToken });
    for (const listener of listeners) listener();
  };
  /** The n-th call (from 0), once it has happened. */
  const call = (n: number) =>
    new Promise<Call>((resolve) => {
      const check = () => {
        const found = calls[n];
        if (!found) return;
        listeners.delete(check);
        resolve(found);
      };
      listeners.add(check);
      check();
    });
  return { calls, handler, call };
};

export const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );
