/**
 * Who may call which user route, through the real API on DynamoDB Local: every route that
 * touches jobs, inputs, instances or reviews, called by the job's owner, another user, a
 * reviewer, an admin, and with no, an expired or a revoked token. Each cell gets a job of its
 * own (a request that succeeds may change it), and a refused request writes nothing: the
 * table's items are the same before and after it.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Caller } from "../../../lambdas/domain/identity.ts";
import { StatusEvent } from "../../../lambdas/domain/status-events.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import { createToken, revokeToken } from "../../../lambdas/use-cases/access-tokens.ts";
import { applyJobEvent } from "../../../lambdas/use-cases/apply-job-event.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import type { JobEventView, JobView, ReviewView } from "../../../sdk/api-types.ts";
import { contractChecked } from "../../contract/responses.ts";
import { freshStores, newRecord } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const NOW = "2026-01-01T00:10:00.000Z";

const CALLERS = [
  "owner",
  "other user",
  "reviewer",
  "admin",
  "no token",
  "expired token",
  "revoked token",
] as const;
type CallerName = (typeof CALLERS)[number];

let stores: Awaited<ReturnType<typeof freshStores>>;
let api: ReturnType<typeof contractChecked>;
let cp: ControlPlane;
let people: { owner: TestUser; other: TestUser; reviewer: TestUser; admin: TestUser };
let tokens: Record<CallerName, string | undefined>;

const callerOf = (user: TestUser, role: Caller["role"]): Caller => ({ ...user, role });

beforeAll(async () => {
  stores = await freshStores();
  cp = {
    ...stores.at(NOW),
    commands: new MemoryCommandQueue(),
    // `local`: the fixtures' jobs ask for it, and a replay submits their specs again.
    compute: { instanceTypes: async () => ["g5.xlarge", "local"] },
    workflows: {
      start: async () => ({ executionId: "e" }),
      sendTaskSuccess: async () => {},
      sendTaskFailure: async () => {},
    },
    artifacts: {
      inputStored: async () => true,
      inputUpload: async () => ({ stored: true }),
      listOutputs: async () => ({ items: ["model.pt"] }),
      outputDownload: async (jobId: string, path: string) =>
        `https://artifacts.example.org/${jobId}/${path}`,
      readResult: async () => ({ bytes: new TextEncoder().encode("boom\n"), size: 5 }),
    },
    settings: {
      ...stores.at(NOW).settings,
      region: "local",
      agent: { endpoint: "http://127.0.0.1", secret: "s" },
    },
  } as unknown as ControlPlane;
  const made = testUsers(cp);
  people = {
    admin: await made.admin(),
    owner: await made.add("ada@example.org"),
    other: await made.add("grace@example.org"),
    reviewer: await made.add("rita@example.org", "reviewer"),
  };
  // The owner's own tokens, no longer good: one a month old that lasted a day, one revoked.
  const owner = callerOf(people.owner, "user");
  const old = await createToken(stores.at("2025-12-01T00:00:00.000Z"), owner, {
    expiresInDays: 1,
  });
  const revoked = await createToken(cp, owner, { name: "revoked" });
  if (!old.ok || !revoked.ok) throw new Error("no tokens for the matrix");
  await revokeToken(cp, owner, revoked.token.tokenId);
  tokens = {
    owner: people.owner.token,
    "other user": people.other.token,
    reviewer: people.reviewer.token,
    admin: people.admin.token,
    "no token": undefined,
    "expired token": old.token.token,
    "revoked token": revoked.token.token,
  };
  api = contractChecked(createApi(cp, {}));
});
// Every answer of the matrix, refusals included, is of its route's shape in the contract.
afterAll(() => expect(api.breaches).toEqual([]));

const call = (caller: CallerName, method: string, path: string, body?: unknown) => {
  const token = tokens[caller];
  return api.request(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
};

const tableItems = async () => {
  const { Items = [] } = await stores.client.send(
    new ScanCommand({ TableName: stores.tableName, ConsistentRead: true }),
  );
  const key = (item: Record<string, unknown>) => `${item.pk} ${item.sk}`;
  return Items.toSorted((a, b) => key(a).localeCompare(key(b)));
};

/** The jobs a route is called on, each stored as the owner's. */
type Fixture = "training" | "awaiting review" | "deployment";

