/**
 * The reaper on the real local control plane: agent processes for instances, DynamoDB
 * Local, the real ASL run locally. The reaper runs only when a test asks (`reapNow`), with
 * no grace, so each test sees one run's work.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentAccess } from "../../lambdas/use-cases/agent-identity.ts";
import { applyJobEvent } from "../../lambdas/use-cases/apply-job-event.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
/** While set, agents' requests wait: an agent is cut off, as by a network partition. */
let agentsHeld: { promise: Promise<void>; release: () => void } | undefined;

beforeAll(async () => {
  plane = await startTestControlPlane({
    reaperIntervalMs: 0,
    reaping: { graceS: 0 },
    probes: {
      apiRequest: async (request, handle) => {
        if (agentsHeld && new URL(request.url).pathname.startsWith("/agent/"))
          await agentsHeld.promise;
        return handle();
      },
    },
  });
});
afterAll(async () => {
  agentsHeld?.release();
  await plane?.stop();
});

const holdAgents = () => {
  let release = () => {};
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  agentsHeld = { promise, release };
};
const releaseAgents = () => {
  agentsHeld?.release();
  agentsHeld = undefined;
};

const computeState = async (instanceId: string) =>
  (await plane.compute.list()).find((instance) => instance.instanceId === instanceId)?.state;

const agentPid = (instanceId: string) => plane.compute.describe(instanceId)?.pid;

/** Whether process `pid` runs; signal 0 only probes it. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Polls until the process is gone, failing after `timeoutMs`. */
const gone = async (pid: number, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe("the local reaper", () => {
  it("terminates an instance launched on the compute that no record claims", async () => {
    const instanceId = `gi-orphan-${Date.now()}`;
    await plane.compute.launch({
      instanceId,
      instanceType: "local",
      spot: false,
      jobId: "never-recorded",
      owner: "nobody",
      envHash: "sha256:none",
      region: "local",
      agent: agentAccess(plane.cp, instanceId),
    });
    expect(await computeState(instanceId)).toBe("running");

    const report = await plane.reapNow();
    expect(report.orphans).toContain(instanceId);
    expect(report.done.terminateOrphan).toBeGreaterThanOrEqual(1);
    expect(await computeState(instanceId)).toBeUndefined();
  });

  it("terminates the instance of a job that ended without its workflow freeing it", async () => {
    const submitted = await plane.client.submitJob(trainingSpec({ run: "sleep 600" }));
    const training = await plane.waitFor(submitted.id, (job) => job.phase === "TRAINING");
    const instanceId = training.instanceId as string;
    const pid = agentPid(instanceId);
    if (typeof pid !== "number") throw new Error(`instance ${instanceId} has no agent process`);
    // A deadline whose run died right after its write: the job ended, and neither its
    // workflow nor its agent, cut off, hears of it.
    holdAgents();
    const ended = await applyJobEvent(plane.cp, submitted.id, { type: "timeout" });
    expect(ended.ok).toBe(true);
    expect(await plane.cp.instances.get(instanceId)).toMatchObject({ status: "EXECUTING" });

    const report = await plane.reapNow();
    expect(report.done.terminateJobless).toBe(1);
    expect(report.orphans).toEqual([instanceId]);
    expect(await plane.cp.instances.get(instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(await computeState(instanceId)).toBeUndefined();
    await gone(pid);
    releaseAgents();
  });

  it("shows a cancel that cannot release its instance as DELETE_FAILED, and ends it CANCELED once the reaper closes it", async () => {
    // Its agent never hears of the job: its instance is not yet known to work, and goes.
    holdAgents();
    const submitted = await plane.client.submitJob(trainingSpec({ setup: "true # own pool" }));
    const connecting = await plane.waitFor(
      submitted.id,
      (job) => job.phase === "CONNECTING_SERVER",
    );
    const instanceId = connecting.instanceId as string;
    plane.faults.inject({ fault: "closeFails" });

    await plane.client.cancelJob(submitted.id);
    const failed = await plane.waitFor(submitted.id, (job) => job.reason === "DELETE_FAILED");
    expect(failed).toMatchObject({
      phase: "CANCELING",
      terminal: false,
      dialects: {
        aibro: { status: "CANCELED", substatus: "CANCELED" },
        runai: { status: "Terminating" },
        modelarts: { code: 6, name: "JOBSTAT_DELETE_FAILED" },
      },
    });
    expect(await plane.cp.instances.get(instanceId)).toMatchObject({
      status: "CLOSING",
      substatus: "TERMINATING",
    });
    expect(await computeState(instanceId)).toBe("running");
    const events = await plane.client.jobEvents(submitted.id);
    expect(events.filter((event) => event.reason === "DELETE_FAILED")).toHaveLength(1);

    // The workflow's retries of the release are over: from here on only the reaper closes it.
    const lifecycle = plane.workflows.executions().find(({ name }) => name === submitted.id);
    if (!lifecycle) throw new Error(`no workflow for ${submitted.id}`);
    await plane.workflows.whenDone(lifecycle.executionId);

    // Still failing: the reaper tries, reports it and keeps the job as it is.
    const stillFailing = await plane.reapNow();
    expect(stillFailing.deleteFailed).toEqual([submitted.id]);
    expect(stillFailing.failed).toContainEqual(
      expect.objectContaining({ type: "reconcile", id: instanceId }),
    );
    expect((await plane.client.getJob(submitted.id)).phase).toBe("CANCELING");

    plane.faults.clear();
    releaseAgents();
    const report = await plane.reapNow();
    expect(report.canceled).toEqual([submitted.id]);
    expect(report.deleteFailed).toEqual([]);
    expect(await plane.client.getJob(submitted.id)).toMatchObject({
      phase: "CANCELED",
      dialects: {
        aibro: { status: "CANCELED", substatus: "CANCELED" },
        runai: { status: "Deleted" },
        modelarts: { code: 13 },
      },
    });
    expect(await plane.cp.instances.get(instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "TERMINATED",
    });
    expect(await computeState(instanceId)).toBeUndefined();
  });
});
