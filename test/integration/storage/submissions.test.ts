import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { InvalidCursorError, UnreadableJobError } from "../../../lambdas/ports.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import { freshStores, newRecord } from "../stores.ts";

let stores: Awaited<ReturnType<typeof freshStores>>;
beforeAll(async () => {
  stores = await freshStores();
});

const deployment = (id: string) =>
  newRecord({ id, kind: "inference" }, { modelName: "llama-chat" });

describe("submitting jobs", () => {
  it("keeps one active deployment per model name, however many deploy at once", async () => {
    const ids = Array.from({ length: 10 }, (_, n) => `deploy-${n}`);
    const results = await Promise.all(
      ids.map((id) => stores.jobs.submit({ record: deployment(id) })),
    );
    expect(results.filter((result) => result.ok)).toHaveLength(1);
    expect(results.filter((result) => !result.ok)).toEqual(
      Array(9).fill({
        ok: false,
        conflict: "MODEL_NAME_TAKEN",
        message: "modelName: an active deployment of yours already serves llama-chat",
      }),
    );
    const winner = ids[results.findIndex((result) => result.ok)] as string;
    expect((await stores.jobs.activeDeployment("ada", "llama-chat"))?.job.id).toBe(winner);
    const losers = await Promise.all(
      ids.filter((id) => id !== winner).map((id) => stores.jobs.get(id)),
    );
    expect(losers.every((record) => record === undefined)).toBe(true);
  });

  it("frees the model name when the deployment ends", async () => {
    const active = await stores.jobs.activeDeployment("ada", "llama-chat");
    if (!active) throw new Error("no active deployment");
    const done = await applyJobEvent(stores.at("2026-01-01T00:10:00.000Z"), active.job.id, {
      type: "completeRequested",
    });
    expect(done.ok).toBe(true);
    expect(await stores.jobs.activeDeployment("ada", "llama-chat")).toBeUndefined();
    expect(await stores.jobs.submit({ record: deployment("deploy-next") })).toMatchObject({
      ok: true,
    });
  });

  it("keeps model names per owner: another owner deploys the same name and never sees the first", async () => {
    const ours = await stores.jobs.activeDeployment("ada", "llama-chat");
    const theirs = newRecord(
      { id: "deploy-hedy", kind: "inference" },
      {
        owner: "hedy",
        modelName: "llama-chat",
      },
    );
    expect(await stores.jobs.activeDeployment("hedy", "llama-chat")).toBeUndefined();
    expect(await stores.jobs.submit({ record: theirs })).toMatchObject({ ok: true });
    expect((await stores.jobs.activeDeployment("hedy", "llama-chat"))?.job.id).toBe("deploy-hedy");
    expect(await stores.jobs.activeDeployment("ada", "llama-chat")).toEqual(ours);
  });

  it("returns the same job for the same idempotency key and request, with one record", async () => {
    const idempotency = { key: "key-1", requestHash: "hash-a" };
    const first = await stores.jobs.submit({ record: newRecord({ id: "idem-1" }), idempotency });
    const again = await stores.jobs.submit({ record: newRecord({ id: "idem-2" }), idempotency });
    expect(first).toMatchObject({ ok: true, replayed: false, record: { job: { id: "idem-1" } } });
    expect(again).toMatchObject({ ok: true, replayed: true, record: { job: { id: "idem-1" } } });
    expect(await stores.jobs.get("idem-2")).toBeUndefined();
    const owned = await stores.jobs.listByOwner("ada", { limit: 100 });
    expect(owned.items.filter((record) => record.job.id.startsWith("idem-"))).toHaveLength(1);
  });

  it("refuses the same idempotency key for a different request", async () => {
    await stores.jobs.submit({
      record: newRecord({ id: "idem-3" }),
      idempotency: { key: "key-2", requestHash: "a" },
    });
    expect(
      await stores.jobs.submit({
        record: newRecord({ id: "idem-4" }),
        idempotency: { key: "key-2", requestHash: "b" },
      }),
    ).toEqual({
      ok: false,
      conflict: "IDEMPOTENCY_KEY_REUSED",
      message: "idempotency key key-2 was used for a different request",
    });
  });

  it("refuses a second job with the same id", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "dup" }) });
    expect(await stores.jobs.submit({ record: newRecord({ id: "dup" }) })).toMatchObject({
      ok: false,
      conflict: "JOB_EXISTS",
    });
  });
});

