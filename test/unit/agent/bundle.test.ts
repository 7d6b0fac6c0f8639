import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentBundleStale, buildAgent } from "../../../scripts/build-agent.ts";

let dir: string;
let bundle: string;

beforeAll(async () => {
  // Outside the repository: no node_modules to fall back on.
  dir = mkdtempSync(join(tmpdir(), "gpuctl-bundle-"));
  bundle = join(dir, "agent.mjs");
  await buildAgent(bundle);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the agent's bundle", () => {
  it("is the same bytes when built again from the same sources", async () => {
    const again = join(dir, "again", "agent.mjs");
    await buildAgent(again);
    expect(readFileSync(again).equals(readFileSync(bundle))).toBe(true);
  });

  it("imports nothing but Node.js's own modules", () => {
    const metafile = JSON.parse(readFileSync(`${bundle}.meta.json`, "utf8")) as Metafile;
    const imports = Object.values(metafile.outputs).flatMap((output) =>
      output.imports.map((each) => each.path),
    );
    const builtins = new Set(builtinModules);
    expect(imports.filter((path) => !path.startsWith("node:") && !builtins.has(path))).toEqual([]);
    // A CommonJS dependency calling require would throw in an ES module without a shim.
    expect(readFileSync(bundle, "utf8")).not.toContain("Dynamic require of");
  });

  it("starts with Node.js alone, and names the configuration it misses", () => {
    const result = spawnSync(process.execPath, [bundle], {
      cwd: dir,
      env: { PATH: process.env.PATH },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stdout + result.stderr).toContain("agent failed: GPUCTL_ENDPOINT is not set");
  });

  it("is stale when missing, without its list of inputs, or older than one of them", () => {
    expect(agentBundleStale(bundle)).toBe(false);
    expect(agentBundleStale(join(dir, "missing.mjs"))).toBe(true);
    utimesSync(bundle, new Date(0), new Date(0));
    expect(agentBundleStale(bundle)).toBe(true);
    const later = new Date(Date.now() + 60_000);
    utimesSync(bundle, later, later);
    expect(agentBundleStale(bundle)).toBe(false);
    rmSync(`${bundle}.meta.json`);
    expect(agentBundleStale(bundle)).toBe(true);
  });
});
