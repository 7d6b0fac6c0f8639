import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../lambdas/adapters/local/dynamodb-local.ts";
import { ADAPTIVE, type CostModel } from "../../lambdas/domain/cooling-policy.ts";
import { StatusEvent } from "../../lambdas/domain/status-events.ts";
import type { InstanceView } from "../../sdk/api-types.ts";
import { servingSpec, startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

/**
 * Boot times of a second or so, so the adaptive plan keeps instances warm for about a
 * second: the gaps between the jobs below are fractions of a second, as real pools' are
 * fractions of their plan, and the plan must still reach the workflow in whole seconds.
 */
const QUICK_BOOTS: CostModel = {
  priceH: 1,
  ebsGb: 100,
  ebsPriceGbMonth: 0.08,
  bootS: { warm: 0.1, stopped: 0.6, cold: 1.3 },
  waitPriceH: 0,
};

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
beforeAll(async () => {
  plane = await startTestControlPlane({ costModel: QUICK_BOOTS });
});
afterAll(async () => {
  await plane?.stop();
});

const instance = async (id: string | undefined): Promise<InstanceView | undefined> =>
  (await plane.client.listInstances()).find((candidate) => candidate.id === id);

/** Polls the instance until `done` holds; fails with its last view after `timeoutMs`. */
const instanceWhen = async (
  id: string | undefined,
  done: (view: InstanceView | undefined) => boolean,
  timeoutMs = 20_000,
): Promise<InstanceView | undefined> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await instance(id);
    if (done(view)) return view;
    if (Date.now() > deadline)
      throw new Error(`instance ${id} still ${view?.status}/${view?.substatus ?? "-"}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};
const closed = (view: InstanceView | undefined) => view?.status === "CLOSED";

/** The instance's published status changes, in order. */
const instanceEvents = (id: string | undefined) =>
  plane.events
    .map((event) => StatusEvent.parse(event))
    .flatMap((event) =>
      event["detail-type"] === "Instance Status Changed" && event.detail.data.instanceId === id
        ? [event.detail.data]
        : [],
    );

/** Whether the execution is still running: one that ended has its end resolved already. */
const running = (executionId: string): Promise<boolean> =>
  Promise.race([
    plane.workflows.whenDone(executionId).then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 0)),
  ]);

/** The instance's cooling timers still running, with the states each entered. */
const openTimers = async (instanceId: string | undefined) => {
  const timers = plane.workflows
    .executions()
    .filter(
      ({ machine, name }) => machine === "instance-cooling" && name.startsWith(`${instanceId}-`),
    );
  const open = [];
  for (const { executionId } of timers)
    if (await running(executionId)) open.push(plane.workflows.statesEntered(executionId));
  return open;
};

describe("an instance's cooling period always ends", () => {
  it("stops or terminates an instance on time once the adaptive plan is in force", async () => {
    const spec = trainingSpec({ setup: "true # adaptive pool", coolingPeriodS: undefined });
    let last: string | undefined;
    // Each job arrives while the previous one's instance is warm: one gap per job after the first.
    for (let n = 0; n <= ADAPTIVE.minSamples + 1; n++) {
      const done = await plane.finished((await plane.client.submitJob(spec)).id);
      expect(done.phase).toBe("COMPLETED");
      last = done.instanceId;
      await instanceWhen(last, (view) => view?.status !== "EXECUTING");
    }
    const cooling = await instance(last);
    const coolingUntil = cooling?.coolingUntil;
    // The plan was made of fractional gaps; the instance still closes close to its plan.
    if (cooling?.status === "COOLING") {
      expect(coolingUntil).toBeDefined();
      expect(Date.parse(cooling.stoppedUntil ?? "")).toBeGreaterThanOrEqual(
        Date.parse(coolingUntil ?? ""),
      );
    }
    const gone = await instanceWhen(last, closed);
    expect(gone?.status).toBe("CLOSED");
    const closedAt = Date.parse(gone?.updatedAt ?? "");
    if (coolingUntil) expect(closedAt).toBeLessThan(Date.parse(coolingUntil) + 10_000);
  });

  it("closes the instance of a job with coolingPeriodS 0 every time", async () => {
    const spec = trainingSpec({ setup: "true # zero cooling", coolingPeriodS: 0 });
    for (let n = 0; n < 8; n++) {
      const done = await plane.finished((await plane.client.submitJob(spec)).id);
      expect(done.phase).toBe("COMPLETED");
      const view = await instanceWhen(done.instanceId, closed, 10_000);
      expect(view).toMatchObject({ status: "CLOSED", substatus: "STOPPED" });
    }
  });

  it("stops a completed deployment's instance at once, with its end time and a timer that terminates it", async () => {
    const port = await freePort();
    const spec = servingSpec("cooled-model", "pong", { port, healthPath: "/health" });
    const submitted = await plane.client.submitJob({ ...spec, coolingPeriodS: 60 });
    await plane.waitFor(submitted.id, (job) => job.endpoint !== undefined);

    const done = await plane.client.completeDeployment("cooled-model");
    const view = await instanceWhen(done.instanceId, closed);

    expect(view).toMatchObject({ status: "CLOSED", substatus: "STOPPED" });
    expect(Date.parse(view?.stoppedUntil ?? "")).toBeGreaterThan(Date.now());
    expect(await openTimers(done.instanceId)).toEqual([
      [
        "Keep the instance warm",
        "Stop the instance if still cooling",
        "Is it stopped?",
        "Keep the instance stopped",
      ],
    ]);
  });

  it("stops the timer of the cooling period a job takes the instance from, warm or stopped", async () => {
    for (const coolingPeriodS of [60, 0]) {
      const spec = trainingSpec({ setup: `true # reused ${coolingPeriodS}`, coolingPeriodS });
      const instances = new Set<string | undefined>();
      for (let n = 0; n < 3; n++) {
        const done = await plane.finished((await plane.client.submitJob(spec)).id);
        expect(done.phase).toBe("COMPLETED");
        instances.add(done.instanceId);
        await instanceWhen(done.instanceId, (view) =>
          coolingPeriodS ? view?.status === "COOLING" : closed(view),
        );
      }
      const [reused] = instances;
      expect(instances.size).toBe(1);
      expect(await openTimers(reused)).toHaveLength(1);
    }
  });

  it("terminates the instance, and says why, when its cooling timer fails", async () => {
    const compute = plane.cp.compute;
    const stop = compute.stop;
    compute.stop = async () => {
      throw new Error("the instance did not stop");
    };
    try {
      const spec = trainingSpec({ setup: "true # failing cooling", coolingPeriodS: 1 });
      const done = await plane.finished((await plane.client.submitJob(spec)).id);
      const view = await instanceWhen(done.instanceId, closed);
      expect(view).toMatchObject({ status: "CLOSED", substatus: "TERMINATED" });
      const failure = instanceEvents(done.instanceId).find(
        (event) => event.event === "coolingFailed",
      );
      expect(failure).toMatchObject({ status: "CLOSING", substatus: "TERMINATING" });
      expect(failure?.cause).toContain("the instance did not stop");
    } finally {
      compute.stop = stop;
    }
  });

  it("terminates the instance when its cooling execution fails where no Catch reaches", async () => {
    const spec = trainingSpec({ setup: "true # engine failure", coolingPeriodS: 600 });
    const done = await plane.finished((await plane.client.submitJob(spec)).id);
    const cooling = await instanceWhen(done.instanceId, (view) => view?.status === "COOLING");
    const stored = await plane.cp.instances.get(cooling?.id ?? "");
    // A Wait state given a fraction fails the whole execution: no Catch can handle it.
    await plane.workflows.start("instance-cooling", `${cooling?.id}-broken-timer`, {
      instanceId: cooling?.id,
      coolingEpoch: stored?.coolingEpoch,
      warmS: 0.52,
      stoppedS: 0,
    });
    const view = await instanceWhen(done.instanceId, closed);
    expect(view).toMatchObject({ status: "CLOSED", substatus: "TERMINATED" });
    const failure = instanceEvents(done.instanceId).find(
      (event) => event.event === "coolingFailed",
    );
    expect(failure?.cause).toMatch(/broken-timer FAILED: States.Runtime/);
  });
});
