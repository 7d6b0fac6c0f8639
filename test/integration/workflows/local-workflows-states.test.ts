import { describe, expect, it } from "vitest";
import {
  LocalWorkflows,
  type TaskHandler,
} from "../../../lambdas/adapters/local/local-workflows.ts";
import { fixture, stopAfterEach } from "./harness.ts";

const track = stopAfterEach();

/** The cooling fixture as "instance-cooling", the Parallel one as "job-lifecycle". */
const workflowsFor = (handlers: Record<string, TaskHandler> = {}) => {
  const workflows = new LocalWorkflows({
    definitions: { "instance-cooling": fixture("cooling"), "job-lifecycle": fixture("fan-out") },
    substitutions: {},
    handlers: {
      "Close the instance": async () => ({}),
      // Callback tasks: each then waits for a token no one sends.
      "Run worker A": async () => {},
      "Run worker B": async () => {},
      ...handlers,
    },
    waitTimeOverrides: () => 0,
    retryIntervalOverrides: () => 0,
  });
  track(workflows);
  return workflows;
};

describe("LocalWorkflows: the states each execution entered", () => {
  it("lists each state once, in order, however often a Retry ran it", async () => {
    let attempts = 0;
    const workflows = workflowsFor({
      "Close the instance": async () => {
        attempts += 1;
        if (attempts === 1) throw Object.assign(new Error("claimed"), { name: "gpuctl.Busy" });
        return { stopped: true };
      },
    });

    const { executionId } = await workflows.start("instance-cooling", "i-1", {});
    await workflows.whenDone(executionId);

    expect(attempts).toBe(2);
    expect(workflows.statesEntered(executionId)).toEqual([
      "Keep the instance warm",
      "Close the instance",
    ]);
    expect(workflows.transitions(executionId)).toBe(2);
  });

  it("includes the states inside a Parallel state", async () => {
    const workflows = workflowsFor();

    const { executionId } = await workflows.start("job-lifecycle", "job-1", {});
    // Both workers wait for their tokens: stop once both were entered.
    while (workflows.transitions(executionId) < 3) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await workflows.stopAll();

    expect(workflows.statesEntered(executionId).sort()).toEqual([
      "Run the workers",
      "Run worker A",
      "Run worker B",
    ]);
  });

  it("lists every execution started, oldest first, once per name", async () => {
    const workflows = workflowsFor();

    const first = await workflows.start("instance-cooling", "i-1", {});
    const second = await workflows.start("job-lifecycle", "i-2", {});
    await workflows.start("instance-cooling", "i-1", {});

    expect(workflows.executions()).toEqual([
      { machine: "instance-cooling", name: "i-1", executionId: first.executionId },
      { machine: "job-lifecycle", name: "i-2", executionId: second.executionId },
    ]);
  });

  it("fails for an execution it never started", () => {
    const workflows = workflowsFor();
    expect(() => workflows.statesEntered("made-up")).toThrow("execution made-up does not exist");
  });
});