let jobs = 0;
const ownersJob = async (fixture: Fixture) => {
  const id = `job-matrix-${++jobs}`;
  const modelName = `model-${jobs}`;
  const record =
    fixture === "deployment"
      ? newRecord({ id, kind: "inference" }, { owner: people.owner.userId, modelName })
      : newRecord({ id }, { owner: people.owner.userId });
  expect(await stores.jobs.submit({ record })).toMatchObject({ ok: true });
  if (fixture === "awaiting review")
    expect(await applyJobEvent(cp, id, { type: "reviewRequested" })).toMatchObject({ ok: true });
  return { id, modelName };
};

const SPEC = { name: "train", instance: { types: ["g5.xlarge"] }, run: "python3 train.py" };

/** The signed-in callers all get `status`; the three refused tokens a 401. */
const everyone = (status: number) => ({
  owner: status,
  other: status,
  reviewer: status,
  admin: status,
});
/** Only the owner gets `status`; everyone else signed in finds no such job. */
const ownerOnly = (status: number) => ({ owner: status, other: 404, reviewer: 404, admin: 404 });
/** The owner and an admin get `status` (stopping a runaway job); the others find no such job. */
const ownerOrAdmin = (status: number) => ({ ...ownerOnly(status), admin: status });

interface Row {
  route: string;
  method: "GET" | "POST";
  /** The path, with `:id` and `:model` the cell's own job's. */
  path: string;
  job?: Fixture;
  body?: unknown;
  expected: { owner: number; other: number; reviewer: number; admin: number };
}

const ROWS: Row[] = [
  { route: "submit", method: "POST", path: "/v1/jobs", body: SPEC, expected: everyone(201) },
  { route: "list jobs", method: "GET", path: "/v1/jobs", expected: everyone(200) },
  {
    route: "read a job",
    method: "GET",
    path: "/v1/jobs/:id",
    job: "training",
    expected: ownerOnly(200),
  },
  {
    route: "read a job awaiting review",
    method: "GET",
    path: "/v1/jobs/:id",
    job: "awaiting review",
    expected: { owner: 200, other: 404, reviewer: 200, admin: 200 },
  },
  {
    route: "cancel",
    method: "POST",
    path: "/v1/jobs/:id/cancel",
    job: "training",
    expected: ownerOrAdmin(200),
  },
  {
    route: "complete",
    method: "POST",
    path: "/v1/jobs/:id/complete",
    job: "deployment",
    expected: ownerOrAdmin(200),
  },
  {
    route: "review a job awaiting review",
    method: "POST",
    path: "/v1/jobs/:id/review",
    job: "awaiting review",
    body: { decision: "approve" },
    expected: { owner: 403, other: 404, reviewer: 200, admin: 200 },
  },
  {
    route: "cancel a job awaiting review",
    method: "POST",
    path: "/v1/jobs/:id/cancel",
    job: "awaiting review",
    // A reviewer reads it, so is told they may not stop it; they reject it instead.
    expected: { owner: 200, other: 404, reviewer: 403, admin: 200 },
  },
  {
    route: "review a job not awaiting review",
    method: "POST",
    path: "/v1/jobs/:id/review",
    job: "training",
    body: { decision: "approve" },
    // No one but its owner may read it now, so no one else learns its phase, or that it exists.
    expected: { owner: 403, other: 404, reviewer: 404, admin: 404 },
  },
  {
    route: "replay",
    method: "POST",
    path: "/v1/jobs/:id/replay",
    job: "awaiting review",
    body: {},
    // A reviewer reads a job awaiting their review, but only its owner runs it again.
    expected: ownerOnly(201),
  },
  {
    route: "events",
    method: "GET",
    path: "/v1/jobs/:id/events",
    job: "awaiting review",
    expected: ownerOnly(200),
  },
  {
    route: "timeline",
    method: "GET",
    path: "/v1/jobs/:id/timeline",
    job: "awaiting review",
    expected: ownerOnly(200),
  },
  {
    route: "outputs",
    method: "GET",
    path: "/v1/jobs/:id/outputs",
    job: "awaiting review",
    expected: ownerOnly(200),
  },
  {
    route: "logs",
    method: "GET",
    path: "/v1/jobs/:id/logs?stream=stderr",
    job: "awaiting review",
    expected: ownerOnly(200),
  },
  {
    route: "download an output",
    method: "GET",
    path: "/v1/jobs/:id/outputs/model.pt",
    job: "awaiting review",
    expected: ownerOnly(302),
  },
  {
    route: "complete a deployment by model name",
    method: "POST",
    path: "/v1/deployments/:model/complete",
    job: "deployment",
    expected: ownerOnly(200),
  },
  { route: "instances", method: "GET", path: "/v1/instances", expected: everyone(200) },
  {
    route: "reviews",
    method: "GET",
    path: "/v1/reviews",
    expected: { owner: 403, other: 403, reviewer: 200, admin: 200 },
  },
  {
    route: "announce an input",
    method: "POST",
    path: "/v1/inputs",
    body: { sha256: "a".repeat(64), size: 1 },
    expected: everyone(200),
  },
];

