import { beforeAll, describe, expect, it } from "vitest";
import { transition } from "../../../lambdas/domain/transitions.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import { freshStores, newRecord } from "../stores.ts";

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

describe("job transitions on DynamoDB", () => {
  it("applies exactly one of 20 concurrent identical transitions, with one event", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "race" }) });
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        applyJobEvent(stores.at("2026-01-01T00:00:01.000Z"), "race", { type: "admitted" }),
      ),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    const refusedOrStale = results.filter((result) => !result.ok);
    expect(refusedOrStale).toHaveLength(19);
    for (const result of refusedOrStale) {
      expect(result).toMatchObject({ ok: false });
      expect(["CONFLICT", "REFUSED"]).toContain(!result.ok && result.error);
    }
    const stored = await stores.jobs.get("race");
    expect(stored?.job).toMatchObject({ phase: "REQUESTING_SERVER", version: 2 });
    const events = await stores.jobs.events("race");
    expect(events.map((event) => [event.version, event.event.type, event.phase])).toEqual([
      [1, "submitted", "SUBMITTED"],
      [2, "admitted", "REQUESTING_SERVER"],
    ]);
  });

  it("refuses a stale change with a typed conflict and writes nothing", async () => {
    const record = newRecord({ id: "stale" });
    await stores.jobs.submit({ record });
    await applyJobEvent(stores.at("2026-01-01T00:00:01.000Z"), "stale", { type: "admitted" });
    const fromStaleRead = transition(record.job, { type: "cancelRequested" });
    if (!fromStaleRead.ok) throw new Error(fromStaleRead.refusal.message);
    const written = await stores.jobs.apply({
      before: record,
      after: fromStaleRead.job,
      event: { type: "cancelRequested" },
      at: "2026-01-01T00:00:02.000Z",
    });
    expect(written).toEqual({
      ok: false,
      conflict: "STALE_JOB",
      message: "job stale changed since it was read (expected SUBMITTED v1)",
    });
    expect((await stores.jobs.get("stale"))?.job.phase).toBe("REQUESTING_SERVER");
    expect(await stores.jobs.events("stale")).toHaveLength(2);
  });

  it("sets and clears optional fields, keeps events in order with a TTL", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "fields" }) });
    const at = (s: number) => `2026-01-01T00:00:0${s}.000Z`;
    await applyJobEvent(stores.at(at(1)), "fields", {
      type: "capacityWait",
      reason: "QUOTA_EXCEEDED",
    });
    expect((await stores.jobs.get("fields"))?.job.reason).toBe("QUOTA_EXCEEDED");
    await applyJobEvent(stores.at(at(2)), "fields", { type: "capacityAvailable" });
    const record = await stores.jobs.get("fields");
    expect(record?.job.reason).toBeUndefined();
    expect(record?.updatedAt).toBe(at(2));
    const events = await stores.jobs.events("fields");
    expect(events.map((event) => event.phase)).toEqual([
      "SUBMITTED",
      "QUEUED",
      "REQUESTING_SERVER",
    ]);
    expect(events[1]).toMatchObject({ from: "SUBMITTED", reason: "QUOTA_EXCEEDED", at: at(1) });
  });

  it("answers a missing job and a refused event without writing", async () => {
    expect(
      await applyJobEvent(stores.at("2026-01-01T00:00:00.000Z"), "nope", { type: "admitted" }),
    ).toMatchObject({
      ok: false,
      error: "NOT_FOUND",
    });
    await stores.jobs.submit({ record: newRecord({ id: "refused" }) });
    expect(
      await applyJobEvent(stores.at("2026-01-01T00:00:01.000Z"), "refused", {
        type: "resultsReturned",
      }),
    ).toEqual({
      ok: false,
      error: "REFUSED",
      message: "resultsReturned in SUBMITTED: not a legal transition",
    });
    expect(await stores.jobs.events("refused")).toHaveLength(1);
  });

  it("records timeline periods on the job", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "timeline" }) });
    const period = { startedAt: "2026-01-01T00:00:00.000Z", endedAt: "2026-01-01T00:00:01.500Z" };
    expect(await stores.jobs.recordTimeline("timeline", "Job Create", period)).toEqual({
      ok: true,
    });
    expect(await stores.jobs.timeline("timeline")).toEqual({ "Job Create": period });
    expect((await stores.jobs.recordTimeline("ghost", "Job Create", period)).ok).toBe(false);
  });
});
