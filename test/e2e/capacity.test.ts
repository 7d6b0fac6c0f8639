/**
 * The capacity paths on the local control plane, one compute fault at a time: the real
 * workflow (its Retry and back-off), the real stores, real agent processes. The machine
 * "has GPUs" here, so the compute offers two types: `local-gpu` and `local`.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { ComputeFaultRule } from "../../lambdas/adapters/local/compute-faults.ts";
import type { JobSpecInput } from "../../lambdas/domain/job-spec.ts";
import type { InstanceView, JobView } from "../../sdk/api-types.ts";
import { FULL_RUN, startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane({ gpuProbe: async () => true });
});
afterAll(async () => {
  await plane?.stop();
});

/** Injects `rule` for this test only. */
const inject = (rule: ComputeFaultRule) => {
  plane.faults.inject(rule);
  onTestFinished(() => plane.faults.clear());
};

/**
 * A quick training job in an env of its own (its `setup` names it), so no instance an
 * earlier test left warm or stopped can take it: each test's job needs the compute.
 */
const ownEnvSpec = (env: string, overrides: Partial<JobSpecInput> = {}) =>
  trainingSpec({ setup: `true # ${env}`, ...overrides });

const instance = async (id: string | undefined): Promise<InstanceView | undefined> =>
  (await plane.client.listInstances()).find((candidate) => candidate.id === id);

const dialectsOf = (job: Pick<JobView, "dialects">) => ({
  aibro: `${job.dialects.aibro.status} / ${job.dialects.aibro.substatus}`,
  runai: job.dialects.runai.status,
  modelarts: `${job.dialects.modelarts.code} ${job.dialects.modelarts.name}`,
});

/** Polls until `check` holds; fails saying `what` after `timeoutMs`. */
const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still not so after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const eventTypes = async (jobId: string) =>
  (await plane.client.jobEvents(jobId)).map((event) => event.type);

describe("capacity", () => {
  it("runs on the spec's second instance type when the first has no capacity", async () => {
    inject({ fault: "noCapacity", instanceType: "local-gpu" });
    const spec = ownEnvSpec("second type", { instance: { types: ["local-gpu", "local"] } });
    const done = await plane.finished((await plane.client.submitJob(spec)).id);

    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1 });
    expect(await instance(done.instanceId)).toMatchObject({ instanceType: "local" });
    expect(await plane.phasesOf(done.id)).toEqual(FULL_RUN);
  });

  it("takes on-demand capacity when spot is not granted", async () => {
    inject({ fault: "spotUnavailable" });
    const spec = ownEnvSpec("spot fallback", {
      instance: { types: ["local"], spot: true, onDemandFallback: true },
    });
    const done = await plane.finished((await plane.client.submitJob(spec)).id);

    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1 });
    expect(await instance(done.instanceId)).toMatchObject({ instanceType: "local", spot: false });
    expect(await plane.phasesOf(done.id)).toEqual(FULL_RUN);
  });

  it("waits QUEUED while no type has capacity, and runs once capacity comes back", async () => {
    inject({ fault: "noCapacity" });
    const spec = ownEnvSpec("capacity back", { instance: { types: ["local-gpu", "local"] } });
    const submitted = await plane.client.submitJob(spec);

    const queued = await plane.waitFor(submitted.id, (job) => job.phase === "QUEUED");
    expect(queued.reason).toBe("INSUFFICIENT_CAPACITY");
    expect(dialectsOf(queued)).toEqual({
      aibro: "QUEUING / REQUESTING SERVER",
      runai: "Pending",
      modelarts: "7 JOBSTAT_WAITING",
    });
    // It keeps asking, with a back-off, and waits again: still QUEUED a few tries later.
    await until("the job waited three times", async () => {
      const types = await eventTypes(submitted.id);
      return types.filter((type) => type === "capacityWait").length >= 3;
    });
    expect(await instance((await plane.client.getJob(submitted.id)).instanceId)).toBeUndefined();

    plane.faults.clear();
    const done = await plane.finished(submitted.id);
    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1, requeues: 0 });
    const phases = await plane.phasesOf(submitted.id);
    expect(phases.slice(0, 3)).toEqual(["SUBMITTED", "REQUESTING_SERVER", "QUEUED"]);
    expect(phases.slice(-6)).toEqual(FULL_RUN.slice(2));
    expect(phases).not.toContain("RETRY_BACKOFF");
  });

  it("fails NO_CAPACITY once the job has waited its waitRequestS, and launches nothing", async () => {
    inject({ fault: "noCapacity" });
    const spec = ownEnvSpec("no capacity", {
      instance: { types: ["local-gpu", "local"], waitRequestS: 1 },
    });
    const submitted = await plane.client.submitJob(spec);
    const done = await plane.finished(submitted.id);

    expect(done).toMatchObject({ phase: "FAILED", reason: "NO_CAPACITY", attempt: 1 });
    expect(dialectsOf(done)).toEqual({
      aibro: "CANCELED / CANCELED",
      runai: "Fail",
      modelarts: "5 JOBSTAT_SUBMIT_FAILED",
    });
    expect(done.instanceId).toBeUndefined();
    const events = await plane.client.jobEvents(submitted.id);
    const queued = events.find((event) => event.phase === "QUEUED");
    expect(queued?.dialects.modelarts.code).toBe(7);
    // It failed only after waiting its waitRequestS since it first went QUEUED.
    const failed = events.at(-1);
    expect(failed).toMatchObject({ type: "capacityWaitExpired", phase: "FAILED" });
    expect(Date.parse(failed?.at ?? "") - Date.parse(queued?.at ?? "")).toBeGreaterThanOrEqual(
      1000,
    );
  });

  it("uses another instance when a stopped one cannot be started", async () => {
    const spec = ownEnvSpec("start fails", { coolingPeriodS: 0 });
    const first = await plane.finished((await plane.client.submitJob(spec)).id);
    expect(first.phase).toBe("COMPLETED");
    await until(
      `instance ${first.instanceId} is stopped`,
      async () => (await instance(first.instanceId))?.substatus === "STOPPED",
    );

    inject({ fault: "startFails" });
    const second = await plane.finished((await plane.client.submitJob(spec)).id);

    expect(second).toMatchObject({ phase: "COMPLETED", attempt: 1 });
    expect(second.instanceId).not.toBe(first.instanceId);
    expect(await eventTypes(second.id)).toEqual(
      expect.arrayContaining(["instanceStarted", "instanceStartFailed", "instanceLaunched"]),
    );
    // The instance that would not start is stopped again, its cooling plan still in force.
    expect(await instance(first.instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });
  });

  it("still completes a job whose launch is slow", async () => {
    inject({ fault: "launchSlow", delayMs: 1500 });
    const done = await plane.finished((await plane.client.submitJob(ownEnvSpec("slow launch"))).id);

    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1 });
    expect(await plane.phasesOf(done.id)).toEqual(FULL_RUN);
  });

  it("asks again when the compute throttles, without counting a failed attempt", async () => {
    inject({ fault: "throttled", instanceType: "local-gpu", times: 3 });
    const spec = ownEnvSpec("throttled", { instance: { types: ["local-gpu"] } });
    const done = await plane.finished((await plane.client.submitJob(spec)).id);

    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 1, requeues: 0 });
    expect(await plane.phasesOf(done.id)).toEqual(FULL_RUN);
    expect(plane.faults.rules).toEqual([]);
  });
});
