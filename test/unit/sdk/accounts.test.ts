import { afterEach, describe, expect, it } from "vitest";
import { ApiRequestError, GpuctlClient } from "../../../sdk/client.ts";
import { type FakeAccounts, fakeAccounts, LOCKED_UNTIL } from "./fake-accounts.ts";
import { type FakeApi, startFakeApi } from "./fake-api.ts";

const PASSWORD = "correct horse battery";

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const start = async (options: { token?: string; email?: string; password?: string } = {}) => {
  const accounts = fakeAccounts(PASSWORD);
  api = await startFakeApi(accounts.handler);
  const client = new GpuctlClient({ endpoint: api.endpoint, ...options });
  return { api, accounts, client };
};

const authorizations = (api: FakeApi) =>
  api.requests.map(
    (request) => `${request.method} ${request.path} ${request.headers.authorization ?? "-"}`,
  );

const adminToken = (accounts: FakeAccounts) => accounts.issue("admin@example.org", "first").token;

const refusal = async (promise: Promise<unknown>): Promise<ApiRequestError> => {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApiRequestError);
  return error as ApiRequestError;
};

describe("GpuctlClient account methods", () => {
  it("signs in with email and password, sending no token", async () => {
    const { api, client } = await start({ token: "gpuctl_config" });
    const signedIn = await client.login({ email: "ada@example.org", password: PASSWORD });
    expect(signedIn).toMatchObject({
      name: "login",
      user: { email: "ada@example.org", role: "user" },
    });
    expect(signedIn.token).toMatch(/^gpuctl_/);
    expect(authorizations(api)).toEqual(["POST /v1/login -"]);
    expect(JSON.parse(api.requests[0]?.body.toString("utf8") ?? "")).toEqual({
      email: "ada@example.org",
      password: PASSWORD,
    });
  });

  it("says a wrong password is wrong, without telling to sign in", async () => {
    const { client } = await start();
    const error = await refusal(client.login({ email: "ada@example.org", password: "nope" }));
    expect(error).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(error.message).toBe("the email or the password is wrong");
  });

  it("says until when a locked address must wait (Retry-After)", async () => {
    const { client } = await start();
    for (let attempt = 0; attempt < 5; attempt++)
      await refusal(client.login({ email: "ada@example.org", password: "nope" }));
    const error = await refusal(client.login({ email: "ada@example.org", password: PASSWORD }));
    expect(error).toMatchObject({ status: 429, code: "LOCKED" });
    expect(error.message).toContain(`try again after ${LOCKED_UNTIL}`);
    expect(error.retryAfter).toEqual(new Date(LOCKED_UNTIL));
  });

  it("says whom the call's credentials sign in", async () => {
    const { api, accounts, client } = await start();
    const token = adminToken(accounts);
    expect(await client.whoami({ accessToken: token })).toEqual({
      userId: "u-admin",
      email: "admin@example.org",
      role: "admin",
    });
    expect(authorizations(api)).toEqual([`GET /v1/me Bearer ${token}`]);
    const refused = await refusal(client.whoami());
    expect(refused).toMatchObject({ status: 401, code: "UNAUTHORIZED" });
  });

  it("creates, lists and revokes the caller's tokens", async () => {
    const { api, accounts, client } = await start();
    const token = accounts.issue("ada@example.org", "first").token;
    const made = await client.createToken(
      { name: "laptop", expiresInDays: 7 },
      { accessToken: token },
    );
    expect(made).toMatchObject({ name: "laptop", token: expect.stringMatching(/^gpuctl_/) });
    expect(JSON.parse(api.requests[0]?.body.toString("utf8") ?? "")).toEqual({
      name: "laptop",
      expiresInDays: 7,
    });
    const listed = await client.listTokens({ accessToken: token });
    expect(listed.map((listedToken) => listedToken.name)).toEqual(["laptop", "first"]);
    expect(JSON.stringify(listed)).not.toContain("gpuctl_");
    const revoked = await client.revokeToken(made.tokenId, { accessToken: token });
    expect(revoked).toMatchObject({ tokenId: made.tokenId, revokedAt: expect.any(String) });
    expect(api.requests.at(-1)).toMatchObject({
      method: "DELETE",
      path: `/v1/tokens/${made.tokenId}`,
    });
  });

  it("adds, lists, changes and removes users as an admin, encoding the email in the path", async () => {
    const { api, accounts } = await start();
    const client = new GpuctlClient({ endpoint: api.endpoint, token: adminToken(accounts) });
    const added = await client.addUser({
      email: "bo+x@example.org",
      role: "reviewer",
      password: PASSWORD,
    });
    expect(added.user).toMatchObject({ email: "bo+x@example.org", role: "reviewer" });
    expect(added.token.token).toMatch(/^gpuctl_/);
    expect((await client.listUsers()).map((user) => user.email)).toContain("bo+x@example.org");
    expect(await client.setRole("bo+x@example.org", "admin")).toMatchObject({ role: "admin" });
    expect(api.requests.at(-1)).toMatchObject({
      method: "PUT",
      path: "/v1/users/bo%2Bx%40example.org/role",
    });
    expect(await client.removeUser("bo+x@example.org")).toMatchObject({
      email: "bo+x@example.org",
    });
    expect(api.requests.at(-1)).toMatchObject({
      method: "DELETE",
      path: "/v1/users/bo%2Bx%40example.org",
    });
    expect(await client.listUsers()).toHaveLength(2);
  });

  it("passes on an admin route's 403 as it is", async () => {
    const { accounts, client } = await start();
    const token = accounts.issue("ada@example.org", "first").token;
    const error = await refusal(client.listUsers({ accessToken: token }));
    expect(error).toMatchObject({ status: 403, message: "only an admin manages users" });
  });
});

