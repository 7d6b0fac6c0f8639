import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { freePort } from "../../lambdas/adapters/local/dynamodb-local.ts";
import { StatusEvent } from "../../lambdas/domain/status-events.ts";
import { authenticate } from "../../lambdas/use-cases/access-tokens.ts";
import { agentAccess } from "../../lambdas/use-cases/agent-identity.ts";
import { addUser } from "../../lambdas/use-cases/users.ts";
import type { InstanceView } from "../../sdk/api-types.ts";
import { GpuctlClient } from "../../sdk/client.ts";
import {
  FULL_RUN,
  servingSpec,
  startTestControlPlane,
  trainingSpec,
} from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane();
});
afterAll(async () => {
  await plane?.stop();
});

const instance = async (id: string | undefined): Promise<InstanceView | undefined> =>
  (await plane.client.listInstances()).find((candidate) => candidate.id === id);

/**
 * The instance once its job's workflow has freed it: a job is terminal a moment before its
 * workflow's last step cools or closes the instance.
 */
const freed = async (id: string | undefined): Promise<InstanceView | undefined> => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const view = await instance(id);
    // A listing taken while the instance changes status may miss it for a moment.
    if ((view && view.status !== "EXECUTING") || Date.now() > deadline) return view;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

/** Processes whose command line contains `marker`, other than the `ps` looking for them. */
const processesWith = (marker: string) =>
  execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(marker) && !line.includes("ps -eo"));

