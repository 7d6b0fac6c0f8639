/**
 * What a job and an instance cost, through the API on DynamoDB Local: an instance's time in
 * each status is kept in its item at every change (the store's real writes), and the job is
 * priced at the instance type it ran on, from its timeline.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { launchInstance } from "../../../lambdas/domain/instance.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import { changeInstance } from "../../../lambdas/use-cases/change-instance.ts";
import type { InstanceView, JobView } from "../../../sdk/api-types.ts";
import { apiPorts, freshStores, newRecord } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const G5_PER_S = 1.006 / 3600;
const VOLUME_PER_S = (100 * 0.08) / 730 / 3600;

let stores: Awaited<ReturnType<typeof freshStores>>;
let ada: TestUser;
const NOW = at(2 * 3600);

beforeAll(async () => {
  stores = await freshStores();
  ada = await testUsers(stores.at(at(0))).add("ada@example.org");
});

/** The instance `gi-cost` launched at 0 for `job-cost`, run 600 s, cooled 300 s, stopped since 930 s. */
const liveInstance = async () => {
  const pool = { instanceType: "g5.xlarge", envHash: "env", region: "local", owner: ada.userId };
  let instance = launchInstance({ id: "gi-cost", pool, spot: false, jobId: "job-cost" });
  expect(await stores.instances.create(instance, at(0))).toEqual({ ok: true });
  instance = { ...instance, updatedAt: at(0) };
  for (const [seconds, event] of [
    [60, { type: "agentRegistered" }],
    [120, { type: "jobRunning" }],
    [600, { type: "released", coolingUntil: at(900), stoppedUntil: at(90_000) }],
    [900, { type: "coolingExpired", coolingEpoch: 1, action: "stop" }],
    [930, { type: "stopped" }],
  ] as const) {
    const changed = await changeInstance(stores.at(at(seconds)), instance, event);
    if (!changed.ok) throw new Error(changed.message);
    instance = changed.instance;
  }
};

const get = async <T>(path: string): Promise<T> => {
  const api = createApi(apiPorts(stores, NOW, {}), {});
  const response = await api.request(path, { headers: { authorization: `Bearer ${ada.token}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
};

describe("cost through the API", () => {
  it("prices an instance's running and stopped time, as its item keeps them, up to now", async () => {
    await liveInstance();
    const { items } = await get<{ items: InstanceView[] }>("/v1/instances");
    const { cost } = items.find((instance) => instance.id === "gi-cost") as InstanceView;
    const stoppedS = 2 * 3600 - 930;
    expect(cost).toMatchObject({ instanceType: "g5.xlarge", asOf: NOW });
    // Launching 120 s, executing 480 s, cooling 300 s; stopping 30 s is not billed.
    expect(cost.items).toEqual([
      { part: "running", seconds: 900, usd: Number((900 * G5_PER_S).toFixed(6)) },
      { part: "stopped", seconds: stoppedS, usd: Number((stoppedS * VOLUME_PER_S).toFixed(6)) },
    ]);
    expect(cost.usd).toBeCloseTo(900 * G5_PER_S + stoppedS * VOLUME_PER_S, 5);
    expect(cost.prices["g5.xlarge"]?.source).toMatch(/aws\.amazon\.com\/ec2\/pricing/);
  });

  it("prices a job's boot and running time at the type of the instance it ran on", async () => {
    const record = newRecord(
      { id: "job-cost" },
      {
        owner: ada.userId,
        timeline: {
          "Job Create": { startedAt: at(0), endedAt: at(0) },
          "Instance Connect": { startedAt: at(0), endedAt: at(60) },
          "Model Training": { startedAt: at(120), endedAt: at(600) },
        },
      },
    );
    const job = { ...record.job, phase: "COMPLETED" as const, instanceId: "gi-cost" };
    expect(
      await stores.jobs.submit({ record: { ...record, job, updatedAt: at(600) } }),
    ).toMatchObject({ ok: true });

    const { cost } = await get<JobView>("/v1/jobs/job-cost");

    expect(cost).toMatchObject({ instanceType: "g5.xlarge", asOf: at(600) });
    expect(cost?.items).toEqual([
      { part: "boot", seconds: 60, usd: Number((60 * G5_PER_S).toFixed(6)) },
      { part: "running", seconds: 540, usd: Number((540 * G5_PER_S).toFixed(6)) },
    ]);
  });
});
