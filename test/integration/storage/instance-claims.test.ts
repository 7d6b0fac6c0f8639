import { beforeAll, describe, expect, it } from "vitest";
import {
  type Instance,
  launchInstance,
  transitionInstance,
} from "../../../lambdas/domain/instance.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import { claimInstance } from "../../../lambdas/use-cases/claim-instance.ts";
import { freshStores, newRecord } from "../stores.ts";

const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:abc",
  region: "us-east-1",
  owner: "ada",
};
const AT = "2026-01-01T00:00:00.000Z";
const RELEASED = { type: "released", coolingUntil: AT, stoppedUntil: AT } as const;

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

/** An instance that ran one job and is now cooling, stored. */
const coolingInstance = async (id: string, at = AT): Promise<Instance> => {
  let instance = launchInstance({ id, pool, spot: false, jobId: "first" });
  for (const event of [{ type: "agentRegistered" }, RELEASED] as const) {
    const next = transitionInstance(instance, event);
    if (!next.ok) throw new Error(next.refusal.message);
    instance = next.instance;
  }
  expect(await stores.instances.create(instance, at)).toEqual({ ok: true });
  return instance;
};

const jobWaitingForServer = async (id: string) => {
  await stores.jobs.submit({ record: newRecord({ id }) });
  const admitted = await applyJobEvent(stores.at(AT), id, { type: "admitted" });
  expect(admitted.ok).toBe(true);
};

describe("claiming an instance", () => {
  it("gives one COOLING instance to exactly one of 50 concurrent claimants", async () => {
    const instance = await coolingInstance("i-contended");
    const jobIds = Array.from({ length: 50 }, (_, n) => `claimant-${n}`);
    await Promise.all(jobIds.map(jobWaitingForServer));

    const results = await Promise.all(
      jobIds.map((jobId) => claimInstance(stores.at("2026-01-01T00:01:00.000Z"), jobId, instance)),
    );

    const winners = jobIds.filter((_, n) => results[n]?.ok);
    expect(winners).toHaveLength(1);
    expect(results.filter((result) => !result.ok && result.error === "CONFLICT")).toHaveLength(49);
    expect(await stores.instances.get("i-contended")).toMatchObject({
      status: "LAUNCHING",
      jobId: winners[0],
    });
    const jobs = await Promise.all(jobIds.map((jobId) => stores.jobs.get(jobId)));
    const holders = jobs.filter((record) => record?.job.instanceId === "i-contended");
    expect(holders.map((record) => record?.job.id)).toEqual(winners);
    expect(holders[0]?.job.phase).toBe("CONNECTING_SERVER");
    expect(jobs.filter((record) => record?.job.phase === "REQUESTING_SERVER")).toHaveLength(49);
  });

  it("starts a STOPPED instance for a job, as LAUNCHING", async () => {
    const cooling = await coolingInstance("i-stopped");
    let instance = cooling;
    for (const event of [
      { type: "closeRequested", action: "stop" },
      { type: "stopped" },
    ] as const) {
      const next = transitionInstance(instance, event);
      if (!next.ok) throw new Error(next.refusal.message);
      expect(
        await stores.instances.apply({ before: instance, after: next.instance, at: AT }),
      ).toEqual({ ok: true });
      instance = next.instance;
    }
    await jobWaitingForServer("restarter");
    const claimed = await claimInstance(stores.at(AT), "restarter", instance);
    expect(claimed).toMatchObject({
      ok: true,
      instance: { status: "LAUNCHING", jobId: "restarter" },
    });
    expect((await stores.jobs.get("restarter"))?.job).toMatchObject({
      phase: "CONNECTING_SERVER",
      instanceId: "i-stopped",
    });
  });

  it("finds reusable instances of a pool, COOLING before STOPPED, most recently freed first", async () => {
    const otherPool = { ...pool, envHash: "sha256:reuse" };
    const store = async (id: string, at: string, stop: boolean) => {
      let instance = launchInstance({ id, pool: otherPool, spot: false, jobId: "first" });
      const events = [{ type: "agentRegistered" }, RELEASED] as const;
      const stopping = [{ type: "closeRequested", action: "stop" }, { type: "stopped" }] as const;
      for (const event of stop ? [...events, ...stopping] : events) {
        const next = transitionInstance(instance, event);
        if (!next.ok) throw new Error(next.refusal.message);
        instance = next.instance;
      }
      await stores.instances.create(instance, at);
    };
    await store("i-old-cool", "2026-01-01T00:00:01.000Z", false);
    await store("i-new-cool", "2026-01-01T00:00:03.000Z", false);
    await store("i-stopped-1", "2026-01-01T00:00:05.000Z", true);
    const found = await stores.instances.findReusable(otherPool);
    expect(found.map((instance) => instance.id)).toEqual([
      "i-new-cool",
      "i-old-cool",
      "i-stopped-1",
    ]);
    expect(await stores.instances.findReusable({ ...otherPool, region: "eu-west-1" })).toEqual([]);
    expect(await stores.instances.findReusable({ ...otherPool, owner: "grace" })).toEqual([]);
    const cooling = await stores.instances.listByStatus("COOLING");
    expect(cooling.map((instance) => instance.id)).toEqual(
      expect.arrayContaining(["i-new-cool", "i-old-cool"]),
    );
    expect(cooling.every((instance) => instance.status === "COOLING")).toBe(true);
  });

  it("refuses to create an instance twice", async () => {
    const instance = await coolingInstance("i-twice");
    expect(await stores.instances.create(instance, AT)).toMatchObject({
      ok: false,
      conflict: "INSTANCE_EXISTS",
    });
  });
});