const expectedStatus = (row: Row, caller: CallerName): number => {
  switch (caller) {
    case "owner":
    case "reviewer":
    case "admin":
      return row.expected[caller];
    case "other user":
      return row.expected.other;
    default:
      return 401;
  }
};

const CELLS = ROWS.flatMap((row) =>
  CALLERS.map((caller) => ({ ...row, caller, status: expectedStatus(row, caller) })),
);

describe("the user routes × their callers", () => {
  it.each(CELLS)(
    "$method $path ($route) by $caller: $status",
    async ({ method, path, job, body, caller, status }) => {
      const fixture = job ? await ownersJob(job) : undefined;
      const at = (id: string, model: string) => path.replace(":id", id).replace(":model", model);
      const before = await tableItems();

      const response = await call(
        caller,
        method,
        at(fixture?.id ?? "", fixture?.modelName ?? ""),
        body,
      );

      expect(response.status).toBe(status);
      if (status < 400) return;
      expect(await tableItems()).toEqual(before);
      if (status === 404 && fixture) {
        // Another's job answers exactly as a job (or model name) no one has: ids do not leak.
        const none = await call(caller, method, at("job-none", "model-none"), body);
        const named = JSON.stringify(await response.json())
          .replaceAll(fixture.id, "job-none")
          .replaceAll(fixture.modelName, "model-none");
        expect(named).toBe(JSON.stringify(await none.json()));
      }
    },
  );
});

