/**
 * The API function's bundling (API_BUNDLING) builds the web console beside the function's
 * bundle, as the stack's NodejsFunction runs it: its hooks' commands through `bash -c`, from
 * the project's root, into an output folder of CDK's.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { API_BUNDLING, LAMBDA_BUNDLING } from "../../../lib/constructs/functions.ts";
import { ROOT } from "../../../scripts/bundle-freshness.ts";

const outputs: string[] = [];
afterAll(() => Promise.all(outputs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe("the API function's bundling", () => {
  it("bundles as every function does", () => {
    expect(API_BUNDLING).toMatchObject(LAMBDA_BUNDLING);
  });

  it("builds the console's page, script and stylesheet into `console` beside the bundle", async () => {
    // A folder with a quote and a space: the command names it as one word.
    const output = await mkdtemp(join(tmpdir(), "gpuctl api 'bundle"));
    outputs.push(output);
    const { commandHooks } = API_BUNDLING;
    expect([...commandHooks.beforeBundling(), ...commandHooks.beforeInstall()]).toEqual([]);
    for (const command of commandHooks.afterBundling(ROOT, output))
      execFileSync("bash", ["-c", command], { cwd: ROOT, stdio: "pipe" });
    const built = join(output, "console");
    expect((await readdir(built)).sort()).toEqual(
      ["console.css", "console.js", "console.js.meta.json", "index.html"].sort(),
    );
    expect(await readFile(join(built, "index.html"), "utf8")).toContain(
      '<script type="module" src="/console/console.js">',
    );
    expect(await readFile(join(built, "console.js"), "utf8")).toContain("sessionStorage");
  });
});