describe("listing a user's jobs", () => {
  it("returns every job exactly once across pages, newest first, only the caller's", async () => {
    const own = Array.from({ length: 23 }, (_, n) => `page-${String(n).padStart(2, "0")}`);
    const at = (n: number) => new Date(Date.UTC(2026, 1, 1, 0, 0, n)).toISOString();
    await Promise.all(
      own.map((id, n) =>
        stores.jobs.submit({ record: newRecord({ id }, { owner: "grace", createdAt: at(n) }) }),
      ),
    );
    await stores.jobs.submit({
      record: newRecord({ id: "someone-else" }, { owner: "linus", createdAt: at(30) }),
    });

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await stores.jobs.listByOwner("grace", {
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.items.length).toBeLessThanOrEqual(5);
      seen.push(...page.items.map((record) => record.job.id));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual([...own].reverse());
    expect(pages).toBeGreaterThanOrEqual(5);
  });

  it("rejects a cursor it did not hand out, naming the field", async () => {
    const page = await stores.jobs.listByOwner("grace", { limit: 1 });
    await expect(
      stores.jobs.listByOwner("linus", { cursor: page.cursor as string }),
    ).rejects.toThrow(InvalidCursorError);
    await expect(stores.jobs.listByOwner("grace", { cursor: "not-a-cursor" })).rejects.toThrow(
      "cursor:",
    );
  });

  it("rejects a cursor it handed out with a key added, or a key's type changed", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "reviewed-1" }, { owner: "grace" }) });
    await stores.jobs.submit({ record: newRecord({ id: "reviewed-2" }, { owner: "grace" }) });
    const tampered = (cursor: string | undefined, change: Record<string, unknown>) => {
      const key = JSON.parse(Buffer.from(cursor as string, "base64url").toString("utf8"));
      return Buffer.from(JSON.stringify({ ...key, ...change })).toString("base64url");
    };
    const owners = await stores.jobs.listByOwner("grace", { limit: 1 });
    const phases = await stores.jobs.pageByPhase("SUBMITTED", { limit: 1 });
    for (const change of [{ zz: "1" }, { sk: 1 }]) {
      await expect(
        stores.jobs.listByOwner("grace", { cursor: tampered(owners.cursor, change) }),
      ).rejects.toThrow(InvalidCursorError);
      await expect(
        stores.jobs.pageByPhase("SUBMITTED", { cursor: tampered(phases.cursor, change) }),
      ).rejects.toThrow(InvalidCursorError);
    }
    // The untampered cursors still page on.
    await expect(
      stores.jobs.listByOwner("grace", { cursor: owners.cursor as string }),
    ).resolves.toMatchObject({ items: expect.any(Array) });
    await expect(
      stores.jobs.pageByPhase("SUBMITTED", { cursor: phases.cursor as string }),
    ).resolves.toMatchObject({ items: expect.any(Array) });
  });
});

describe("records this version cannot read", () => {
  it("are left out of listings, and named when asked for", async () => {
    await stores.jobs.submit({ record: newRecord({ id: "readable" }, { owner: "ana" }) });
    await stores.client.send(
      new PutCommand({
        TableName: stores.tableName,
        Item: {
          pk: "JOB#from-the-future",
          sk: "JOB",
          gsi1pk: "OWNER#ana",
          gsi1sk: "2099#x",
          phase: "WARMING_UP",
        },
      }),
    );
    const page = await stores.jobs.listByOwner("ana");
    expect(page.items.map((record) => record.job.id)).toEqual(["readable"]);
    await expect(stores.jobs.get("from-the-future")).rejects.toThrow(UnreadableJobError);
  });
});
