import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FakeAccounts, fakeAccounts, LOCKED_UNTIL } from "../sdk/fake-accounts.ts";
import { closedPort, type FakeApi, startFakeApi } from "../sdk/fake-api.ts";
import { GPUCTL, gpuctl } from "./run-gpuctl.ts";

const PASSWORD = "correct horse battery";

let api: FakeApi | undefined;
let accounts: FakeAccounts;
let dir: string;
let config: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-accounts-"));
  config = join(dir, "config.json");
  accounts = fakeAccounts(PASSWORD);
  api = await startFakeApi(accounts.handler);
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  await rm(dir, { recursive: true, force: true });
});

const endpoint = () => api?.endpoint ?? "";
const calls = () => api?.requests.map((request) => `${request.method} ${request.path}`) ?? [];

/** The CLI signed in with `token` (or not at all), through its config file. */
const configure = (token?: string, extra: Record<string, unknown> = {}) =>
  writeFile(config, JSON.stringify({ endpoint: endpoint(), ...(token && { token }), ...extra }));
const configured = async () =>
  JSON.parse(await readFile(config, "utf8")) as Record<string, unknown>;
const run = (args: string[], input?: string) =>
  gpuctl(args, { env: { GPUCTL_CONFIG: config }, ...(input !== undefined && { input }) });

const asAdmin = () => configure(accounts.issue("admin@example.org", "first").token);

