import { beforeAll, describe, expect, it } from "vitest";
import { DynamoJobStore } from "../../../lambdas/adapters/aws/dynamodb/job-store.ts";
import { DynamoUserStore } from "../../../lambdas/adapters/aws/dynamodb/user-store.ts";
import { ScryptPasswords } from "../../../lambdas/adapters/crypto/scrypt-passwords.ts";
import { MemoryCommandQueue } from "../../../lambdas/adapters/local/memory-command-queue.ts";
import { MemoryMetrics } from "../../../lambdas/adapters/local/memory-metrics.ts";
import { type Caller, LOGIN_LIMIT } from "../../../lambdas/domain/identity.ts";
import type { Phase } from "../../../lambdas/domain/phases.ts";
import type { Passwords, Workflows } from "../../../lambdas/ports.ts";
import {
  authenticate,
  createToken,
  listTokens,
  revokeToken,
} from "../../../lambdas/use-cases/access-tokens.ts";
import { login } from "../../../lambdas/use-cases/login.ts";
import {
  addFirstAdmin,
  addUser,
  listUsers,
  removeUser,
  setRole,
} from "../../../lambdas/use-cases/users.ts";
import { newRecord } from "../stores.ts";
import { freshTable } from "../table.ts";

const START = Date.parse("2026-01-01T00:00:00.000Z");
let nowS = 0;
const clock = { now: () => new Date(START + nowS * 1000).toISOString() };
const scrypt = new ScryptPasswords({ N: 2 ** 10, r: 8, p: 1 });
/** Counts the scrypt work each sign-in does. */
const work: string[] = [];
const passwords: Passwords = {
  hash: (password) => {
    work.push("hash");
    return scrypt.hash(password);
  },
  verify: (password, stored) => {
    work.push("verify");
    return scrypt.verify(password, stored);
  },
};
/** Step Functions as a cancel sees it: the task failures it reports, recorded. */
const taskFailures: string[] = [];
const workflows = {
  sendTaskFailure: async (taskToken: string) => void taskFailures.push(taskToken),
} as Partial<Workflows> as Workflows;

/** The ports the identity use cases take, over one fresh table. */
const portsOn = async () => {
  const table = await freshTable();
  return {
    users: new DynamoUserStore(table),
    jobs: new DynamoJobStore(table),
    commands: new MemoryCommandQueue(),
    workflows,
    events: { publish: async () => {} },
    metrics: new MemoryMetrics(),
    passwords,
    clock,
  };
};
let cp: Awaited<ReturnType<typeof portsOn>>;

/** The failed sign-ins recorded for an address, read by an update that writes nothing. */
const recordedFailures = async (email: string) =>
  (await cp.users.updateLoginFailures(email, () => undefined, clock.now())).failures;
let admin: Caller;

const PASSWORD = "correct horse battery";

