import { describe, expect, it } from "vitest";
import {
  aibroInstanceStatus,
  type Instance,
  type InstanceEvent,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import { runInstance } from "../../fixtures/instances.ts";

const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:env",
  region: "eu-west-1",
  owner: "ada",
};
const launched = (spot = false) => launchInstance({ id: "i-1", pool, spot, jobId: "job-1" });

const refusal = (instance: Instance, event: InstanceEvent) => {
  const result = transitionInstance(instance, event);
  return result.ok ? undefined : result.refusal.message;
};

const schedule = {
  coolingUntil: "2026-01-01T00:10:00.000Z",
  stoppedUntil: "2026-01-01T01:00:00.000Z",
};
const released = { type: "released", ...schedule } as const;
const cooling = () =>
  runInstance(launched(), { type: "agentRegistered" }, { type: "jobRunning" }, released);

describe("the instance lifecycle", () => {
  it("launches, executes, cools, stops and starts again for the next job", () => {
    const stopped = runInstance(
      cooling(),
      { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
      { type: "stopped" },
    );
    expect(aibroInstanceStatus(stopped)).toEqual({ status: "CLOSED", substatus: "STOPPED" });
    expect(runInstance(stopped, { type: "started", jobId: "job-2" })).toMatchObject({
      status: "LAUNCHING",
      jobId: "job-2",
    });
  });

  it("hands a cooling instance to exactly the job that claims it", () => {
    const claimed = runInstance(cooling(), { type: "claimed", jobId: "job-2" });
    expect(claimed).toMatchObject({ status: "LAUNCHING", jobId: "job-2" });
    expect(refusal(claimed, { type: "claimed", jobId: "job-3" })).toBe(
      "claimed in LAUNCHING: not a legal transition",
    );
  });

  // AIbro's map: the instance is LAUNCHING ("setting up instance for training") while its
  // job is QUEUING, reused or not, and EXECUTING from TRAINING on.
  it("stays LAUNCHING while its job is set up, warm, stopped or new, and executes once it runs", () => {
    const stopped = runInstance(
      cooling(),
      { type: "closeRequested", action: "stop" },
      { type: "stopped" },
    );
    for (const setUp of [
      runInstance(launched(), { type: "agentRegistered" }),
      runInstance(cooling(), { type: "claimed", jobId: "job-2" }),
      runInstance(stopped, { type: "started", jobId: "job-2" }, { type: "agentRegistered" }),
    ]) {
      expect(setUp.status).toBe("LAUNCHING");
      expect(runInstance(setUp, { type: "jobRunning" }).status).toBe("EXECUTING");
    }
  });

  it("cools an instance whose agent answered, even if its job never ran; closes one that never answered", () => {
    expect(runInstance(launched(), { type: "agentRegistered" }, released).status).toBe("COOLING");
    expect(runInstance(cooling(), { type: "claimed", jobId: "job-2" }, released).status).toBe(
      "COOLING",
    );
    expect(refusal(launched(), released)).toBe("released in LAUNCHING: not a legal transition");
  });

  it("carries its cooling schedule while cooling and stopped by it, and drops it for the next job", () => {
    expect(cooling()).toMatchObject(schedule);
    const stopped = runInstance(
      cooling(),
      { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
      { type: "stopped" },
    );
    expect(stopped).toMatchObject(schedule);
    expect(runInstance(stopped, { type: "started", jobId: "job-2" })).not.toHaveProperty(
      "coolingUntil",
    );
    expect(runInstance(cooling(), { type: "claimed", jobId: "job-2" })).not.toHaveProperty(
      "stoppedUntil",
    );
    expect(
      runInstance(stopped, { type: "closeRequested", action: "terminate" }),
    ).not.toHaveProperty("coolingUntil");
  });

  it("terminates an instance whose cooling timer failed, unless a job took it since", () => {
    const failed = { type: "coolingFailed", coolingEpoch: 1, cause: "timer failed" } as const;
    expect(runInstance(cooling(), failed)).toMatchObject({
      status: "CLOSING",
      substatus: "TERMINATING",
    });
    const stopped = runInstance(
      cooling(),
      { type: "closeRequested", action: "stop" },
      { type: "stopped" },
    );
    expect(runInstance(stopped, failed)).toMatchObject({
      status: "CLOSING",
      substatus: "TERMINATING",
    });
    const reused = runInstance(cooling(), { type: "claimed", jobId: "job-2" });
    expect(refusal(reused, failed)).toBeDefined();
    expect(refusal(runInstance(reused, released), failed)).toContain("reused since");
  });

  it("is stopped again, its cooling plan back, when the compute cannot start it", () => {
    const stopped = runInstance(
      cooling(),
      { type: "coolingExpired", coolingEpoch: 1, action: "stop" },
      { type: "stopped" },
    );
    const starting = runInstance(stopped, { type: "started", jobId: "job-2" });
    const back = runInstance(starting, { type: "startFailed", ...schedule });
    expect(back).toMatchObject({ status: "CLOSED", substatus: "STOPPED", ...schedule });
    // Its cooling timer, still waiting, terminates it as planned: the epoch did not move.
    expect(back.coolingEpoch).toBe(stopped.coolingEpoch);
    expect(
      refusal(runInstance(starting, { type: "agentRegistered" }), { type: "startFailed" }),
    ).toBe("startFailed in LAUNCHING: not a legal transition");
    expect(refusal(cooling(), { type: "startFailed" })).toBeDefined();
  });

  it("is recorded stopped when it stopped on its own while in use, its cooling plan kept if it had one", () => {
    const outside = { type: "stoppedOutside" } as const;
    const wasCooling = runInstance(cooling(), outside);
    expect(wasCooling).toMatchObject({ status: "CLOSED", substatus: "STOPPED", ...schedule });
    expect(wasCooling.coolingEpoch).toBe(cooling().coolingEpoch);
    const midJob = runInstance(
      launched(),
      { type: "agentRegistered" },
      { type: "jobRunning" },
      outside,
    );
    expect(midJob).toMatchObject({ status: "CLOSED", substatus: "STOPPED" });
    expect(midJob).not.toHaveProperty("stoppedUntil");
    expect(refusal(wasCooling, outside)).toBe(
      "stoppedOutside in CLOSED/STOPPED: not a legal transition",
    );
    const closing = runInstance(cooling(), { type: "closeRequested", action: "stop" });
    expect(refusal(closing, outside)).toBeDefined();
    expect(refusal(runInstance(launched(true), { type: "agentRegistered" }), outside)).toContain(
      "only terminated",
    );
  });

  it("keeps the compute's id for it through every change", () => {
    const instance = launchInstance({
      id: "i-1",
      providerId: "i-0abc",
      pool,
      spot: false,
      jobId: "j",
    });
    expect(runInstance(instance, { type: "agentRegistered" }, released)).toMatchObject({
      providerId: "i-0abc",
    });
  });

  it("ignores a stale cooling timer once the instance was reused", () => {
    const reused = runInstance(cooling(), { type: "claimed", jobId: "job-2" }, released);
    expect(reused.coolingEpoch).toBe(2);
    expect(refusal(reused, { type: "coolingExpired", coolingEpoch: 1, action: "terminate" })).toBe(
      "coolingExpired in COOLING: the instance was reused since",
    );
  });

  it("terminates, never stops, a spot instance", () => {
    const spot = runInstance(launched(true), { type: "agentRegistered" }, released);
    expect(refusal(spot, { type: "coolingExpired", coolingEpoch: 1, action: "stop" })).toContain(
      "cannot be stopped",
    );
    expect(runInstance(spot, { type: "closeRequested", action: "terminate" })).toMatchObject({
      status: "CLOSING",
      substatus: "TERMINATING",
    });
  });

  it("records a vanished instance as terminated from any state but terminated", () => {
    for (const instance of [
      launched(),
      cooling(),
      runInstance(cooling(), { type: "closeRequested", action: "stop" }),
    ]) {
      expect(runInstance(instance, { type: "terminated" })).toMatchObject({
        status: "CLOSED",
        substatus: "TERMINATED",
      });
    }
    const gone = runInstance(launched(), { type: "terminated" });
    expect(refusal(gone, { type: "terminated" })).toBeDefined();
    expect(refusal(gone, { type: "started", jobId: "job-2" })).toBeDefined();
  });

  it("only terminates a stopped instance, and reports AIbro's COOLING substatus", () => {
    const stopped = runInstance(
      cooling(),
      { type: "closeRequested", action: "stop" },
      { type: "stopped" },
    );
    expect(refusal(stopped, { type: "closeRequested", action: "stop" })).toBeDefined();
    expect(runInstance(stopped, { type: "closeRequested", action: "terminate" })).toMatchObject({
      substatus: "TERMINATING",
    });
    expect(aibroInstanceStatus(cooling())).toEqual({ status: "COOLING", substatus: "COOLING" });
    expect(aibroInstanceStatus(launched())).toEqual({ status: "LAUNCHING" });
  });
});
