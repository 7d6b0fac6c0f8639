import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Phase } from "../../../lambdas/domain/phases.ts";
import type { JobView } from "../../../sdk/api-types.ts";
import { calls, fakeApiPerTest, type Handler, jobView } from "../sdk/fake-api.ts";
import { gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-deploy-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const SERVE_SPEC = `name: serve
kind: inference
modelName: linreg
instance:
  types: [local]
run: python3 serve.py
serve:
  port: 8808
`;

const spec = async (text: string) => {
  const path = join(dir, "spec.yaml");
  await writeFile(path, text);
  return path;
};

const ENDPOINT = "http://127.0.0.1:40001";

/** A deployment that is seen, one poll after another, as each of `seen` (`SERVING`: healthy). */
const deployment = (seen: Array<Phase | "SERVING">): Handler => {
  let polls = 0;
  const view = (state: Phase | "SERVING"): JobView =>
    jobView({
      id: "job-7",
      kind: "inference",
      modelName: "linreg",
      phase: state === "SERVING" ? "TRAINING" : state,
      ...(state === "SERVING" && { endpoint: ENDPOINT }),
    });
  return (request) => {
    if (request.method === "POST" && request.path === "/v1/jobs")
      return { status: 201, json: view("SUBMITTED") };
    if (request.path === "/v1/jobs/job-7") {
      const state = seen[Math.min(polls, seen.length - 1)] ?? "SUBMITTED";
      polls++;
      return { json: view(state) };
    }
    return undefined;
  };
};

describe("gpuctl deploy", () => {
  it("refuses a training spec as bad usage, naming kind, and sends nothing", async () => {
    const api = await serve(deployment(["SUBMITTED"]));
    const file = await spec("name: train\ninstance:\n  types: [local]\nrun: python3 train.py\n");
    const result = await gpuctl(["deploy", "-f", file], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${file}: kind: gpuctl deploy runs inference deployments (kind: inference), not kind: training; submit it with gpuctl submit -f ${file}\n`,
    );
    expect(api.requests).toEqual([]);
  });

  it("submits the deployment and waits until it serves, then prints its endpoint and how to stop it", async () => {
    const api = await serve(deployment(["SUBMITTED", "GEARING_UP_ENV", "TRAINING", "SERVING"]));
    const result = await gpuctl(["deploy", "-f", await spec(SERVE_SPEC)], {
      endpoint: api.endpoint,
    });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("job-7");
    expect(lines.slice(1, -2).map((line) => line.replace(/^\d\d:\d\d:\d\d {2}/, ""))).toEqual([
      "SUBMITTED",
      "GEARING_UP_ENV",
      "TRAINING",
    ]);
    expect(lines.slice(-2)).toEqual([
      `serving linreg at ${ENDPOINT}`,
      "stop it with: gpuctl complete --model linreg",
    ]);
    expect(calls(api)[0]).toBe("POST /v1/jobs");
    expect(api.requests[0]?.headers["idempotency-key"]).toBeDefined();
  });

  it("prints the serving JobView with -o json", async () => {
    const api = await serve(deployment(["SERVING"]));
    const result = await gpuctl(["deploy", "-f", await spec(SERVE_SPEC), "-o", "json"], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: "job-7", endpoint: ENDPOINT });
  });

  it("exits 1 when the deployment ends before it serves", async () => {
    const api = await serve(deployment(["SUBMITTED", "FAILED"]));
    const result = await gpuctl(["deploy", "-f", await spec(SERVE_SPEC)], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^job-7 ended FAILED before it served$/m);
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe("its logs: gpuctl logs job-7");
  });

  it("with --no-wait prints the job id once it is submitted", async () => {
    const api = await serve(deployment(["SUBMITTED"]));
    const result = await gpuctl(["deploy", "-f", await spec(SERVE_SPEC), "--no-wait"], {
      endpoint: api.endpoint,
    });
    expect(result).toMatchObject({ code: 0, stdout: "job-7\n" });
    expect(calls(api)).toEqual(["POST /v1/jobs"]);
  });
});
