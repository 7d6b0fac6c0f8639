import { mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Metafile } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsole, consoleStale } from "../../../scripts/build-console.ts";

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gpuctl-console-build-"));
  await buildConsole(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the console's build", () => {
  it("makes one script module that imports nothing: all a browser needs is in it", () => {
    const metafile = JSON.parse(
      readFileSync(join(dir, "console.js.meta.json"), "utf8"),
    ) as Metafile;
    const output =
      metafile.outputs[
        Object.keys(metafile.outputs).find((path) => path.endsWith("console.js")) ?? ""
      ];
    expect(output?.imports).toEqual([]);
    expect(Object.keys(metafile.inputs)).toContain("sdk/timeline-chart.ts");
    expect(Object.keys(metafile.inputs).filter((input) => input.includes("node_modules"))).toEqual(
      [],
    );
  });

  it("gives the page no inline script or style: only the two files the policy allows", () => {
    const page = readFileSync(join(dir, "index.html"), "utf8");
    expect(page.match(/<script[^>]*>/g)).toEqual([
      '<script type="module" src="/console/console.js">',
    ]);
    expect(page.match(/<link[^>]*>/g)).toEqual([
      '<link rel="stylesheet" href="/console/console.css" />',
    ]);
    expect(page).not.toMatch(/<style|style=|\son[a-z]+=/i);
  });

  it("is stale when missing, without its list of inputs, or older than one of them", () => {
    const script = join(dir, "console.js");
    expect(consoleStale(dir)).toBe(false);
    expect(consoleStale(join(dir, "missing"))).toBe(true);
    utimesSync(script, new Date(0), new Date(0));
    expect(consoleStale(dir)).toBe(true);
    const later = new Date(Date.now() + 60_000);
    utimesSync(script, later, later);
    expect(consoleStale(dir)).toBe(false);
    rmSync(`${script}.meta.json`);
    expect(consoleStale(dir)).toBe(true);
  });
});
