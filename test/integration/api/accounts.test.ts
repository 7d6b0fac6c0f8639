/**
 * Signing in, access tokens and the admins' user routes, through the real API on DynamoDB
 * Local: what each answers, what a refusal writes (nothing), and which tokens stop working.
 */
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { LOGIN_LIMIT } from "../../../lambdas/domain/identity.ts";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import { freshStores } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const START = Date.parse("2026-01-01T00:00:00.000Z");
let nowMs = START;
const PASSWORD = "correct horse battery";

let stores: Awaited<ReturnType<typeof freshStores>>;
let api: ReturnType<typeof createApi>;
let made: ReturnType<typeof testUsers>;
let admin: TestUser;
let ada: TestUser;

beforeAll(async () => {
  stores = await freshStores();
  const cp = {
    ...stores.at(new Date(START).toISOString()),
    clock: { now: () => new Date(nowMs).toISOString() },
  } as unknown as ControlPlane;
  made = testUsers(cp);
  admin = await made.admin();
  ada = await made.add("ada@example.org", "user", PASSWORD);
  api = createApi(cp, {});
});

const call = (method: string, path: string, token?: string, body?: unknown) =>
  api.request(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const json = async <T = Record<string, unknown>>(response: Response) =>
  (await response.json()) as T;

const tableItems = async () =>
  (await stores.client.send(new ScanCommand({ TableName: stores.tableName }))).Items ?? [];

/** A user's reading of who they are: their own tokens, which only a valid token lists. */
const tokensOf = (token: string | undefined) => call("GET", "/v1/tokens", token);

describe("POST /v1/login", () => {
  it("exchanges email and password for a token, with no token of its own", async () => {
    const signedIn = await call("POST", "/v1/login", undefined, {
      email: " ADA@example.org",
      password: PASSWORD,
    });
    expect(signedIn.status).toBe(200);
    const body = (await signedIn.json()) as { token: string; expiresAt: string; user: object };
    expect(body).toMatchObject({ name: "login", user: { email: "ada@example.org", role: "user" } });
    expect(body.token).toMatch(/^gpuctl_/);
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(nowMs);
    expect(JSON.stringify(body)).not.toMatch(/passwordHash|"hash"/);
    expect((await tokensOf(body.token)).status).toBe(200);
  });

  it("answers a wrong password and an unknown address alike, with a 401", async () => {
    const wrong = await call("POST", "/v1/login", undefined, {
      email: "ada@example.org",
      password: "not the password",
    });
    const unknown = await call("POST", "/v1/login", undefined, {
      email: "nobody@example.org",
      password: PASSWORD,
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await json(wrong)).toEqual(await json(unknown));
  });

  it("locks an address after repeated failures: 429 with Retry-After, even for the right password", async () => {
    const grace = await made.add("grace@example.org", "user", PASSWORD);
    const attempt = (password: string) =>
      call("POST", "/v1/login", undefined, { email: grace.email, password });
    for (let failure = 0; failure < LOGIN_LIMIT.failures; failure++)
      expect((await attempt("not the password")).status).toBe(401);

    const locked = await attempt(PASSWORD);
    expect(locked.status).toBe(429);
    const until = Date.parse(locked.headers.get("retry-after") ?? "");
    expect(until).toBeGreaterThan(nowMs);
    expect(await locked.json()).toMatchObject({ error: { code: "LOCKED" } });

    nowMs = until + 1000;
    expect((await attempt(PASSWORD)).status).toBe(200);
  });

  it.each([
    [{ email: "not-an-address", password: PASSWORD }, "email"],
    [{ email: "ada@example.org", password: 12 }, "password"],
    [{ email: "ada@example.org", password: PASSWORD, expiresInDays: 0 }, "expiresInDays"],
    [["ada@example.org", PASSWORD], "(body)"],
  ])("refuses %j with a 400 naming %s, and writes nothing", async (request, field) => {
    const before = await tableItems();
    const refused = await call("POST", "/v1/login", undefined, request);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { code: "VALIDATION", fields: [expect.objectContaining({ field })] },
    });
    expect(await tableItems()).toEqual(before);
  });
});

describe("GET /v1/me", () => {
  it.each(["user", "reviewer", "admin"] as const)(
    "answers a %s with their user id, email and role, and nothing else",
    async (role) => {
      const someone = role === "admin" ? admin : await made.add(`me-${role}@example.org`, role);
      const answer = await call("GET", "/v1/me", someone.token);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({
        userId: someone.userId,
        email: someone.email,
        role,
      });
    },
  );

  it("refuses a missing or revoked token with the 401 of any other route", async () => {
    const issued = await json<{ token: string; tokenId: string }>(
      await call("POST", "/v1/tokens", ada.token, { name: "gone" }),
    );
    await call("DELETE", `/v1/tokens/${issued.tokenId}`, ada.token);
    for (const token of [undefined, issued.token]) {
      const refused = await call("GET", "/v1/me", token);
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual(await json(await tokensOf(token)));
    }
  });
});

