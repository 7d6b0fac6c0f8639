import { describe, expect, it } from "vitest";
import { localCoolingTimers } from "../../../lambdas/adapters/local/local-cooling-timers.ts";
import {
  type ExecutionEnd,
  LocalWorkflows,
} from "../../../lambdas/adapters/local/local-workflows.ts";
import { fixture, stopAfterEach } from "./harness.ts";

const track = stopAfterEach();

describe("localCoolingTimers", () => {
  it("aborts the instance-cooling execution of that name, and no other; any other stop is a no-op", async () => {
    const ends: ExecutionEnd[] = [];
    // The hour-long Wait of the fixture, on both machines: nothing ends unless stopped.
    const workflows = new LocalWorkflows({
      definitions: { "instance-cooling": fixture("cooling"), "job-lifecycle": fixture("cooling") },
      substitutions: {},
      handlers: { "Close the instance": async () => ({}) },
      onExecutionEnd: (end) => ends.push(end),
    });
    track(workflows);
    const timers = localCoolingTimers(workflows);
    await workflows.start("instance-cooling", "gi-1-cooling-1", {});
    await workflows.start("instance-cooling", "gi-2-cooling-1", {});
    await workflows.start("job-lifecycle", "gi-1-cooling-1", {});

    await timers.stop("gi-1-cooling-1", "a job claimed the instance");
    await timers.stop("gi-1-cooling-1", "a job claimed the instance");
    await timers.stop("never-started", "a job claimed the instance");

    expect(ends).toEqual([
      expect.objectContaining({
        machine: "instance-cooling",
        name: "gi-1-cooling-1",
        status: "ABORTED",
      }),
    ]);
  });
});
