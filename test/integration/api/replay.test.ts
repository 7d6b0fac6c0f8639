/**
 * Replay through the real API on DynamoDB Local and a local artifacts folder: a new job from
 * a recorded one's exact spec and pinned inputs, through the submit path (workflows started,
 * idempotency key honoured), with `replayOf` in its view and on its `submitted` event. Bad
 * bodies, other users' jobs and inputs gone are refused, and nothing is written.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsArtifacts } from "../../../lambdas/adapters/local/fs-artifacts.ts";
import { inputKey } from "../../../lambdas/domain/artifacts.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { JobEventView, JobView } from "../../../sdk/api-types.ts";
import { apiPorts, freshStores } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const NOW = "2026-01-01T00:10:00.000Z";
const CONTENT = Buffer.from("ada's points");
const SHA256 = createHash("sha256").update(CONTENT).digest("hex");
const SPEC = {
  name: "train",
  instance: { types: ["g5.xlarge"], spot: true, waitRequestS: 600 },
  run: "python3 train.py",
  inputs: [{ sha256: SHA256, path: "data/points.csv" }],
  checkpointDir: "checkpoints",
};

let stores: Awaited<ReturnType<typeof freshStores>>;
let api: ReturnType<typeof createApi>;
let people: { ada: TestUser; grace: TestUser };
let root: string;
const starts: Array<[string, string, Record<string, unknown>]> = [];

const storeInput = async (owner: string) => {
  const path = join(root, ...inputKey(owner, SHA256).split("/"));
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, CONTENT);
  return path;
};

beforeAll(async () => {
  stores = await freshStores();
  root = await mkdtemp(join(tmpdir(), "gpuctl-replay-"));
  const artifacts = new FsArtifacts(root, "http://127.0.0.1");
  const cp = apiPorts(stores, NOW, {
    compute: { instanceTypes: async () => ["g5.xlarge"] },
    workflows: {
      start: async (machine: string, name: string, input: Record<string, unknown>) => {
        starts.push([machine, name, input]);
        return { executionId: name };
      },
    },
    artifacts,
  });
  const made = testUsers(cp);
  people = { ada: await made.add("ada@example.org"), grace: await made.add("grace@example.org") };
  api = createApi(cp, { localArtifacts: artifacts });
});
afterAll(() => rm(root, { recursive: true, force: true }));

const call = (
  user: keyof typeof people,
  method: string,
  path: string,
  body?: unknown,
  key?: string,
) =>
  api.request(path, {
    method,
    headers: {
      authorization: `Bearer ${people[user].token}`,
      "content-type": "application/json",
      ...(key ? { "idempotency-key": key } : {}),
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });

const tableItems = async () =>
  (await stores.client.send(new ScanCommand({ TableName: stores.tableName }))).Items ?? [];

/** Ada's recorded job, submitted with her input stored. */
const recordedJob = async (): Promise<JobView> => {
  await storeInput(people.ada.userId);
  const submitted = await call("ada", "POST", "/v1/jobs", SPEC);
  expect(submitted.status).toBe(201);
  return (await submitted.json()) as JobView;
};

