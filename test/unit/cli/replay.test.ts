import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiError, calls, eventView, fakeApiPerTest } from "../sdk/fake-api.ts";
import { REPLAY_OUTPUTS as OUTPUTS, replaying } from "../sdk/fake-replay.ts";
import { gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-replay-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("gpuctl replay", () => {
  it("asks for a replay with the description and wait given, under an idempotency key, and prints the new job", async () => {
    const api = await serve(replaying(["SUBMITTED"]));
    const result = await gpuctl(
      ["replay", "job-1", "--description", "loss turns NaN", "--wait-request-s", "600"],
      { endpoint: api.endpoint },
    );
    expect(result).toMatchObject({ code: 0, stdout: "job-2\n", stderr: "" });
    expect(calls(api)).toEqual(["POST /v1/jobs/job-1/replay"]);
    const [request] = api.requests;
    expect(JSON.parse(request?.body.toString() ?? "")).toEqual({
      description: "loss turns NaN",
      waitRequestS: 600,
    });
    expect(request?.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends an empty body when given neither, so the API's default wait applies", async () => {
    const api = await serve(replaying(["SUBMITTED"]));
    const result = await gpuctl(["replay", "job-1", "-o", "json"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id: "job-2", replayOf: "job-1" });
    expect(JSON.parse(api.requests[0]?.body.toString() ?? "")).toEqual({});
  });

  it.each([
    [["--ckpt-dir", "d"], "--ckpt-dir and --log-dir apply only with --wait"],
    [["--log-dir", "d"], "--ckpt-dir and --log-dir apply only with --wait"],
    [["--wait-request-s", "0"], "give whole seconds from 1 to 86400"],
    [["--wait-request-s", "1.5"], "give whole seconds from 1 to 86400"],
    [["--wait-request-s", "86401"], "give whole seconds from 1 to 86400"],
  ])("refuses %j as bad usage, sending nothing", async (args, message) => {
    const api = await serve(replaying(["SUBMITTED"]));
    const result = await gpuctl(["replay", "job-1", ...args], { endpoint: api.endpoint });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(api.requests).toEqual([]);
  });

  it("says so when the job is not the caller's, or an input it ran on is gone", async () => {
    for (const answer of [
      apiError(404, "NOT_FOUND", "job job-1 not found"),
      apiError(
        409,
        "CONFLICT",
        "job-1 cannot be replayed: its uploaded input is no longer stored (inputs.0.sha256)",
      ),
    ]) {
      const api = await serve(() => answer);
      const result = await gpuctl(["replay", "job-1"], { endpoint: api.endpoint });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `gpuctl: ${(answer.json as { error: { message: string } }).error.message}\n`,
      );
    }
  });

  it("has gpuctl events say the new job was submitted as a replay", async () => {
    const api = await serve(() => ({
      json: {
        items: [
          eventView({
            version: 1,
            at: "2026-01-01T00:00:00.000Z",
            type: "submitted",
            phase: "SUBMITTED",
            replayOf: "job-1",
          }),
        ],
      },
    }));
    const result = await gpuctl(["events", "job-2"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^2026-01-01T00:00:00\.000Z +submitted \(replay of job-1\) +SUBMITTED /m,
    );
  });

  it("with --wait follows the new job, then puts its checkpoints and its logs where it is told", async () => {
    const api = await serve(replaying(["SUBMITTED", "TRAINING", "COMPLETED"]));
    const ckpt = join(dir, "ckpt");
    const logs = join(dir, "logs-here");
    const result = await gpuctl(
      ["replay", "job-1", "--wait", "--ckpt-dir", ckpt, "--log-dir", logs],
      { endpoint: api.endpoint, cwd: dir },
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^job-2 {2}\(replay of job-1\)$/m);
    expect(result.stdout).toMatch(/^\d\d:\d\d:\d\d {2}COMPLETED$/m);
    expect(await readFile(join(ckpt, "job-2", "checkpoints", "epoch-1.json"), "utf8")).toBe(
      OUTPUTS["checkpoints/epoch-1.json"],
    );
    expect(await readFile(join(logs, "job-2", "logs", "stdout.log"), "utf8")).toBe("epoch 1\n");
    // Only checkpoints and logs: the other outputs stay with the API.
    const fetched = calls(api).filter((call) => call.startsWith("GET /v1/jobs/job-2/outputs/"));
    expect(fetched.sort()).toEqual([
      "GET /v1/jobs/job-2/outputs/checkpoints/epoch-1.json",
      "GET /v1/jobs/job-2/outputs/logs/stdout.log",
    ]);
  });

  it("with --wait exits 1 when the replay fails, with its logs downloaded all the same", async () => {
    const api = await serve(replaying(["SUBMITTED", "FAILED"]));
    const result = await gpuctl(["replay", "job-1", "--wait", "--log-dir", "out"], {
      endpoint: api.endpoint,
      cwd: dir,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^exit code 3\nits logs: gpuctl logs job-2$/m);
    expect(await readFile(join(dir, "out", "job-2", "logs", "stdout.log"), "utf8")).toBe(
      "epoch 1\n",
    );
  });
});
