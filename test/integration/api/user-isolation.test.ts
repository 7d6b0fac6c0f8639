/**
 * Users on the real API over DynamoDB Local, each with their access token: none sees
 * another's instances nor reaches another's model names, and what another has answers
 * exactly as what does not exist; an admin sees every instance.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import type { Instance } from "../../../lambdas/domain/instance.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { listInstances } from "../../../lambdas/use-cases/list-instances.ts";
import { freshStores, newRecord } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const NOW = "2026-01-01T00:10:00.000Z";
const USERS = ["ada", "grace", "alan"] as const;
type User = (typeof USERS)[number] | "admin";
let people: Record<User, TestUser>;

let stores: Awaited<ReturnType<typeof freshStores>>;
let api: ReturnType<typeof createApi>;
let cp: ControlPlane;

beforeAll(async () => {
  stores = await freshStores();
  cp = {
    ...stores.at(NOW),
    commands: new MemoryCommandQueue(),
    workflows: { sendTaskFailure: async () => {} },
    settings: { region: "local", agent: { endpoint: "http://127.0.0.1", secret: "s" } },
  } as unknown as ControlPlane;
  const made = testUsers(cp);
  people = {
    admin: await made.admin(),
    ada: await made.add("ada@example.org"),
    grace: await made.add("grace@example.org"),
    // A reviewer sees instances as any user does: their own only.
    alan: await made.add("alan@example.org", "reviewer"),
  };
  api = createApi(cp, {});
});

const call = (user: User, method: string, path: string) =>
  api.fetch(
    new Request(`http://localhost${path}`, {
      method,
      headers: { authorization: `Bearer ${people[user].token}` },
    }),
  );

const listed = async (user: User) => {
  const response = await call(user, "GET", "/v1/instances");
  expect(response.status).toBe(200);
  return (await response.json()) as { items: Array<{ id: string; jobId?: string }> };
};

let instances = 0;
/** An instance launched for `user`'s job, in `state`; stored as the control plane would. */
const stored = async (user: User, state: Partial<Instance>): Promise<Instance> => {
  const instance = {
    id: `gi-${user}-${++instances}`,
    pool: { instanceType: "local", envHash: "e", region: "local", owner: people[user].userId },
    spot: false,
    coolingEpoch: 0,
    version: 1,
    ...state,
  } as Instance;
  await stores.instances.create(instance, NOW);
  return instance;
};

const deploy = async (user: User, id: string, modelName: string) => {
  const record = newRecord({ id, kind: "inference" }, { owner: people[user].userId, modelName });
  expect(await stores.jobs.submit({ record })).toMatchObject({ ok: true });
};

