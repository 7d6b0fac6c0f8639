/**
 * The CLI's account verbs, as processes, against the real API served on a port over DynamoDB
 * Local: an admin adds a user, who signs in with a password piped in, makes and lists tokens,
 * is refused the admins' verbs and signs out; the SDK signs in with email and password per call.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import type { ControlPlane } from "../../../lambdas/use-cases/control-plane.ts";
import type { AddedUserView, IssuedTokenView, TokenView } from "../../../sdk/api-types.ts";
import { GpuctlClient } from "../../../sdk/client.ts";
import { gpuctl } from "../../unit/cli/run-gpuctl.ts";
import { freshStores } from "../stores.ts";
import { type TestUser, testUsers } from "../users.ts";

const PASSWORD = "correct horse battery";

let server: ServerType;
let endpoint: string;
let dir: string;
let admin: TestUser;

beforeAll(async () => {
  const stores = await freshStores();
  // The real clock: the CLI judges the tokens' expiry by it.
  const cp = {
    ...stores.at(new Date().toISOString()),
    clock: { now: () => new Date().toISOString() },
  } as unknown as ControlPlane;
  admin = await testUsers(cp).admin();
  const api = createApi(cp, {});
  server = serve({ fetch: api.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), "gpuctl-accounts-cli-"));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** Each person's CLI has a config file of their own. */
const configOf = (who: string) => join(dir, `${who}.json`);
const as = (who: string) => (args: string[], input?: string) =>
  gpuctl(args, { env: { GPUCTL_CONFIG: configOf(who) }, ...(input !== undefined && { input }) });
const tokenIn = async (who: string) =>
  (JSON.parse(await readFile(configOf(who), "utf8")) as { token?: string }).token;

describe("gpuctl account verbs against the API", () => {
  it("take a user from being added to signing out", async () => {
    await writeFile(configOf("admin"), JSON.stringify({ endpoint, token: admin.token }));
    await writeFile(configOf("bo"), JSON.stringify({ endpoint }));
    const asAdmin = as("admin");
    const asBo = as("bo");

    const added = await asAdmin(
      ["user", "add", "bo@example.org", "--role", "reviewer", "--password-stdin", "-o", "json"],
      `${PASSWORD}\n`,
    );
    expect(added.code).toBe(0);
    const { user, token: first } = JSON.parse(added.stdout) as AddedUserView;
    expect(user).toMatchObject({
      email: "bo@example.org",
      role: "reviewer",
      createdBy: admin.userId,
    });
    expect(first.token).toMatch(/^gpuctl_/);

    const signedIn = await asBo(["login", "--email", "bo@example.org"], `${PASSWORD}\n`);
    expect(signedIn.stderr).toBe("");
    expect(signedIn.stdout).toMatch(
      /^signed in to .* as bo@example.org \(reviewer\); token \S+ "login"/,
    );
    const firstLogin = await tokenIn("bo");
    expect(firstLogin).toMatch(/^gpuctl_/);
    expect((await asBo(["whoami"])).stdout).toBe(`bo@example.org (reviewer) at ${endpoint}\n`);

    // Signing in again revokes the token the earlier sign-in made.
    expect((await asBo(["login", "--email", "bo@example.org"], `${PASSWORD}\n`)).code).toBe(0);
    await expect(
      new GpuctlClient({ endpoint }).whoami({ accessToken: firstLogin ?? "" }),
    ).rejects.toMatchObject({ status: 401 });
    const loginToken = await tokenIn("bo");
    expect(loginToken).not.toBe(firstLogin);

    const made = await asBo([
      "token",
      "create",
      "--name",
      "ci",
      "--expires-in-days",
      "7",
      "-o",
      "json",
    ]);
    const ci = JSON.parse(made.stdout) as IssuedTokenView;
    expect(ci).toMatchObject({ name: "ci", token: expect.stringMatching(/^gpuctl_/) });
    const listed = JSON.parse((await asBo(["token", "list", "-o", "json"])).stdout) as TokenView[];
    expect(listed.map((token) => token.name).sort()).toEqual(["ci", "first", "login", "login"]);

    const refused = await asBo(["user", "list"]);
    expect(refused).toMatchObject({ code: 1, stderr: "gpuctl: only an admin lists users\n" });

    const out = await asBo(["logout"]);
    expect(out.stdout).toMatch(/^signed out of .*: token \S+ revoked; removed from /);
    expect(await tokenIn("bo")).toBeUndefined();
    const client = new GpuctlClient({ endpoint });
    await expect(client.listTokens({ accessToken: loginToken ?? "" })).rejects.toMatchObject({
      status: 401,
    });
    expect(await client.listTokens({ accessToken: ci.token })).toHaveLength(4);

    expect((await asAdmin(["user", "role", "bo@example.org", "user"])).stdout).toBe(
      "bo@example.org is now user\n",
    );
    const users = JSON.parse(
      (await asAdmin(["user", "list", "-o", "json"])).stdout,
    ) as AddedUserView["user"][];
    expect(users.map((listedUser) => [listedUser.email, listedUser.role])).toEqual(
      expect.arrayContaining([["bo@example.org", "user"]]),
    );
    expect((await asAdmin(["user", "remove", "bo@example.org"])).code).toBe(0);
    await expect(client.listTokens({ accessToken: ci.token })).rejects.toMatchObject({
      status: 401,
    });
  });

  it("sign the SDK in with email and password per call, once for the client's life", async () => {
    const admins = new GpuctlClient({ endpoint, token: admin.token });
    await admins.addUser({ email: "cy@example.org", password: PASSWORD });
    const client = new GpuctlClient({ endpoint });
    const credentials = { email: "cy@example.org", password: PASSWORD };
    expect(await client.listTokens(credentials)).toHaveLength(2);
    expect((await client.listTokens(credentials)).map((token) => token.name).sort()).toEqual([
      "first",
      "login",
    ]);
    await expect(
      client.listTokens({ email: "cy@example.org", password: "not the password" }),
    ).rejects.toMatchObject({
      status: 401,
      message: "the email or the password is wrong",
    });
  });
});