describe("the core loop on the local control plane", () => {
  let firstInstance: string | undefined;

  it("runs a training job through every phase to COMPLETED and returns its results", async () => {
    const submitted = await plane.client.submitJob(trainingSpec());
    const done = await plane.finished(submitted.id);
    expect(done).toMatchObject({ phase: "COMPLETED", exitCode: 0 });
    expect(await plane.phasesOf(submitted.id)).toEqual(FULL_RUN);

    const outputs = await plane.client.listOutputs(submitted.id);
    expect(outputs).toEqual(
      expect.arrayContaining(["results/model.json", "checkpoints/epoch-2.json", "logs/stdout.log"]),
    );
    const model = JSON.parse(
      new TextDecoder().decode(
        await plane.client.downloadOutput(submitted.id, "results/model.json"),
      ),
    );
    expect(model).toEqual({ loss: 0.01 });

    const { periods } = await plane.client.jobTimeline(submitted.id);
    expect(periods.map((period) => period.phase)).toEqual([
      "Job Create",
      "Instance Connect",
      "API Transfer & Server Setup",
      "M&D Serialization",
      "Env Gear up",
      "M&D Transfer",
      "M&D Deserialization",
      "Model Training",
      "Result Serialization",
      "Result Transfer",
    ]);
    // The periods tile the job's life: each starts where the one before ended, the last closed.
    for (const [index, period] of periods.entries())
      expect(period.startedAt).toBe(index ? periods[index - 1]?.endedAt : done.createdAt);
    expect(periods.at(-1)?.endedAt).toBeDefined();
    firstInstance = done.instanceId;
    expect(await freed(firstInstance)).toMatchObject({
      status: "COOLING",
      aibro: { substatus: "COOLING" },
    });

    const published = plane.events.map((event) => StatusEvent.parse(event));
    const jobEvents = published.flatMap((event) =>
      event["detail-type"] === "Job Status Changed" && event.detail.data.jobId === submitted.id
        ? [event.detail.data]
        : [],
    );
    expect(jobEvents.map((event) => event.phase)).toEqual(FULL_RUN);
    expect(jobEvents.at(-1)?.dialects).toEqual(done.dialects);
    const instanceEvents = published.flatMap((event) =>
      event["detail-type"] === "Instance Status Changed" &&
      event.detail.data.instanceId === firstInstance
        ? [event.detail.data.status]
        : [],
    );
    expect(instanceEvents).toEqual(["LAUNCHING", "EXECUTING", "COOLING"]);
  });

  it("serves a job's results to its owner only, and no file outside them", async () => {
    const [job] = (await plane.client.listJobs({ limit: 1 })).items;
    const get = (path: string, token = plane.userToken) =>
      fetch(`${plane.endpoint}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await get(`/v1/jobs/${job?.id}/outputs/results%2Fmodel.json`)).status).toBe(200);
    for (const [outside, status] of [
      // Refused as a path before any URL is made for it.
      ["..%2F..%2Fsecrets.json", 400],
      ["..%2Fother-job%2Fresults%2Fmodel.json", 400],
      // The URL parser makes this `..` and resolves it: no route of outputs is reached.
      ["%2E%2E/x", 404],
    ] as const) {
      expect((await get(`/v1/jobs/${job?.id}/outputs/${outside}`)).status).toBe(status);
    }
    for (const token of ["constructor", "__proto__", "toString", "wrong"]) {
      expect((await get("/v1/instances", token)).status).toBe(401);
    }
    // The scheme is case-insensitive (RFC 7235); a bare token is no bearer token.
    const authorized = (authorization: string) =>
      fetch(`${plane.endpoint}/v1/instances`, { headers: { authorization } });
    for (const header of [`bearer ${plane.userToken}`, `BEARER  ${plane.userToken}`])
      expect((await authorized(header)).status).toBe(200);
    for (const header of [plane.userToken, `Basic ${plane.userToken}`, `Bearer${plane.userToken}`])
      expect((await authorized(header)).status).toBe(401);
    // An agent's token opens its own instance's mailbox only; a token not signed here opens nothing.
    const poll = (instanceId: string, token: string) =>
      fetch(`${plane.endpoint}/agent/v1/instances/${instanceId}/poll`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ envHashes: [], waitS: 0 }),
      });
    const instanceId = job?.instanceId ?? "";
    expect((await poll(instanceId, agentAccess(plane.cp, instanceId).token)).status).toBe(204);
    expect((await poll(instanceId, agentAccess(plane.cp, "gi-other").token)).status).toBe(403);
    expect((await poll(instanceId, `${instanceId}.forged`)).status).toBe(401);
  });

  it("reuses the cooling instance for the next job of its pool, skipping gear-up", async () => {
    const before = await plane.client.listInstances();
    const submittedAt = Date.now();
    const submitted = await plane.client.submitJob(trainingSpec());
    await plane.waitFor(
      submitted.id,
      (job) =>
        job.phase !== "SUBMITTED" && ["TRAINING", "RETURNING", "COMPLETED"].includes(job.phase),
    );
    const toTrainingMs = Date.now() - submittedAt;
    const done = await plane.finished(submitted.id);
    expect(done.instanceId).toBe(firstInstance);
    expect(await plane.phasesOf(submitted.id)).toEqual(
      FULL_RUN.filter((phase) => phase !== "GEARING_UP_ENV"),
    );
    expect(await plane.client.listInstances()).toHaveLength(before.length);
    expect(await freed(done.instanceId)).toMatchObject({ status: "COOLING" });
    console.log(`warm instance: submit -> TRAINING in ${toTrainingMs} ms`);
  });

  it("gives a cooling instance to one of two racing jobs and another instance to the other", async () => {
    const racing = await Promise.all([
      plane.client.submitJob(trainingSpec()),
      plane.client.submitJob(trainingSpec()),
    ]);
    const done = await Promise.all(racing.map((job) => plane.finished(job.id)));
    expect(done.map((job) => job.phase)).toEqual(["COMPLETED", "COMPLETED"]);
    const used = done.map((job) => job.instanceId);
    expect(new Set(used).size).toBe(2);
    expect(used).toContain(firstInstance);
  });

  it("cancels a job during gear-up, leaving no process behind", async () => {
    const marker = `gear-up-marker-${Date.now()}`;
    const submitted = await plane.client.submitJob(trainingSpec({ setup: `sleep 30 # ${marker}` }));
    await plane.waitFor(submitted.id, (job) => job.phase === "GEARING_UP_ENV");
    await plane.waitFor(submitted.id, () => processesWith(marker).length > 0);
    const canceling = await plane.client.cancelJob(submitted.id);
    expect(["CANCELING", "CANCELED"]).toContain(canceling.phase);
    const done = await plane.finished(submitted.id);
    expect(done).toMatchObject({
      phase: "CANCELED",
      dialects: { modelarts: { code: 13 }, runai: { status: "Deleted" } },
    });
    await plane.waitFor(submitted.id, () => processesWith(marker).length === 0, 10_000);
    expect((await freed(done.instanceId))?.status).not.toBe("EXECUTING");
  });

  it("cancels a job during training, releasing its instance and leaving no process behind", async () => {
    const marker = `training-marker-${Date.now()}`;
    const submitted = await plane.client.submitJob(trainingSpec({ run: `sleep 30 # ${marker}` }));
    await plane.waitFor(submitted.id, (job) => job.phase === "TRAINING");
    await plane.waitFor(submitted.id, () => processesWith(marker).length > 0);
    await plane.client.cancelJob(submitted.id);
    const done = await plane.finished(submitted.id);
    expect(done).toMatchObject({ phase: "CANCELED", dialects: { modelarts: { code: 12 } } });
    await plane.waitFor(submitted.id, () => processesWith(marker).length === 0, 10_000);
    expect(await freed(done.instanceId)).toMatchObject({ status: "COOLING" });
  });

  it("times a spot request on the timeline, and never puts an on-demand job on a spot instance", async () => {
    const spot = trainingSpec({
      setup: "true # spot pool",
      instance: { types: ["local"], spot: true },
    });
    const first = await plane.finished((await plane.client.submitJob(spot)).id);
    const { periods } = await plane.client.jobTimeline(first.id);
    expect(periods.map((period) => period.phase)).toContain("Request Launch");
    expect(await freed(first.instanceId)).toMatchObject({ status: "COOLING", spot: true });

    const onDemand = trainingSpec({ setup: "true # spot pool" });
    const second = await plane.finished((await plane.client.submitJob(onDemand)).id);
    expect(second.instanceId).not.toBe(first.instanceId);
    expect(await freed(second.instanceId)).toMatchObject({ spot: false });
  });

  it("retries a failed run under the job's backoffLimit and completes on the next attempt", async () => {
    // Outside the job's folder, where its user may write: /tmp.
    const marker = join(tmpdir(), `gpuctl-failed-once-${process.pid}-${Date.now()}`);
    onTestFinished(() => rm(marker, { force: true }));
    const submitted = await plane.client.submitJob(
      trainingSpec({
        run: `test -f ${marker} || { touch ${marker}; exit 3; }`,
        backoffLimit: 1,
        outputs: [],
      }),
    );
    const done = await plane.finished(submitted.id);
    expect(done).toMatchObject({ phase: "COMPLETED", attempt: 2, exitCode: 0 });
    const phases = await plane.phasesOf(submitted.id);
    expect(phases.slice(phases.indexOf("TRAINING"), phases.indexOf("TRAINING") + 3)).toEqual([
      "TRAINING",
      "RETRY_BACKOFF",
      "REQUESTING_SERVER",
    ]);
    const [failedAttempt] = plane.events.flatMap((event) =>
      event["detail-type"] === "Job Status Changed" &&
      event.detail.data.jobId === submitted.id &&
      event.detail.data.phase === "RETRY_BACKOFF"
        ? [event.detail.data]
        : [],
    );
    expect(failedAttempt?.dialects).toMatchObject({
      runai: { status: "Error" },
      modelarts: { code: 7 },
      aibro: { status: "QUEUING", substatus: "REQUESTING SERVER" },
    });
  });

  it("holds a job at the cost gate until a reviewer approves it, and fails it when rejected", async () => {
    const admin = await authenticate(plane.cp, plane.userToken);
    if (!admin.ok) throw new Error("the first admin's token is refused");
    const added = await addUser(plane.cp, admin.caller, {
      email: "reviewer@example.org",
      role: "reviewer",
    });
    if (!added.ok) throw new Error(`no reviewer: ${added.message}`);
    const reviewer = new GpuctlClient({ endpoint: plane.endpoint, token: added.token.token });

    const approved = await plane.client.submitJob(trainingSpec({ review: true }));
    const waiting = await plane.waitFor(approved.id, (job) => job.phase === "PENDING_REVIEW");
    expect(waiting.dialects.modelarts).toEqual({ code: 18, name: "JOBSTAT_CHECK_INIT" });
    expect((await reviewer.reviewJob(approved.id, "start")).dialects.modelarts.code).toBe(19);
    await reviewer.reviewJob(approved.id, "approve");
    expect(await plane.finished(approved.id)).toMatchObject({ phase: "COMPLETED" });
    expect((await plane.phasesOf(approved.id)).slice(0, 5)).toEqual([
      "SUBMITTED",
      "PENDING_REVIEW",
      "PENDING_REVIEW",
      "SUBMITTED",
      "REQUESTING_SERVER",
    ]);
    const approval = plane.events.find(
      (event) =>
        event["detail-type"] === "Job Status Changed" &&
        event.detail.data.jobId === approved.id &&
        event.detail.data.event === "reviewApproved",
    );
    expect(approval?.detail.data).toMatchObject({
      phase: "SUBMITTED",
      dialects: { modelarts: { code: 20 } },
    });

    const rejected = await plane.client.submitJob(trainingSpec({ review: true }));
    await plane.waitFor(rejected.id, (job) => job.phase === "PENDING_REVIEW");
    await reviewer.reviewJob(rejected.id, "reject");
    const done = await plane.finished(rejected.id);
    expect(done).toMatchObject({
      phase: "FAILED",
      reason: "REVIEW_REJECTED",
      dialects: { modelarts: { code: 21 }, runai: { status: "Fail" } },
    });
    expect(done.instanceId).toBeUndefined();
  });

  it("times a job out at its deadline, whatever phase it is in, leaving no process behind", async () => {
    const marker = `deadline-marker-${Date.now()}`;
    const submitted = await plane.client.submitJob(
      // Long enough for a new instance to boot and start gearing up, even on a busy machine.
      trainingSpec({ setup: `sleep 30 # ${marker}`, timeoutS: 8 }),
    );
    const done = await plane.finished(submitted.id, 30_000);
    expect(done).toMatchObject({
      phase: "TIMED_OUT",
      dialects: { runai: { status: "TimedOut" }, modelarts: { code: 12 } },
    });
    expect(await plane.phasesOf(submitted.id)).toContain("GEARING_UP_ENV");
    await plane.waitFor(submitted.id, () => processesWith(marker).length === 0, 10_000);
  });

  it("stops an instance after its cooling period, and starts it again for a later job without gear-up", async () => {
    const spec = trainingSpec({ setup: "true # stop-start pool", coolingPeriodS: 1 });
    const first = await plane.finished((await plane.client.submitJob(spec)).id);
    const deadline = Date.now() + 15_000;
    while ((await instance(first.instanceId))?.substatus !== "STOPPED" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await instance(first.instanceId)).toMatchObject({
      status: "CLOSED",
      substatus: "STOPPED",
    });

    const second = await plane.finished((await plane.client.submitJob(spec)).id);
    expect(second).toMatchObject({ phase: "COMPLETED", instanceId: first.instanceId });
    expect(await plane.phasesOf(second.id)).toEqual(
      FULL_RUN.filter((phase) => phase !== "GEARING_UP_ENV"),
    );
  });

  it("serves an inference deployment, then stops it at once when completed by model name", async () => {
    const port = await freePort();
    const submitted = await plane.client.submitJob(
      servingSpec("echo-model", "pong", { port, healthPath: "/health" }),
    );
    const serving = await plane.waitFor(submitted.id, (job) => job.endpoint !== undefined);
    expect(serving.phase).toBe("TRAINING");
    expect(await (await fetch(`${serving.endpoint}/predict`)).text()).toBe("pong");

    const completed = await plane.client.completeDeployment("echo-model");
    expect(completed).toMatchObject({
      phase: "COMPLETED",
      dialects: { aibro: { status: "COMPLETED" } },
    });
    const deadline = Date.now() + 10_000;
    let stillServing = true;
    while (stillServing && Date.now() < deadline) {
      stillServing = await fetch(`${serving.endpoint}/predict`).then(
        () => true,
        () => false,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(stillServing).toBe(false);
  });
});
