import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createConfig, lintFromString } from "@redocly/openapi-core";
import { describe, expect, it } from "vitest";
import { createApi } from "../../../lambdas/handlers/api/app.ts";
import { openApiDocument } from "../../../lambdas/handlers/api/openapi-document.ts";

// Routes are registered without touching the ports; every optional router is mounted.
const app = createApi({} as Parameters<typeof createApi>[0], {
  localArtifacts: {} as never,
  polledCommands: {} as never,
  consoleAssets: "unread",
});

/** Hono's `:name` (or `:name{pattern}`) and `*` as OpenAPI's `{name}` and the rest `{path}`. */
const openApiPath = (path: string) =>
  path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}").replace(/\/\*$/, "/{path}");

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

describe("the OpenAPI document", () => {
  const document = openApiDocument();

  it("describes every route the app serves, and no other", () => {
    const served = app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => `${route.method.toLowerCase()} ${openApiPath(route.path)}`);
    const described = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      METHODS.filter((method) => method in item).map((method) => `${method} ${path}`),
    );
    expect(new Set(served).size).toBe(served.length);
    expect(described.sort()).toEqual(served.sort());
  });

  it("is served at /openapi.json without a token, as checked in at docs/openapi.json", async () => {
    const response = await app.request("/openapi.json");
    expect(response.status).toBe(200);
    const served = await response.json();
    expect(served).toEqual(document);
    const checkedIn = readFileSync(join(import.meta.dirname, "../../../docs/openapi.json"), "utf8");
    expect(JSON.parse(checkedIn)).toEqual(served);
  });

  it("passes Redocly's strict recommended rules, offline", async () => {
    const config = await createConfig({
      extends: ["recommended-strict"],
      // A download answers with a redirect to the file (302), not with a 2xx of its own.
      // The console's page is served at /console and /console/ alike, as browsers ask for either.
      rules: { "operation-2xx-response": "off", "no-path-trailing-slash": "off" },
    });
    const problems = await lintFromString({
      source: JSON.stringify(document),
      absoluteRef: "openapi.json",
      config,
    });
    expect(
      problems.map(
        (problem) => `${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`,
      ),
    ).toEqual([]);
  });
});
