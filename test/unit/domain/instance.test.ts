import { describe, expect, it } from "vitest";
import {
  aibroInstanceStatus,
  type Instance,
  type InstanceEvent,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";

const pool = { instanceType: "g5.xlarge", envHash: "sha256:env", region: "eu-west-1" };
const launched = (spot = false) => launchInstance({ id: "i-1", pool, spot, jobId: "job-1" });

const run = (instance: Instance, ...events: InstanceEvent[]): Instance =>
  events.reduce((current, event) => {
    const result = transitionInstance(current, event);
    if (!result.ok) throw new Error(result.refusal.message);
    return result.instance;
  }, instance);

const refusal = (instance: Instance, event: InstanceEvent) => {
  const result = transitionInstance(instance, event);
  return result.ok ? undefined : result.refusal.message;
};

const cooling = () => run(launched(), { type: "agentRegistered" }, { type: "released" });

describe("the instance lifecycle", () => {
  it("launches, executes, cools, stops and starts again for the next job", () => {
    const stopped = run(
      cooling(),
      { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
      { type: "stopped" },
    );
    expect(aibroInstanceStatus(stopped)).toEqual({ status: "CLOSED", substatus: "STOPPED" });
    expect(run(stopped, { type: "started", jobId: "job-2" })).toMatchObject({
      status: "LAUNCHING",
      jobId: "job-2",
    });
  });

  it("hands a cooling instance to exactly the job that claims it", () => {
    const claimed = run(cooling(), { type: "claimed", jobId: "job-2" });
    expect(claimed).toMatchObject({ status: "EXECUTING", jobId: "job-2" });
    expect(refusal(claimed, { type: "claimed", jobId: "job-3" })).toBe(
      "claimed in EXECUTING: not a legal transition",
    );
  });

  it("ignores a stale cooling timer once the instance was reused", () => {
    const reused = run(cooling(), { type: "claimed", jobId: "job-2" }, { type: "released" });
    expect(reused.coolingEpoch).toBe(2);
    expect(refusal(reused, { type: "coolingExpired", coolingEpoch: 1, action: "terminate" })).toBe(
      "coolingExpired in COOLING: the instance was reused since",
    );
  });

  it("terminates, never stops, a spot instance", () => {
    const spot = run(launched(true), { type: "agentRegistered" }, { type: "released" });
    expect(refusal(spot, { type: "coolingExpired", coolingEpoch: 1, action: "stop" })).toContain(
      "cannot be stopped",
    );
    expect(run(spot, { type: "closeRequested", action: "terminate" })).toMatchObject({
      status: "CLOSING",
      substatus: "TERMINATING",
    });
  });

  it("records a vanished instance as terminated from any state but terminated", () => {
    for (const instance of [
      launched(),
      cooling(),
      run(cooling(), { type: "closeRequested", action: "stop" }),
    ]) {
      expect(run(instance, { type: "terminated" })).toMatchObject({
        status: "CLOSED",
        substatus: "TERMINATED",
      });
    }
    const gone = run(launched(), { type: "terminated" });
    expect(refusal(gone, { type: "terminated" })).toBeDefined();
    expect(refusal(gone, { type: "started", jobId: "job-2" })).toBeDefined();
  });

  it("only terminates a stopped instance, and reports AIbro's COOLING substatus", () => {
    const stopped = run(cooling(), { type: "closeRequested", action: "stop" }, { type: "stopped" });
    expect(refusal(stopped, { type: "closeRequested", action: "stop" })).toBeDefined();
    expect(run(stopped, { type: "closeRequested", action: "terminate" })).toMatchObject({
      substatus: "TERMINATING",
    });
    expect(aibroInstanceStatus(cooling())).toEqual({ status: "COOLING", substatus: "COOLING" });
    expect(aibroInstanceStatus(launched())).toEqual({ status: "LAUNCHING" });
  });
});