describe("instances", () => {
  it("lists only the caller's own instances; another user's, and its job ids, are absent", async () => {
    const ada = await stored("ada", { status: "EXECUTING", jobId: "job-of-ada" });
    const grace = [
      await stored("grace", { status: "EXECUTING", jobId: "job-of-grace" }),
      await stored("grace", { status: "LAUNCHING", jobId: "next-of-grace", agentReady: true }),
      await stored("grace", { status: "COOLING" }),
    ];

    const seen = await listed("ada");
    expect(seen.items.map((item) => item.id)).toContain(ada.id);
    const body = JSON.stringify(seen);
    for (const hidden of [...grace.map((instance) => instance.id), "job-of-grace", "next-of-grace"])
      expect(body).not.toContain(hidden);
    expect((await listed("grace")).items.map((item) => item.id)).not.toContain(ada.id);
  });

  it("never lists another owner's instance, and lists every one of the caller's", async () => {
    const all: Instance[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            owner: fc.constantFrom(...USERS),
            state: fc.constantFrom<Partial<Instance>>(
              { status: "LAUNCHING", jobId: "j", agentReady: false },
              { status: "EXECUTING", jobId: "j" },
              { status: "COOLING" },
              { status: "CLOSED", substatus: "STOPPED" },
              { status: "CLOSED", substatus: "TERMINATED" },
            ),
          }),
          { maxLength: 4 },
        ),
        fc.constantFrom(...USERS),
        async (launches, caller) => {
          for (const { owner, state } of launches) all.push(await stored(owner, state));
          const ids = (await listed(caller)).items.map((item) => item.id);
          const owner = people[caller].userId;
          const own = all.filter((instance) => instance.pool.owner === owner);
          expect(ids).toEqual(expect.arrayContaining(own.map((instance) => instance.id)));
          const others = new Set(all.filter((i) => i.pool.owner !== owner).map((i) => i.id));
          expect(ids.filter((id) => others.has(id))).toEqual([]);
        },
      ),
      { numRuns: 15 },
    );
  });

  it("lists every owner's instances to an admin, as the all-owners scope has them", async () => {
    const graces = await stored("grace", { status: "COOLING" });
    const adas = await stored("ada", { status: "EXECUTING", jobId: "job-of-ada" });
    const everyone = await listInstances(cp, { allOwners: true });
    expect(everyone.map((instance) => instance.id)).toEqual(
      expect.arrayContaining([graces.id, adas.id]),
    );
    const seen = (await listed("admin")).items.map((item) => item.id);
    expect(seen.toSorted()).toEqual(everyone.map((instance) => instance.id).toSorted());
  });
});

describe("model names", () => {
  it("are per user: each completes only their own deployment of the same name", async () => {
    await deploy("ada", "ada-model", "my-model");
    await deploy("grace", "grace-model", "my-model");

    const done = await call("grace", "POST", "/v1/deployments/my-model/complete");
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ id: "grace-model", phase: "COMPLETED" });
    expect((await stores.jobs.get("ada-model"))?.job.phase).toBe("SUBMITTED");
  });

  it("answers another user's model name exactly as one that does not exist", async () => {
    await deploy("grace", "grace-only", "only-grace");
    const theirs = await call("ada", "POST", "/v1/deployments/only-grace/complete");
    const nobodys = await call("ada", "POST", "/v1/deployments/only-grace-x/complete");
    expect(theirs.status).toBe(404);
    expect(nobodys.status).toBe(404);
    const body = (await theirs.json()) as { error: { code: string; message: string } };
    const none = (await nobodys.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(none.error.code);
    expect(body.error.message.replace("only-grace", "NAME")).toBe(
      none.error.message.replace("only-grace-x", "NAME"),
    );
    expect(JSON.stringify(body)).not.toContain("grace-only");
    expect((await stores.jobs.get("grace-only"))?.job.phase).toBe("SUBMITTED");
  });
});

describe("another user's runaway job", () => {
  it("an admin finds it on the instances it holds and stops it, and its events name the admin", async () => {
    await deploy("grace", "grace-runaway", "runaway-model");
    const instance = await stored("grace", { status: "EXECUTING", jobId: "grace-runaway" });
    const found = (await listed("admin")).items.find((item) => item.id === instance.id);
    expect(found?.jobId).toBe("grace-runaway");

    const stopped = await call("admin", "POST", `/v1/jobs/${found?.jobId}/complete`);

    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ id: "grace-runaway", phase: "COMPLETED" });
    const events = await stores.jobs.events("grace-runaway");
    expect(events.at(-1)?.by).toEqual({ userId: people.admin.userId, email: people.admin.email });
    // Stopping it is all: its outputs stay its owner's.
    expect((await call("admin", "GET", "/v1/jobs/grace-runaway/outputs")).status).toBe(404);
  });

  it("is not another plain user's or a reviewer's to stop", async () => {
    await deploy("grace", "grace-busy", "busy-model");
    for (const user of ["ada", "alan"] as const)
      expect((await call(user, "POST", "/v1/jobs/grace-busy/cancel")).status).toBe(404);
    expect((await stores.jobs.get("grace-busy"))?.job.phase).toBe("SUBMITTED");
  });
});
