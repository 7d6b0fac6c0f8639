import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  clearToken,
  configPath,
  loadConfig,
  localSignIn,
  savedConfig,
  saveToken,
  writeConfig,
} from "../../../sdk/config.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-config-"));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe("loadConfig", () => {
  it("reads ~/.gpuctl/config.json under the home folder", async () => {
    vi.stubEnv("HOME", dir);
    await writeConfig(join(dir, ".gpuctl", "config.json"), {
      endpoint: "http://127.0.0.1:8080",
      token: "t0k",
    });
    expect(configPath({})).toBe(join(dir, ".gpuctl", "config.json"));
    expect(loadConfig({})).toEqual({ endpoint: "http://127.0.0.1:8080", token: "t0k" });
  });

  it("reads the file GPUCTL_CONFIG names", async () => {
    const path = join(dir, "elsewhere.json");
    await writeFile(path, JSON.stringify({ endpoint: "https://api.example/prod" }));
    expect(loadConfig({ GPUCTL_CONFIG: path })).toEqual({ endpoint: "https://api.example/prod" });
  });

  it("sends GPUCTL_TOKEN alone to the file's endpoint, in place of the file's token", async () => {
    const path = join(dir, "config.json");
    await writeConfig(path, { endpoint: "http://127.0.0.1:8080", token: "file-token" });
    expect(loadConfig({ GPUCTL_CONFIG: path, GPUCTL_TOKEN: "env-token" })).toEqual({
      endpoint: "http://127.0.0.1:8080",
      token: "env-token",
    });
  });

  it("lets GPUCTL_ENDPOINT override the file, without sending the file's token elsewhere", async () => {
    const path = join(dir, "config.json");
    await writeConfig(path, { endpoint: "http://127.0.0.1:8080", token: "file-token" });
    expect(loadConfig({ GPUCTL_CONFIG: path, GPUCTL_ENDPOINT: "http://10.0.0.1:9000" })).toEqual({
      endpoint: "http://10.0.0.1:9000",
    });
    expect(
      loadConfig({
        GPUCTL_CONFIG: path,
        GPUCTL_ENDPOINT: "http://10.0.0.1:9000",
        GPUCTL_TOKEN: "env-token",
      }),
    ).toEqual({ endpoint: "http://10.0.0.1:9000", token: "env-token" });
  });

  it("says how to configure when there is no config file", () => {
    vi.stubEnv("HOME", dir);
    expect(() => loadConfig({})).toThrow(
      new ConfigError(
        "no control plane configured: run `npm start` (it writes ~/.gpuctl/config.json) or set GPUCTL_ENDPOINT",
      ),
    );
  });

  it("names the file and the field of a bad config", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, JSON.stringify({ endpoint: "localhost:8080" }));
    expect(() => loadConfig({ GPUCTL_CONFIG: path })).toThrow(
      `${path}: endpoint: must be an http(s) URL`,
    );
    await writeFile(path, "{ not json");
    expect(() => loadConfig({ GPUCTL_CONFIG: path })).toThrow(`${path}: not valid JSON`);
    expect(() => loadConfig({ GPUCTL_ENDPOINT: "ftp://x" })).toThrow(
      'GPUCTL_ENDPOINT "ftp://x": must be an http(s) URL',
    );
  });
});

describe("writeConfig", () => {
  it("creates the folder and a file only its owner can read", async () => {
    const path = join(dir, "nested", ".gpuctl", "config.json");
    await writeConfig(path, { endpoint: "http://127.0.0.1:8080", token: "t" });
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      endpoint: "http://127.0.0.1:8080",
      token: "t",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("keeps the file's other fields, and drops its token when given none", async () => {
    const path = join(dir, "kept.json");
    await writeFile(
      path,
      JSON.stringify({ endpoint: "http://a.example", token: "old", profile: "x" }),
    );
    await writeConfig(path, { endpoint: "http://127.0.0.1:8080" });
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      endpoint: "http://127.0.0.1:8080",
      profile: "x",
    });
  });

  it("refuses a config loadConfig could not read back", async () => {
    await expect(writeConfig(join(dir, "c.json"), { endpoint: "nope" })).rejects.toThrow(
      "endpoint: must be an http(s) URL",
    );
  });
});

describe("saveToken and clearToken", () => {
  it("sign the config in and out, keeping its other fields and mode 600", async () => {
    const path = join(dir, "config.json");
    await writeFile(
      path,
      JSON.stringify({ endpoint: "http://127.0.0.1:8080", token: "old", profile: "x" }),
    );
    await saveToken(path, "http://127.0.0.1:8080", "new");
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      endpoint: "http://127.0.0.1:8080",
      token: "new",
      profile: "x",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await clearToken(path)).toBe(true);
    expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
      endpoint: "http://127.0.0.1:8080",
      profile: "x",
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await clearToken(path)).toBe(false);
  });

  it("writes the endpoint signed in to beside the token, and makes the file when there is none", async () => {
    const path = join(dir, "new", "config.json");
    await saveToken(path, "https://api.example/prod", "t");
    expect(loadConfig({ GPUCTL_CONFIG: path })).toEqual({
      endpoint: "https://api.example/prod",
      token: "t",
    });
    expect(await clearToken(join(dir, "absent.json"))).toBe(false);
  });
});

describe("savedConfig", () => {
  it("reads the file's own token, whatever GPUCTL_TOKEN says, and is undefined for no file", async () => {
    vi.stubEnv("GPUCTL_TOKEN", "gpuctl_env");
    const path = join(dir, "config.json");
    expect(savedConfig(path)).toBeUndefined();
    await writeConfig(path, { endpoint: "http://127.0.0.1:1", token: "gpuctl_file" });
    expect(savedConfig(path)).toEqual({ endpoint: "http://127.0.0.1:1", token: "gpuctl_file" });
  });
});

describe("localSignIn (npm start)", () => {
  const admin = { email: "admin@gpuctl.local", token: "gpuctl_admin" };
  const accepts = (tokens: Record<string, string>) => async (token: string) => tokens[token];

  it("keeps the config's token while the control plane accepts it", async () => {
    expect(
      await localSignIn("gpuctl_ada", admin, accepts({ gpuctl_ada: "ada@example.org" })),
    ).toEqual({ token: "gpuctl_ada", email: "ada@example.org", kept: true });
  });

  it("signs in as the first admin when the config's token is refused or absent", async () => {
    const first = { ...admin, kept: false };
    expect(await localSignIn("gpuctl_gone", admin, accepts({}))).toEqual(first);
    expect(await localSignIn(undefined, admin, accepts({}))).toEqual(first);
  });

  it("signs in as no one when the token is refused and no first admin's token is kept", async () => {
    expect(await localSignIn("gpuctl_gone", undefined, accepts({}))).toBeUndefined();
  });
});