const ok = <T extends { ok: boolean }>(result: T): Extract<T, { ok: true }> => {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result)}`);
  return result as Extract<T, { ok: true }>;
};

const callerOf = async (token: string) => ok(await authenticate(cp, token)).caller;

beforeAll(async () => {
  cp = await portsOn();
  const first = ok(await addFirstAdmin(cp, { email: "Root@Example.org", password: PASSWORD }));
  admin = await callerOf(first.token.token);
});

describe("users", () => {
  it("the first admin is made once, at setup", async () => {
    expect(admin).toMatchObject({ email: "root@example.org", role: "admin" });
    expect(await addFirstAdmin(cp, { email: "other@example.org" })).toEqual({
      ok: false,
      error: "CONFLICT",
      conflict: "USER_EXISTS",
      message: expect.stringContaining("the first admin exists already"),
    });
  });

  it("makes one first admin however many setups race on an empty table", async () => {
    const empty = await portsOn();
    const setups = await Promise.all(
      ["a", "b", "c", "d"].map((name) => addFirstAdmin(empty, { email: `${name}@example.org` })),
    );
    expect(setups.filter((setup) => setup.ok)).toHaveLength(1);
    expect(setups.filter((setup) => !setup.ok)).toEqual(
      Array(3).fill(expect.objectContaining({ conflict: "USER_EXISTS" })),
    );
    expect(await empty.users.listUsers()).toHaveLength(1);
  });

  it("an admin adds a user, who gets a first token that lets them in", async () => {
    const added = ok(await addUser(cp, admin, { email: "ada@example.org", role: "reviewer" }));
    expect(added.user).toMatchObject({
      email: "ada@example.org",
      role: "reviewer",
      createdBy: admin.userId,
    });
    expect(added.user).not.toHaveProperty("passwordHash");
    expect(await callerOf(added.token.token)).toEqual({
      userId: added.user.userId,
      email: "ada@example.org",
      role: "reviewer",
    });
    expect(await addUser(cp, admin, { email: "ADA@example.org" })).toMatchObject({
      error: "CONFLICT",
      conflict: "USER_EXISTS",
    });
  });

  it("refuses a bad user naming each field", async () => {
    expect(
      await addUser(cp, admin, { email: "nope", role: "boss", password: "short" }),
    ).toMatchObject({
      error: "VALIDATION",
      fields: [{ field: "email" }, { field: "role" }, { field: "password" }],
    });
  });

  it("only admins add, list, change or remove users", async () => {
    const bob = ok(await addUser(cp, admin, { email: "bob@example.org" }));
    const asBob = await callerOf(bob.token.token);
    for (const refused of [
      await addUser(cp, asBob, { email: "eve@example.org" }),
      await listUsers(cp, asBob),
      await setRole(cp, asBob, { email: "bob@example.org", role: "admin" }),
      await removeUser(cp, asBob, { email: "root@example.org" }),
    ])
      expect(refused).toMatchObject({ ok: false, error: "FORBIDDEN" });
    expect(await cp.users.getUser("eve@example.org")).toBeUndefined();
    expect((await cp.users.getUser("bob@example.org"))?.role).toBe("user");
  });

  it("a role change takes effect on the user's next request", async () => {
    const cy = ok(await addUser(cp, admin, { email: "cy@example.org" }));
    const changed = ok(await setRole(cp, admin, { email: "cy@example.org", role: "admin" }));
    expect(changed.user).toMatchObject({ role: "admin", updatedBy: admin.userId });
    expect((await callerOf(cy.token.token)).role).toBe("admin");
    expect(await setRole(cp, admin, { email: "no@example.org", role: "user" })).toMatchObject({
      error: "NOT_FOUND",
    });
  });

  it("an admin neither demotes nor removes themself", async () => {
    expect(await setRole(cp, admin, { email: admin.email, role: "user" })).toMatchObject({
      error: "FORBIDDEN",
    });
    expect(await removeUser(cp, admin, { email: admin.email })).toMatchObject({
      error: "FORBIDDEN",
    });
  });

  it("two admins demoting or removing each other at once leave one admin", async () => {
    for (const change of ["demote", "remove"] as const) {
      const own = await portsOn();
      const ann = ok(await addFirstAdmin(own, { email: `ann-${change}@example.org` }));
      const asAnn = ok(await authenticate(own, ann.token.token)).caller;
      const ben = ok(
        await addUser(own, asAnn, { email: `ben-${change}@example.org`, role: "admin" }),
      );
      const asBen = ok(await authenticate(own, ben.token.token)).caller;
      const each = (caller: Caller, other: Caller) =>
        change === "demote"
          ? setRole(own, caller, { email: other.email, role: "user" })
          : removeUser(own, caller, { email: other.email });
      const answers = await Promise.all([each(asAnn, asBen), each(asBen, asAnn)]);
      expect(answers.filter((answer) => answer.ok)).toHaveLength(1);
      expect(answers.filter((answer) => !answer.ok)).toEqual([
        {
          ok: false,
          error: "CONFLICT",
          conflict: "LAST_ADMIN",
          message: expect.stringContaining("an installation always keeps an admin"),
        },
      ]);
      // Whoever's change went through is the admin left.
      const users = ok(await listUsers(own, answers[0]?.ok ? asAnn : asBen)).users;
      expect(users.filter((user) => user.role === "admin")).toHaveLength(1);
    }
  });

  it("removing a user cancels their jobs that have not ended, pending review ones too, as the admin", async () => {
    const kim = ok(await addUser(cp, admin, { email: "kim@example.org" }));
    const owned = (id: string, phase: Phase) =>
      newRecord({ id }, { owner: kim.user.userId, job: { ...newRecord({ id }).job, phase } });
    for (const record of [
      owned("kim-queued", "QUEUED"),
      owned("kim-review", "PENDING_REVIEW"),
      owned("kim-done", "COMPLETED"),
    ])
      await cp.jobs.submit({ record });
    // The review gate's workflow task, which the cancel ends.
    await cp.jobs.setTaskToken("kim-review", "review-task");
    const removed = ok(await removeUser(cp, admin, { email: "kim@example.org" }));
    expect(removed.canceledJobs).toBe(2);
    for (const [id, phase] of [
      ["kim-queued", "CANCELED"],
      ["kim-review", "CANCELED"],
      ["kim-done", "COMPLETED"],
    ] as const)
      expect((await cp.jobs.get(id))?.job.phase).toBe(phase);
    expect(taskFailures).toContain("review-task");
    expect((await cp.jobs.events("kim-review")).at(-1)).toMatchObject({
      by: { userId: admin.userId, email: admin.email },
    });
  });

  it("a removed user's tokens stop working, even once their email is given to a new user", async () => {
    const dee = ok(await addUser(cp, admin, { email: "dee@example.org" }));
    ok(await removeUser(cp, admin, { email: "dee@example.org" }));
    expect(await authenticate(cp, dee.token.token)).toMatchObject({
      error: "UNAUTHORIZED",
      reason: "UNKNOWN",
    });
    ok(await addUser(cp, admin, { email: "dee@example.org" }));
    expect(await authenticate(cp, dee.token.token)).toMatchObject({ reason: "UNKNOWN" });
  });
});

describe("access tokens", () => {
  it("a user creates, lists and revokes their own; the token is shown only when made", async () => {
    const fay = ok(await addUser(cp, admin, { email: "fay@example.org" }));
    const asFay = await callerOf(fay.token.token);
    const laptop = ok(await createToken(cp, asFay, { name: "laptop", expiresInDays: 7 })).token;
    expect(laptop.token).toMatch(/^gpuctl_/);
    const listed = ok(await listTokens(cp, asFay)).tokens;
    expect(listed.map((token) => token.name).sort()).toEqual(["first", "laptop"]);
    expect(JSON.stringify(listed)).not.toContain(laptop.token.slice(7));
    expect(listed.every((token) => !("hash" in token))).toBe(true);

    ok(await revokeToken(cp, asFay, laptop.tokenId));
    expect(await authenticate(cp, laptop.token)).toMatchObject({ reason: "REVOKED" });
    ok(await revokeToken(cp, asFay, laptop.tokenId));
    expect(await revokeToken(cp, admin, fay.token.tokenId)).toMatchObject({ error: "NOT_FOUND" });
    expect(await authenticate(cp, fay.token.token)).toMatchObject({ ok: true });
  });

  it("an expired token is refused as expired; lifetimes beyond the maximum are refused", async () => {
    const gus = ok(await addUser(cp, admin, { email: "gus@example.org" }));
    const asGus = await callerOf(gus.token.token);
    const short = ok(await createToken(cp, asGus, { expiresInDays: 1 })).token;
    expect(await createToken(cp, asGus, { expiresInDays: 400, name: "" })).toMatchObject({
      error: "VALIDATION",
      fields: [{ field: "name" }, { field: "expiresInDays" }],
    });
    nowS += 86_400;
    expect(await authenticate(cp, short.token)).toMatchObject({ reason: "EXPIRED" });
    expect(await authenticate(cp, gus.token.token)).toMatchObject({ ok: true });
    nowS -= 86_400;
  });

  it("refuses a token name with control characters, naming the field", async () => {
    for (const name of ["\u001b[2Jwiped", "lap\u0000top", "tab\there", "c1\u009b"])
      expect(await createToken(cp, admin, { name })).toMatchObject({
        error: "VALIDATION",
        fields: [{ field: "name", message: expect.stringContaining("control characters") }],
      });
    ok(await createToken(cp, admin, { name: "ноутбук laptop" }));
  });

  it("anything not shaped as a token, or unknown, is refused without telling more", async () => {
    for (const token of ["", "Bearer x", `gpuctl_${"A".repeat(43)}`])
      expect(await authenticate(cp, token)).toMatchObject({
        error: "UNAUTHORIZED",
        reason: "UNKNOWN",
      });
  });
});

describe("login", () => {
  beforeAll(async () => {
    ok(await addUser(cp, admin, { email: "hal@example.org", password: PASSWORD }));
  });

  it("exchanges email and password for a token", async () => {
    const signedIn = ok(await login(cp, { email: " HAL@example.org", password: PASSWORD }));
    expect(signedIn.token.name).toBe("login");
    expect((await callerOf(signedIn.token.token)).email).toBe("hal@example.org");
  });

  it("answers a wrong password and an unknown email alike, after the same scrypt work", async () => {
    work.length = 0;
    const wrong = await login(cp, { email: "hal@example.org", password: "wrong password!" });
    const wrongWork = work.splice(0);
    const unknown = await login(cp, { email: "nobody@example.org", password: "wrong password!" });
    expect(wrong).toEqual(unknown);
    expect(wrong).toMatchObject({ error: "UNAUTHORIZED", reason: "BAD_CREDENTIALS" });
    expect(wrongWork).toHaveLength(1);
    expect(work).toHaveLength(1);
  });

  it("locks an address, known or not, after repeated failures, and says until when", async () => {
    nowS = 10_000;
    const fail = (email: string) => login(cp, { email, password: "wrong password!" });
    ok(await addUser(cp, admin, { email: "ivy@example.org", password: PASSWORD }));
    const locks = [];
    for (const email of ["ivy@example.org", "ghost@example.org"]) {
      for (let i = 0; i < LOGIN_LIMIT.failures; i++) await fail(email);
      work.length = 0;
      const locked = await login(cp, { email, password: PASSWORD });
      expect(work).toEqual([]);
      locks.push(locked);
    }
    const until = new Date(START + (10_000 + LOGIN_LIMIT.lockS) * 1000).toISOString();
    for (const [index, email] of ["ivy@example.org", "ghost@example.org"].entries())
      expect(locks[index]).toEqual({
        ok: false,
        error: "LOCKED",
        until,
        message: `5 failed sign-ins for ${email}: try again after ${until}`,
      });
    nowS += LOGIN_LIMIT.lockS;
    ok(await login(cp, { email: "ivy@example.org", password: PASSWORD }));
    expect(await recordedFailures("ivy@example.org")).toEqual([]);
  });

  it("checks at most LOGIN_LIMIT.failures passwords however many arrive at once", async () => {
    nowS = 50_000;
    ok(await addUser(cp, admin, { email: "jo@example.org", password: PASSWORD }));
    work.length = 0;
    const burst = await Promise.all(
      Array.from({ length: 30 }, () =>
        login(cp, { email: "jo@example.org", password: "wrong password!" }),
      ),
    );
    expect(work.filter((step) => step === "verify").length).toBeLessThanOrEqual(
      LOGIN_LIMIT.failures,
    );
    const answers = burst.map((answer) => ("error" in answer ? answer.error : "OK"));
    expect(answers.filter((error) => error === "UNAUTHORIZED")).toHaveLength(LOGIN_LIMIT.failures);
    expect(answers.filter((error) => error === "LOCKED")).toHaveLength(30 - LOGIN_LIMIT.failures);
    work.length = 0;
    expect(await login(cp, { email: "jo@example.org", password: PASSWORD })).toMatchObject({
      error: "LOCKED",
    });
    expect(work).toEqual([]);
  });

  it("refuses a malformed request naming the fields", async () => {
    expect(await login(cp, { email: "x", password: 3, expiresInDays: 0 })).toMatchObject({
      error: "VALIDATION",
      fields: [{ field: "email" }, { field: "password" }, { field: "expiresInDays" }],
    });
  });
});
