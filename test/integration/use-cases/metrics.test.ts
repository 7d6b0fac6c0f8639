/**
 * Every metric the catalogue lists, and so every metric the stack's dashboard and alarms
 * read, is one the use cases publish: each is driven here through the use case that
 * publishes it, on DynamoDB Local, and the in-memory metrics collect what they published.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { launchInstance } from "../../../lambdas/domain/instance.ts";
import { METRIC_NAMES, METRICS } from "../../../lambdas/domain/metrics.ts";
import type { Compute, JobRecord, Workflows } from "../../../lambdas/ports.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import { changeInstance } from "../../../lambdas/use-cases/change-instance.ts";
import { reap } from "../../../lambdas/use-cases/reap.ts";
import { runInstance } from "../../fixtures/instances.ts";
import { freshStores, newRecord } from "../stores.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const LATER = "2026-01-01T02:00:00.000Z";
const pool = {
  instanceType: "g5.xlarge",
  envHash: "sha256:env",
  region: "eu-west-1",
  owner: "ada",
};

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeEach(async () => {
  stores = await freshStores();
});

/** A job that ends: the phase it enters, and its timeline. */
const endJob = async () => {
  await stores.jobs.submit({
    record: newRecord(
      { id: "job-ends" },
      { timeline: { "Job Create": { startedAt: T0, endedAt: "2026-01-01T00:00:03.000Z" } } },
    ),
  });
  const applied = await applyJobEvent(stores.at(LATER), "job-ends", { type: "cancelRequested" });
  expect(applied).toMatchObject({ ok: true });
};

/** An instance that cooled for an hour: its time cooling, and what that cost. */
const coolInstance = async () => {
  const launched = launchInstance({ id: "gi-cool", pool, spot: false, jobId: "job-x" });
  const cooling = runInstance(
    launched,
    { type: "agentRegistered" },
    { type: "jobRunning" },
    { type: "released", coolingUntil: T0, stoppedUntil: LATER },
  );
  await stores.instances.create(cooling, T0);
  const stored = await stores.instances.get("gi-cool");
  if (!stored) throw new Error("gi-cool was not stored");
  const cp = stores.at("2026-01-01T01:00:00.000Z");
  const stopping = await changeInstance(cp, stored, {
    type: "coolingExpired",
    coolingEpoch: stored.coolingEpoch,
    action: "stop",
  });
  expect(stopping).toMatchObject({ ok: true });
};

/**
 * A reaper run that finds an unrecorded instance it fails to end, a jobless one, a stuck job,
 * and a canceled job whose instance could not be released.
 */
const reapTrouble = async () => {
  await stores.instances.create(
    launchInstance({ id: "gi-jobless", pool, spot: false, jobId: "job-gone" }),
    T0,
  );
  await stores.jobs.submit({ record: newRecord({ id: "job-stuck" }, { updatedAt: T0 }) });
  const held = newRecord({ id: "job-held" }, { updatedAt: LATER });
  const deleteFailed = {
    ...held,
    job: { ...held.job, phase: "CANCELING", reason: "DELETE_FAILED", instanceId: "gi-held" },
  } satisfies JobRecord;
  await stores.jobs.submit({ record: deleteFailed });
  await stores.instances.create(
    launchInstance({ id: "gi-held", pool, spot: false, jobId: "job-held" }),
    LATER,
  );
  const compute = {
    list: async () => [
      { instanceId: "gi-orphan", providerId: "i-0orphan", state: "running", launchedAt: T0 },
    ],
    terminate: async () => {
      throw new Error("UnauthorizedOperation");
    },
  } as unknown as Compute;
  const report = await reap({
    ...stores.at(LATER),
    compute,
    commands: { open: async () => {}, push: async () => {}, close: async () => {} },
    workflows: {} as Workflows,
  });
  expect(report).toMatchObject({
    orphans: ["gi-orphan", "gi-jobless"],
    stuckJobs: [{ jobId: "job-stuck", phase: "SUBMITTED", since: T0 }],
    deleteFailed: ["job-held"],
    failed: [
      { id: "gi-orphan", type: "terminateOrphan" },
      { id: "gi-jobless", type: "terminateJobless" },
    ],
  });
};

describe("the metrics the use cases publish", () => {
  it("are every metric of the catalogue, each with exactly its catalogue dimensions", async () => {
    await endJob();
    await coolInstance();
    await reapTrouble();
    const published = stores.metrics.points;
    expect(METRIC_NAMES.length).toBeGreaterThan(0);
    expect([...new Set(published.map((point) => point.name))].sort()).toEqual(
      [...METRIC_NAMES].sort(),
    );
    for (const point of published) {
      const catalogued = METRICS[point.name].dimensions as Record<string, readonly string[]>;
      expect(Object.keys(point.dimensions).sort()).toEqual(Object.keys(catalogued).sort());
      for (const [name, value] of Object.entries(point.dimensions))
        expect(catalogued[name]).toContain(value);
    }
    expect(published).toContainEqual({
      name: "IdleCost",
      value: expect.closeTo(1.006, 6),
      dimensions: {},
    });
    expect(published).toContainEqual({
      name: "TimelinePeriod",
      value: 3,
      dimensions: { Period: "Job Create" },
    });
  });

  it("are none from a reaper run that finds nothing", async () => {
    const report = await reap({
      ...stores.at(LATER),
      compute: { list: async () => [] } as unknown as Compute,
      commands: { open: async () => {}, push: async () => {}, close: async () => {} },
      workflows: {} as Workflows,
    });
    expect(report).toEqual({
      done: {},
      failed: [],
      orphans: [],
      stuckJobs: [],
      canceled: [],
      deleteFailed: [],
    });
    expect(stores.metrics.points).toEqual([]);
  });
});