describe("account verbs' help", () => {
  it.each([
    ["login"],
    ["logout"],
    ["whoami"],
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
    ["user", "add"],
    ["user", "list"],
    ["user", "role"],
    ["user", "remove"],
  ])("gpuctl %s %s --help", async (...verb) => {
    const result = await run([...verb, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: gpuctl ${verb.join(" ")}`);
    expect(calls()).toEqual([]);
  });
});

describe("gpuctl login", () => {
  it("signs in with a password piped in, writes the token for the endpoint and never shows the password", async () => {
    await configure(undefined, { profile: "kept" });
    const result = await run(["login", "--email", "Ada@Example.org"], `${PASSWORD}\n`);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(
      new RegExp(
        `^signed in to ${endpoint()} as ada@example.org \\(user\\); token id\\d+ "login" expires `,
      ),
    );
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    const token = accounts.tokens.find((made) => made.name === "login")?.token;
    expect(await configured()).toEqual({ endpoint: endpoint(), token, profile: "kept" });
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect(calls()).toEqual(["POST /v1/login"]);
  });

  it("prints whom it signed in as with -o json", async () => {
    await configure();
    const result = await run(
      ["login", "--email", "ada@example.org", "-o", "json"],
      `${PASSWORD}\n`,
    );
    expect(JSON.parse(result.stdout)).toMatchObject({
      endpoint: endpoint(),
      email: "ada@example.org",
      role: "user",
      tokenName: "login",
    });
  });

  it("refuses a wrong password and keeps the config as it was", async () => {
    await configure("gpuctl_before");
    const result = await run(["login", "--email", "ada@example.org"], "not it\n");
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("gpuctl: the email or the password is wrong\n");
    expect(await configured()).toEqual({ endpoint: endpoint(), token: "gpuctl_before" });
  });

  it("says until when a locked address must wait", async () => {
    await configure();
    for (let attempt = 0; attempt < 5; attempt++)
      await run(["login", "--email", "ada@example.org"], "not it\n");
    const result = await run(["login", "--email", "ada@example.org"], `${PASSWORD}\n`);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`try again after ${LOCKED_UNTIL}`);
  });

  it("needs --email when stdin is not a terminal, and refuses a bad one, before any request", async () => {
    await configure();
    const missing = await run(["login"], `${PASSWORD}\n`);
    expect(missing).toMatchObject({
      code: 2,
      stderr: "gpuctl: --email: required when stdin is not a terminal\n",
    });
    const bad = await run(["login", "--email", "ada"], `${PASSWORD}\n`);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'--email <email>' argument 'ada' is invalid. must be an address");
    const empty = await run(["login", "--email", "ada@example.org"], "\n");
    expect(empty).toMatchObject({ code: 2, stderr: expect.stringContaining("password: empty") });
    expect(calls()).toEqual([]);
  });

  it("signs in with a token read from stdin, once the API says whom it signs in", async () => {
    await configure();
    const token = accounts.issue("ada@example.org", "laptop");
    const result = await run(["login", "--token", "-"], `${token.token}\n`);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `signed in to ${endpoint()} as ada@example.org (user); token ${token.tokenId} "laptop" expires ${token.expiresAt}\n`,
    );
    expect(await configured()).toEqual({ endpoint: endpoint(), token: token.token });
    expect(calls().sort()).toEqual(["GET /v1/me", "GET /v1/tokens"]);
  });

  it("revokes the token an earlier login made, once signed in again", async () => {
    const earlier = accounts.issue("admin@example.org", "login");
    await configure(earlier.token);
    const result = await run(["login", "--email", "ada@example.org"], `${PASSWORD}\n`);
    expect(result.code).toBe(0);
    expect(
      accounts.tokens.find((made) => made.tokenId === earlier.tokenId)?.revokedAt,
    ).toBeDefined();
    expect(calls()).toEqual([
      "POST /v1/login",
      "GET /v1/tokens",
      `DELETE /v1/tokens/${earlier.tokenId}`,
    ]);
    expect((await configured()).token).toBe(accounts.tokens[0]?.token);
  });

  it("leaves a token of another name working when signing in again", async () => {
    const ci = accounts.issue("ada@example.org", "ci");
    await configure(ci.token);
    const fresh = accounts.issue("ada@example.org", "laptop");
    const result = await run(["login", "--token", fresh.token]);
    expect(result.code).toBe(0);
    expect(accounts.tokens.every((made) => made.revokedAt === undefined)).toBe(true);
    expect(calls().filter((call) => call.startsWith("DELETE"))).toEqual([]);
  });

  it("signs in again silently when the earlier token is refused already", async () => {
    const earlier = accounts.issue("ada@example.org", "login");
    const tokenOf = accounts.tokens.find((made) => made.tokenId === earlier.tokenId);
    if (tokenOf) tokenOf.revokedAt = "2026-01-01T00:00:00.000Z";
    await configure(earlier.token);
    const result = await run(["login", "--email", "ada@example.org"], `${PASSWORD}\n`);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^signed in to .* as ada@example.org \(user\)/);
    expect(calls()).toEqual(["POST /v1/login", "GET /v1/tokens"]);
  });

  it("keeps no token the API refuses, and says to sign in", async () => {
    await configure();
    const result = await run(["login", "--token", "gpuctl_nosuch"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sign in with `gpuctl login`/);
    expect(await configured()).toEqual({ endpoint: endpoint() });
  });

  it("refuses --token with --email", async () => {
    await configure();
    const result = await run(["login", "--token", "t", "--email", "ada@example.org"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cannot be used with option '--email <email>'");
  });

  const hasScript = spawnSync("script", ["--version"]).status === 0;

  /** `gpuctl login` on a pseudo-terminal (`script`): what it shows is what a person would see. */
  const loginAtTerminal = () => {
    const child = spawn(
      "script",
      ["-qefc", `'${process.execPath}' '${GPUCTL}' login`, "/dev/null"],
      {
        env: { ...process.env, GPUCTL_CONFIG: config, GPUCTL_ENDPOINT: "", GPUCTL_TOKEN: "" },
      },
    );
    let screen = "";
    child.stdout.on("data", (chunk: Buffer) => {
      screen += chunk.toString("utf8");
    });
    const shown = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!screen.includes(text)) return;
          child.stdout.off("data", check);
          resolve();
        };
        child.stdout.on("data", check);
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    return {
      shown,
      type: (text: string) => child.stdin.write(text),
      child,
      exited,
      screen: () => screen,
    };
  };

  it.skipIf(!hasScript)("asks at a terminal, and does not echo the password", async () => {
    await configure();
    const terminal = loginAtTerminal();
    await terminal.shown("Email: ");
    terminal.type("ada@example.org\r");
    await terminal.shown("Password: ");
    terminal.type(`${PASSWORD}\r`);
    await terminal.shown("signed in to");
    terminal.child.stdin.end();
    expect(await terminal.exited).toBe(0);
    expect(terminal.screen()).toContain("ada@example.org");
    expect(terminal.screen()).not.toContain(PASSWORD);
    expect((await configured()).token).toMatch(/^gpuctl_/);
  });

  it.skipIf(!hasScript)("stops at Ctrl-C with the shell's 130, signing nothing in", async () => {
    await configure();
    const before = await configured();
    const terminal = loginAtTerminal();
    await terminal.shown("Email: ");
    terminal.type("ada@example.org\r");
    await terminal.shown("Password: ");
    terminal.type("\u0003");
    await terminal.shown("cancelled");
    terminal.child.stdin.end();
    expect(await terminal.exited).toBe(130);
    expect(await configured()).toEqual(before);
  });
});

describe("gpuctl logout", () => {
  it("revokes a token made by login and removes it from the config", async () => {
    const token = accounts.issue("ada@example.org", "login");
    await configure(token.token, { profile: "kept" });
    const result = await run(["logout"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `signed out of ${endpoint()}: token ${token.tokenId} revoked; removed from ${config}\n`,
    );
    expect(calls()).toEqual(["GET /v1/tokens", `DELETE /v1/tokens/${token.tokenId}`]);
    expect(await configured()).toEqual({ endpoint: endpoint(), profile: "kept" });
  });

  it("leaves a token the user made for themselves working, and says so", async () => {
    const token = accounts.issue("ada@example.org", "ci");
    await configure(token.token);
    const result = await run(["logout"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`"ci" was not made by \`gpuctl login\`: it still works`);
    expect(calls()).toEqual(["GET /v1/tokens"]);
    expect(await configured()).toEqual({ endpoint: endpoint() });
  });

  it("works offline: removes the token, saying it was not revoked", async () => {
    const offline = `http://127.0.0.1:${await closedPort()}`;
    await writeFile(config, JSON.stringify({ endpoint: offline, token: "gpuctl_x" }));
    const result = await run(["logout"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `${offline} is not reachable, so the token was not revoked there`,
    );
    expect(await configured()).toEqual({ endpoint: offline });
  });

  it("says so when not signed in", async () => {
    await configure();
    expect(await run(["logout"])).toMatchObject({
      code: 0,
      stdout: `not signed in to ${endpoint()}\n`,
    });
  });
});

describe("gpuctl whoami", () => {
  it("prints the signed-in user's email and role, and the endpoint", async () => {
    await configure(accounts.issue("ada@example.org", "login").token);
    expect(await run(["whoami"])).toMatchObject({
      code: 0,
      stdout: `ada@example.org (user) at ${endpoint()}\n`,
      stderr: "",
    });
    const json = await run(["whoami", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      userId: "u-ada",
      email: "ada@example.org",
      role: "user",
      endpoint: endpoint(),
    });
    expect(calls()).toEqual(["GET /v1/me", "GET /v1/me"]);
  });

  it("says to sign in when the token is refused", async () => {
    await configure("gpuctl_nosuch");
    const result = await run(["whoami"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/sign in with `gpuctl login`/);
  });
});

describe("gpuctl token", () => {
  beforeEach(() => configure(accounts.issue("ada@example.org", "first").token));

  it("create prints the token alone on stdout, and that it will not be shown again", async () => {
    const result = await run(["token", "create", "--name", "laptop", "--expires-in-days", "7"]);
    expect(result.code).toBe(0);
    const made = accounts.tokens[0];
    expect(result.stdout).toBe(`${made?.token}\n`);
    expect(result.stderr).toContain(`token ${made?.tokenId} "laptop"`);
    expect(result.stderr).toContain("it will not be shown again");
    expect(JSON.parse(api?.requests[0]?.body.toString("utf8") ?? "")).toEqual({
      name: "laptop",
      expiresInDays: 7,
    });
  });

  it("create -o json carries the token", async () => {
    const result = await run(["token", "create", "-o", "json"]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      name: "token",
      token: accounts.tokens[0]?.token,
    });
  });

  it("create refuses days out of range before any request", async () => {
    const result = await run(["token", "create", "--expires-in-days", "366"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("must be a whole number of days from 1 to 365");
    expect(calls()).toEqual([]);
  });

  it("list shows ids, names and status, never a token", async () => {
    accounts.issue("ada@example.org", "laptop");
    const table = await run(["token", "list"]);
    expect(
      table.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/\s+/).slice(0, 3)),
    ).toEqual([
      ["ID", "NAME", "STATUS"],
      [accounts.tokens[0]?.tokenId, "laptop", "active"],
      [accounts.tokens[1]?.tokenId, "first", "active"],
    ]);
    const json = await run(["token", "list", "-o", "json"]);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(2);
    expect(`${table.stdout}${json.stdout}`).not.toContain("gpuctl_");
  });

  it("revoke revokes one of the caller's tokens", async () => {
    const other = accounts.issue("ada@example.org", "old");
    const result = await run(["token", "revoke", other.tokenId]);
    expect(result).toMatchObject({ code: 0, stdout: `revoked token ${other.tokenId} "old"\n` });
    const listed = await run(["token", "list"]);
    expect(listed.stdout).toMatch(new RegExp(`${other.tokenId}\\s+old\\s+revoked`));
    const unknown = await run(["token", "revoke", "nosuch"]);
    expect(unknown).toMatchObject({ code: 1, stderr: "gpuctl: token nosuch not found\n" });
  });
});

describe("gpuctl user", () => {
  it("add prints the user and their first token; -o json carries it", async () => {
    await asAdmin();
    const table = await run(["user", "add", "bo@example.org", "--role", "reviewer"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^added bo@example.org \(reviewer\)\nfirst access token, shown this once: gpuctl_\S+\n$/,
    );
    const json = await run(["user", "add", "cy@example.org", "-o", "json"]);
    const added = JSON.parse(json.stdout) as {
      user: { email: string; role: string };
      token: { token: string };
    };
    expect(added.user).toMatchObject({ email: "cy@example.org", role: "user" });
    expect(added.token.token).toBe(accounts.tokens[0]?.token);
  });

  it("add takes a password from stdin, and never prints it", async () => {
    await asAdmin();
    const result = await run(
      ["user", "add", "bo@example.org", "--password-stdin"],
      `${PASSWORD}\n`,
    );
    expect(result.code).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    expect(accounts.users.find((user) => user.email === "bo@example.org")?.password).toBe(PASSWORD);
  });

  it("refuses a bad email, role or password before any request, naming it", async () => {
    await asAdmin();
    const email = await run(["user", "add", ""]);
    expect(email).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("invalid for argument 'email'. must be an address"),
    });
    const role = await run(["user", "add", "bo@example.org", "--role", "owner"]);
    expect(role).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Allowed choices are user, reviewer, admin"),
    });
    const roleArgument = await run(["user", "role", "bo@example.org", "owner"]);
    expect(roleArgument).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("invalid for argument 'role'"),
    });
    const password = await run(["user", "add", "bo@example.org", "--password-stdin"], "short\n");
    expect(password).toMatchObject({
      code: 2,
      stderr: "gpuctl: password: at least 12 characters\n",
    });
    expect(calls()).toEqual([]);
  });

  it("list shows every user with who added them", async () => {
    await asAdmin();
    await run(["user", "add", "bo@example.org"]);
    const table = await run(["user", "list"]);
    expect(
      table.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/\s+/)),
    ).toEqual([
      ["EMAIL", "ROLE", "CREATED", "BY"],
      ["admin@example.org", "admin", "2026-01-01T00:00:00.000Z", "setup"],
      ["ada@example.org", "user", "2026-01-01T00:00:00.000Z", "setup"],
      ["bo@example.org", "user", "2026-01-01T00:00:00.000Z", "admin@example.org"],
    ]);
    const json = await run(["user", "list", "-o", "json"]);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(3);
  });

  it("role and remove change one user", async () => {
    await asAdmin();
    expect(await run(["user", "role", "ADA@example.org", "reviewer"])).toMatchObject({
      code: 0,
      stdout: "ada@example.org is now reviewer\n",
    });
    expect(await run(["user", "remove", "ada@example.org"])).toMatchObject({
      code: 0,
      stdout: "removed ada@example.org; their tokens no longer work; 2 of their jobs canceled\n",
    });
    expect(calls()).toEqual([
      "PUT /v1/users/ada%40example.org/role",
      "DELETE /v1/users/ada%40example.org",
    ]);
  });

  it("passes on the API's refusal to a user who is not an admin", async () => {
    await configure(accounts.issue("ada@example.org", "first").token);
    expect(await run(["user", "list"])).toMatchObject({
      code: 1,
      stderr: "gpuctl: only an admin manages users\n",
    });
  });
});