describe("POST /v1/jobs/{id}/replay", () => {
  it("submits the recorded spec and inputs again as a new job that names what it replays", async () => {
    const recorded = await recordedJob();
    const before = starts.length;

    const answer = await call("ada", "POST", `/v1/jobs/${recorded.id}/replay`, {
      description: "loss turns NaN at epoch 3\n\tafter the warm-up",
      waitRequestS: 1200,
    });

    expect(answer.status).toBe(201);
    const replay = (await answer.json()) as JobView;
    expect(replay).toMatchObject({
      name: "train",
      phase: "SUBMITTED",
      replayOf: recorded.id,
      description: "loss turns NaN at epoch 3\n\tafter the warm-up",
      checkpointDir: "checkpoints",
    });
    expect(replay.id).not.toBe(recorded.id);
    const stored = await stores.jobs.get(replay.id);
    const recordedSpec = (await stores.jobs.get(recorded.id))?.spec;
    expect(stored?.spec).toEqual({
      ...recordedSpec,
      instance: { ...recordedSpec?.instance, waitRequestS: 1200 },
    });
    expect(starts.slice(before)).toEqual([
      ["job-lifecycle", expect.stringContaining(replay.id), { jobId: replay.id, review: false }],
    ]);
    const events = (await (await call("ada", "GET", `/v1/jobs/${replay.id}/events`)).json()) as {
      items: JobEventView[];
    };
    expect(events.items).toMatchObject([{ type: "submitted", replayOf: recorded.id }]);
  });

  it("waits 10000 s for spot capacity unless told otherwise, whatever the recorded spec said", async () => {
    const recorded = await recordedJob();
    const replay = (await (
      await call("ada", "POST", `/v1/jobs/${recorded.id}/replay`, {})
    ).json()) as JobView;
    expect((await stores.jobs.get(replay.id))?.spec.instance.waitRequestS).toBe(10_000);
    expect(replay).not.toHaveProperty("description");
  });

  it("answers a repeated request with the same idempotency key with the first replay", async () => {
    const recorded = await recordedJob();
    const path = `/v1/jobs/${recorded.id}/replay`;
    const first = await call("ada", "POST", path, { description: "again" }, "replay-key-1");
    const second = await call("ada", "POST", path, { description: "again" }, "replay-key-1");
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(((await second.json()) as JobView).id).toBe(((await first.json()) as JobView).id);
    const reused = await call("ada", "POST", path, { description: "other" }, "replay-key-1");
    expect(reused.status).toBe(409);
  });

  it.each([
    ["an unknown field", { descripton: "typo" }, "descripton"],
    ["a description too long", { description: "x".repeat(4097) }, "description"],
    ["a description of the wrong type", { description: 7 }, "description"],
    ["a description retitling a terminal", { description: "\x1b]0;pwned\x07" }, "description"],
    ["a description writing a clipboard", { description: "\x1b]52;c;cm0gLXJm\x07" }, "description"],
    ["a description clearing a screen", { description: "ok\x1b[2J" }, "description"],
    ["a description with a C1 CSI", { description: "ok\x9b2J" }, "description"],
    ["a description with a NUL", { description: "ok\x00" }, "description"],
    ["a description with a carriage return", { description: "ok\rspoof" }, "description"],
    ["a wait of zero", { waitRequestS: 0 }, "waitRequestS"],
    ["a wait over a day", { waitRequestS: 86_401 }, "waitRequestS"],
    ["a wait in fractions", { waitRequestS: 1.5 }, "waitRequestS"],
    ["a body that is not JSON", "{", "(body)"],
  ])("refuses %s with a 400 naming the field, and writes nothing", async (_, body, field) => {
    const recorded = await recordedJob();
    const before = await tableItems();
    const refused = await call("ada", "POST", `/v1/jobs/${recorded.id}/replay`, body);
    expect(refused.status).toBe(400);
    const { error } = (await refused.json()) as { error: { fields: Array<{ field: string }> } };
    expect(error.fields.map((each) => each.field)).toContain(field);
    expect(await tableItems()).toEqual(before);
  });

  it("answers another user's job, and one that does not exist, as not found, and writes nothing", async () => {
    const recorded = await recordedJob();
    const before = await tableItems();
    for (const [user, id] of [
      ["grace", recorded.id],
      ["ada", "job-nosuch"],
    ] as const) {
      const refused = await call(user, "POST", `/v1/jobs/${id}/replay`, {});
      expect(refused.status).toBe(404);
    }
    // An id that is no id (traversal), or longer than any path segment, is refused before
    // any job is looked up.
    for (const [id, field] of [
      ["..%2F..%2Finputs", "id"],
      ["x".repeat(300), "path"],
    ]) {
      const refused = await call("ada", "POST", `/v1/jobs/${id}/replay`, {});
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { fields: [{ field }] } });
    }
    expect(await tableItems()).toEqual(before);
  });

  it("refuses, naming the input, when an uploaded input the job ran on is no longer stored", async () => {
    const recorded = await recordedJob();
    await rm(join(root, ...inputKey(people.ada.userId, SHA256).split("/")));
    const before = await tableItems();

    const refused = await call("ada", "POST", `/v1/jobs/${recorded.id}/replay`, {});

    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      error: { code: "CONFLICT", message: expect.stringContaining("inputs.0.sha256") },
    });
    expect(await tableItems()).toEqual(before);
  });
});
