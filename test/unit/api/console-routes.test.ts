import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleRoutes } from "../../../lambdas/handlers/api/console-routes.ts";

let root: string;
let assets: string;

/** The console mounted as the API mounts it, on a folder of stand-in assets. */
const consoleApp = (dir: string) => new Hono().route("/", consoleRoutes(dir));
const get = (path: string, dir = assets) => consoleApp(dir).request(`http://localhost${path}`);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "gpuctl-console-"));
  assets = join(root, "console");
  await mkdir(assets);
  await writeFile(join(assets, "index.html"), "<!doctype html><title>page</title>");
  await writeFile(join(assets, "console.js"), "export {};");
  await writeFile(join(assets, "console.css"), "body {}");
  await writeFile(join(assets, "console.js.meta.json"), "{}");
  await writeFile(join(root, "secret.json"), '{"secret": true}');
});
afterAll(() => rm(root, { recursive: true, force: true }));

const policyOf = (response: Response) =>
  new Map(
    (response.headers.get("content-security-policy") ?? "")
      .split(";")
      .map((directive) => directive.trim().split(/\s+/))
      .map(([name = "", ...values]) => [name, values]),
  );

describe("the console's routes", () => {
  it.each([
    ["/console", "text/html", "<!doctype html><title>page</title>"],
    ["/console/", "text/html", "<!doctype html><title>page</title>"],
    ["/console/console.js", "text/javascript", "export {};"],
    ["/console/console.css", "text/css", "body {}"],
  ])("serve %s as %s, with no token", async (path, type, contents) => {
    const response = await get(path);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(`${type}; charset=utf-8`);
    expect(await response.text()).toBe(contents);
  });

  it("allow the page its own script, styles and API only, inline nothing, and no framing", async () => {
    const response = await get("/console");
    const policy = policyOf(response);
    expect(policy.get("default-src")).toEqual(["'self'"]);
    expect(policy.get("script-src")).toEqual(["'self'"]);
    expect(policy.get("style-src")).toEqual(["'self'"]);
    expect(policy.get("connect-src")).toEqual(["'self'"]);
    expect(policy.get("img-src")).toEqual(["'self'"]);
    expect(policy.get("object-src")).toEqual(["'none'"]);
    expect(policy.get("base-uri")).toEqual(["'none'"]);
    expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-cache");
  });

  it.each([
    "/console/console.js.meta.json",
    "/console/../secret.json",
    "/console/%2e%2e/secret.json",
    "/console/..%2fsecret.json",
    "/console/index.html/",
    "/console/jobs/abc",
  ])("serve nothing else: %s", async (path) => {
    const response = await get(path);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain("secret");
  });

  it("say how to build the console where it is not built", async () => {
    const response = await get("/console/", join(root, "not-built"));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { message: expect.stringContaining("npm run build:console") },
    });
  });
});