describe("access tokens", () => {
  it("are made (shown once), listed without their secret, and refused once revoked", async () => {
    const created = await call("POST", "/v1/tokens", ada.token, { name: "laptop" });
    expect(created.status).toBe(201);
    const token = (await created.json()) as { token: string; tokenId: string };
    expect(token).toMatchObject({ name: "laptop", tokenId: expect.any(String) });
    expect((await tokensOf(token.token)).status).toBe(200);

    const listed = (await (await tokensOf(ada.token)).json()) as { items: object[] };
    expect(listed.items).toContainEqual(expect.objectContaining({ tokenId: token.tokenId }));
    expect(JSON.stringify(listed)).not.toContain(token.token);
    expect(JSON.stringify(listed)).not.toMatch(/"hash"|userId/);

    const revoked = await call("DELETE", `/v1/tokens/${token.tokenId}`, ada.token);
    expect(revoked.status).toBe(200);
    expect(await revoked.json()).toMatchObject({
      tokenId: token.tokenId,
      revokedAt: expect.any(String),
    });
    expect((await tokensOf(token.token)).status).toBe(401);
    expect((await tokensOf(ada.token)).status).toBe(200);
  });

  it("revokes only the caller's own: another user's token id is a 404", async () => {
    const grace = await made.add("grace2@example.org");
    const [graces] = (
      await json<{ items: Array<{ tokenId: string }> }>(await tokensOf(grace.token))
    ).items;
    const refused = await call("DELETE", `/v1/tokens/${graces?.tokenId}`, ada.token);
    expect(refused.status).toBe(404);
    expect((await tokensOf(grace.token)).status).toBe(200);
  });

  it("refuses a 400 naming the field for a bad lifetime, and writes nothing", async () => {
    const before = await tableItems();
    const refused = await call("POST", "/v1/tokens", ada.token, { expiresInDays: 400 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { fields: [{ field: "expiresInDays", message: expect.any(String) }] },
    });
    expect(await tableItems()).toEqual(before);
  });

  it("answers a missing, malformed, unknown, expired or revoked token with the same 401", async () => {
    type Issued = { token: string; tokenId: string };
    const short = await json<Issued>(
      await call("POST", "/v1/tokens", ada.token, { expiresInDays: 1 }),
    );
    const revoked = await json<Issued>(await call("POST", "/v1/tokens", ada.token, {}));
    await call("DELETE", `/v1/tokens/${revoked.tokenId}`, ada.token);
    nowMs += 2 * 86_400_000;

    const answers = [];
    for (const token of [
      undefined,
      "not-a-token",
      `gpuctl_${"A".repeat(43)}`,
      short.token,
      revoked.token,
    ]) {
      const refused = await tokensOf(token);
      expect(refused.status).toBe(401);
      answers.push(await refused.json());
    }
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
    expect(answers[0]).toMatchObject({ error: { code: "UNAUTHORIZED" } });
  });
});

describe("users (admins only)", () => {
  it("are added with a first token, listed, given a role and removed, whose tokens then fail", async () => {
    const added = await call("POST", "/v1/users", admin.token, {
      email: "Alan@example.org",
      role: "reviewer",
    });
    expect(added.status).toBe(201);
    const alan = (await added.json()) as { user: { email: string }; token: { token: string } };
    expect(alan.user).toMatchObject({ email: "alan@example.org", role: "reviewer" });
    expect((await tokensOf(alan.token.token)).status).toBe(200);

    const listed = await json<{ items: object[] }>(await call("GET", "/v1/users", admin.token));
    expect(listed.items).toContainEqual(expect.objectContaining({ email: "alan@example.org" }));
    expect(JSON.stringify(listed)).not.toContain("passwordHash");

    const changed = await call("PUT", "/v1/users/alan%40example.org/role", admin.token, {
      role: "admin",
    });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ role: "admin", updatedBy: admin.userId });

    const removed = await call("DELETE", "/v1/users/alan@example.org", admin.token);
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ email: "alan@example.org", canceledJobs: 0 });
    expect((await tokensOf(alan.token.token)).status).toBe(401);
    expect((await call("DELETE", "/v1/users/alan@example.org", admin.token)).status).toBe(404);
  });

  const ADMIN_ROUTES: Array<[string, string, unknown?]> = [
    ["POST", "/v1/users", { email: "new@example.org", role: "user" }],
    ["GET", "/v1/users"],
    ["PUT", "/v1/users/ada@example.org/role", { role: "admin" }],
    ["DELETE", "/v1/users/ada@example.org"],
  ];

  it.each(ADMIN_ROUTES)(
    "%s %s is a 403 to a user, a 401 without a token, and writes nothing",
    async (method, path, body) => {
      const reviewer = await made.add(`reviewer-${method.toLowerCase()}@example.org`, "reviewer");
      const before = await tableItems();
      for (const token of [ada.token, reviewer.token]) {
        const refused = await call(method, path, token, body);
        expect(refused.status).toBe(403);
        expect(await refused.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
      }
      expect((await call(method, path, undefined, body)).status).toBe(401);
      expect(await tableItems()).toEqual(before);
    },
  );

  it.each([
    [{ email: "x", role: "user" }, "email"],
    [{ email: "new@example.org", role: "owner" }, "role"],
    [{ email: "new@example.org", password: "short" }, "password"],
  ])("refuses %j with a 400 naming %s, and writes nothing", async (request, field) => {
    const before = await tableItems();
    const refused = await call("POST", "/v1/users", admin.token, request);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: { code: "VALIDATION", fields: [expect.objectContaining({ field })] },
    });
    expect(await tableItems()).toEqual(before);
  });

  it("refuses an admin's demoting or removing themself", async () => {
    const self = encodeURIComponent(admin.email);
    expect(
      (await call("PUT", `/v1/users/${self}/role`, admin.token, { role: "user" })).status,
    ).toBe(403);
    expect((await call("DELETE", `/v1/users/${self}`, admin.token)).status).toBe(403);
  });
});