describe("GpuctlClient credentials per call", () => {
  it("sends a call's accessToken instead of the configured token", async () => {
    const { api, accounts } = await start();
    const configured = adminToken(accounts);
    const own = accounts.issue("ada@example.org", "first").token;
    const client = new GpuctlClient({ endpoint: api.endpoint, token: configured });
    await client.listTokens({ accessToken: own });
    await client.listTokens();
    expect(authorizations(api)).toEqual([
      `GET /v1/tokens Bearer ${own}`,
      `GET /v1/tokens Bearer ${configured}`,
    ]);
  });

  it("exchanges a call's email and password for a token once, and keeps it for the client's life", async () => {
    const { api, accounts, client } = await start({ token: "gpuctl_configured" });
    const as = { email: "ada@example.org", password: PASSWORD };
    await client.listTokens(as);
    await client
      .listInstances({ email: " ADA@example.org", password: PASSWORD })
      .catch(() => undefined);
    const signedIn = accounts.tokens.find((made) => made.name === "login")?.token;
    expect(authorizations(api)).toEqual([
      "POST /v1/login -",
      `GET /v1/tokens Bearer ${signedIn}`,
      `GET /v1/instances Bearer ${signedIn}`,
    ]);
  });

  it("asks the exchanged token to last a day, and signs in again once it is refused", async () => {
    const { api, accounts, client } = await start({ email: "ada@example.org", password: PASSWORD });
    await client.listTokens();
    expect(JSON.parse(api.requests[0]?.body.toString("utf8") ?? "")).toMatchObject({
      expiresInDays: 1,
    });
    for (const made of accounts.tokens) made.revokedAt = "2026-01-01T00:00:00.000Z";
    expect(await client.listTokens()).toHaveLength(2);
    expect(authorizations(api).map((line) => line.split(" Bearer")[0])).toEqual([
      "POST /v1/login -",
      "GET /v1/tokens",
      "GET /v1/tokens",
      "POST /v1/login -",
      "GET /v1/tokens",
    ]);
  });

  it("signs in with the client's own email and password when a call gives none", async () => {
    const { api, client } = await start({ email: "ada@example.org", password: PASSWORD });
    await client.listTokens();
    await client.listTokens();
    expect(authorizations(api).map((line) => line.split(" Bearer")[0])).toEqual([
      "POST /v1/login -",
      "GET /v1/tokens",
      "GET /v1/tokens",
    ]);
  });

  it("refuses a wrong password with the sign-in's 401, and tries again on the next call", async () => {
    const { api, client } = await start();
    const error = await refusal(client.listTokens({ email: "ada@example.org", password: "wrong" }));
    expect(error).toMatchObject({ status: 401, message: "the email or the password is wrong" });
    await refusal(client.listTokens({ email: "ada@example.org", password: "wrong" }));
    expect(authorizations(api)).toEqual(["POST /v1/login -", "POST /v1/login -"]);
  });

  it("passes on a locked sign-in's 429 with its retryAfter", async () => {
    const { client } = await start();
    for (let attempt = 0; attempt < 5; attempt++)
      await refusal(client.listTokens({ email: "ada@example.org", password: "wrong" }));
    const error = await refusal(
      client.listTokens({ email: "ada@example.org", password: PASSWORD }),
    );
    expect(error).toMatchObject({
      status: 429,
      code: "LOCKED",
      retryAfter: new Date(LOCKED_UNTIL),
    });
  });

  it("refuses an email without a password before any request, naming the missing field", async () => {
    const { api, client } = await start();
    const error = await refusal(client.listTokens({ email: "ada@example.org" }));
    expect(error).toMatchObject({
      status: 400,
      fields: [{ field: "password", message: "email and password go together" }],
    });
    expect(api.requests).toEqual([]);
  });

  it("says to sign in when the API refuses the token", async () => {
    const { client } = await start({ token: "gpuctl_revoked" });
    const error = await refusal(client.listTokens());
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/sign in with `gpuctl login`/);
  });
});