describe("the cost review", () => {
  const submitForReview = async () => {
    const submitted = await call("owner", "POST", "/v1/jobs", { ...SPEC, review: true });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    // The workflow asks for the review: the control plane's own change, by no user.
    expect(await applyJobEvent(cp, id, { type: "reviewRequested" })).toMatchObject({ ok: true });
    return id;
  };
  const eventsOf = async (id: string) => {
    const response = await call("owner", "GET", `/v1/jobs/${id}/events`);
    expect(response.status).toBe(200);
    return ((await response.json()) as { items: JobEventView[] }).items;
  };
  const as = (user: TestUser) => ({ userId: user.userId, email: user.email });

  it("is refused to the job's owner with a 403 naming the rule, and changes nothing", async () => {
    const id = await submitForReview();
    const before = await tableItems();

    const refused = await call("owner", "POST", `/v1/jobs/${id}/review`, { decision: "approve" });

    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: {
        code: "FORBIDDEN",
        message: expect.stringMatching(/owner of a job cannot review it.*reviewer or admin/),
      },
    });
    expect(await tableItems()).toEqual(before);
    expect((await stores.jobs.get(id))?.job.phase).toBe("PENDING_REVIEW");
  });

  it("shows in the job's events who submitted it and which reviewer started and approved it", async () => {
    const id = await submitForReview();
    const started = await call("reviewer", "POST", `/v1/jobs/${id}/review`, { decision: "start" });
    expect(started.status).toBe(200);
    const approved = await call("reviewer", "POST", `/v1/jobs/${id}/review`, {
      decision: "approve",
    });
    expect(approved.status).toBe(200);

    const events = await eventsOf(id);
    expect(events.map(({ type, phase, by }) => ({ type, phase, by }))).toEqual([
      { type: "submitted", phase: "SUBMITTED", by: as(people.owner) },
      { type: "reviewRequested", phase: "PENDING_REVIEW", by: undefined },
      { type: "reviewStarted", phase: "PENDING_REVIEW", by: as(people.reviewer) },
      { type: "reviewApproved", phase: "SUBMITTED", by: as(people.reviewer) },
    ]);
    // The review state, which a phase alone does not tell, shows in each event's dialects.
    expect(events.map((event) => event.dialects.modelarts.code)).toEqual([1, 18, 19, 20]);
    const job = (await (await call("owner", "GET", `/v1/jobs/${id}`)).json()) as JobView;
    expect(events.at(-1)?.dialects).toEqual(job.dialects);
    const published = stores.published.flatMap((event) =>
      event["detail-type"] === "Job Status Changed" && event.detail.data.jobId === id
        ? [{ event: event.detail.data.event, by: event.detail.data.by }]
        : [],
    );
    // The bus names users by id only: its events reach a topic no one's email should.
    expect(published).toEqual([
      { event: "submitted", by: { userId: people.owner.userId } },
      { event: "reviewRequested", by: undefined },
      { event: "reviewStarted", by: { userId: people.reviewer.userId } },
      { event: "reviewApproved", by: { userId: people.reviewer.userId } },
    ]);
    for (const event of stores.published) expect(() => StatusEvent.parse(event)).not.toThrow();
  });

  it("records an admin's rejection, and the owner's cancel, by who made them", async () => {
    const rejected = await submitForReview();
    expect(
      (await call("admin", "POST", `/v1/jobs/${rejected}/review`, { decision: "reject" })).status,
    ).toBe(200);
    expect((await eventsOf(rejected)).at(-1)).toMatchObject({
      type: "reviewRejected",
      phase: "FAILED",
      reason: "REVIEW_REJECTED",
      by: as(people.admin),
    });

    const canceled = await submitForReview();
    expect((await call("owner", "POST", `/v1/jobs/${canceled}/cancel`)).status).toBe(200);
    expect((await eventsOf(canceled)).at(-1)).toMatchObject({
      type: "cancelRequested",
      by: as(people.owner),
    });
  });

  it("lists to a reviewer the other users' jobs awaiting review, a page at a time, with what they cost", async () => {
    const adas = await submitForReview();
    const ritas = await call("reviewer", "POST", "/v1/jobs", {
      ...SPEC,
      review: true,
      timeoutS: 60,
    });
    const ritasId = ((await ritas.json()) as { id: string }).id;
    expect(await applyJobEvent(cp, ritasId, { type: "reviewRequested" })).toMatchObject({
      ok: true,
    });

    const listed = async (caller: CallerName) => {
      const items: ReviewView[] = [];
      let cursor: string | undefined;
      do {
        const query = cursor ? `?limit=1&cursor=${cursor}` : "?limit=1";
        const response = await call(caller, "GET", `/v1/reviews${query}`);
        expect(response.status).toBe(200);
        const page = (await response.json()) as { items: ReviewView[]; cursor?: string };
        expect(page.items.length).toBeLessThanOrEqual(1);
        items.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      return items;
    };

    const forRita = await listed("reviewer");
    expect(forRita.map((review) => review.id)).toContain(adas);
    expect(forRita.map((review) => review.id)).not.toContain(ritasId);
    expect(forRita.find((review) => review.id === adas)).toEqual({
      id: adas,
      name: "train",
      kind: "training",
      owner: people.owner.userId,
      ownerEmail: "ada@example.org",
      review: "INIT",
      instanceTypes: ["g5.xlarge"],
      spot: false,
      workers: 1,
      submittedAt: NOW,
      updatedAt: NOW,
    });
    expect((await listed("admin")).find((review) => review.id === ritasId)).toMatchObject({
      ownerEmail: "rita@example.org",
      timeoutS: 60,
    });
    expect(await call("reviewer", "GET", "/v1/reviews?cursor=bm9wZQ")).toMatchObject({
      status: 400,
    });
  });
});

describe("pagination cursors", () => {
  it("refuses a handed-out cursor with a key added as a bad cursor, on jobs and reviews", async () => {
    await ownersJob("training");
    await ownersJob("training");
    await ownersJob("awaiting review");
    await ownersJob("awaiting review");
    for (const [caller, path] of [
      ["owner", "/v1/jobs"],
      ["reviewer", "/v1/reviews"],
    ] as const) {
      const first = await call(caller, "GET", `${path}?limit=1`);
      const { cursor } = (await first.json()) as { cursor: string };
      const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
      const tampered = Buffer.from(JSON.stringify({ ...key, zz: "1" })).toString("base64url");

      const refused = await call(caller, "GET", `${path}?limit=1&cursor=${tampered}`);

      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: { code: "VALIDATION", message: expect.stringContaining("cursor") },
      });
      expect((await call(caller, "GET", `${path}?limit=1&cursor=${cursor}`)).status).toBe(200);
    }
  });
});
