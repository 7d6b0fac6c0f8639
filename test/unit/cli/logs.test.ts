import { describe, expect, it } from "vitest";
import { logWriter } from "../../../bin/cli/logs.ts";
import { apiError, calls, fakeApiPerTest } from "../sdk/fake-api.ts";
import { type FakeLogs, logsRoute } from "../sdk/fake-logs.ts";
import { gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();

describe("gpuctl logs", () => {
  it("prints the job's stdout to stdout and its stderr to stderr", async () => {
    const logs: FakeLogs = {
      streams: { stdout: "epoch 1\nepoch 2\n", stderr: "Traceback: boom\n", "setup-stdout": "pip" },
      ended: true,
    };
    const api = await serve(logsRoute("job-1", logs));
    const result = await gpuctl(["logs", "job-1"], { endpoint: api.endpoint });
    expect(result).toEqual({ code: 0, stdout: "epoch 1\nepoch 2\n", stderr: "Traceback: boom\n" });
  });

  it("reads a log bigger than one answer chunk by chunk, whole characters each", async () => {
    const text = `${"é".repeat(40)}\n`;
    const api = await serve(logsRoute("job-1", { streams: { stdout: text }, ended: true }, 7));
    const result = await gpuctl(["logs", "job-1", "--stream", "stdout"], {
      endpoint: api.endpoint,
    });
    expect(result.stdout).toBe(text);
    expect(calls(api).length).toBeGreaterThan(10);
  });

  it("shows one stream, or all four with --stream all", async () => {
    const logs: FakeLogs = {
      streams: {
        stdout: "out\n",
        stderr: "err\n",
        "setup-stdout": "sout\n",
        "setup-stderr": "serr\n",
      },
      ended: true,
    };
    const api = await serve(logsRoute("job-1", logs));
    const only = await gpuctl(["logs", "job-1", "--stream", "setup-stderr"], {
      endpoint: api.endpoint,
    });
    expect(only).toMatchObject({ code: 0, stdout: "", stderr: "serr\n" });
    const all = await gpuctl(["logs", "job-1", "--stream", "all"], { endpoint: api.endpoint });
    expect(all).toMatchObject({ code: 0, stdout: "sout\nout\n", stderr: "serr\nerr\n" });
  });

  it("follows a running job's logs with -f until they have ended", async () => {
    const logs: FakeLogs = { streams: { stdout: "step 1\n" }, ended: false };
    let polls = 0;
    const logsOf = logsRoute("job-1", logs);
    const api = await serve((request) => {
      // The job writes a line and ends after the follower has seen the first one.
      if (request.query.get("stream") === "stdout" && ++polls === 2) {
        logs.streams.stdout = "step 1\nstep 2\n";
        logs.ended = true;
      }
      return logsOf(request);
    });
    const result = await gpuctl(["logs", "-f", "job-1"], { endpoint: api.endpoint });
    expect(result).toEqual({ code: 0, stdout: "step 1\nstep 2\n", stderr: "" });
  });

  it("shows a job that failed in its env setup by what the setup wrote, when asked for no stream", async () => {
    const logs: FakeLogs = {
      streams: { "setup-stdout": "Collecting torch\n", "setup-stderr": "No matching dist\n" },
      ended: true,
    };
    const api = await serve(logsRoute("job-1", logs));
    const result = await gpuctl(["logs", "job-1"], { endpoint: api.endpoint });
    expect(result).toEqual({ code: 0, stdout: "Collecting torch\n", stderr: "No matching dist\n" });
    const followed = await gpuctl(["logs", "-f", "job-1"], { endpoint: api.endpoint });
    expect(followed).toEqual(result);
    const asked = await gpuctl(["logs", "job-1", "--stream", "stderr"], { endpoint: api.endpoint });
    expect(asked).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("passes a job's escape sequences on to a pipe as written, --raw or not", async () => {
    const text = "\x1b[32mok\x1b[0m\r\x1b]0;title\x07\n";
    const api = await serve(logsRoute("job-1", { streams: { stdout: text }, ended: true }));
    for (const args of [
      ["logs", "job-1"],
      ["logs", "job-1", "--raw"],
    ])
      expect(await gpuctl(args, { endpoint: api.endpoint })).toEqual({
        code: 0,
        stdout: text,
        stderr: "",
      });
  });

  it("writes to a terminal without the job's escape sequences, even cut across chunks; --raw as written", () => {
    const chunks = ["\x1b]0;pwn", "ed\x07epoch 1\t\x1b[3", "2mok\x1b[0m\n\x07 10%\r 20%\x9b2J\n"];
    const written = (raw: boolean, isTTY = true) => {
      const out: string[] = [];
      const write = logWriter({ write: (text: string) => out.push(text), isTTY }, raw);
      for (const chunk of chunks) write(chunk);
      return out.join("");
    };
    expect(written(false)).toBe("epoch 1\tok\n 10%\r 20%\n");
    expect(written(true)).toBe(chunks.join(""));
    expect(written(false, false)).toBe(chunks.join(""));
  });

  it("answers a job it may not read with the API's 404 and exit code 1", async () => {
    const api = await serve(() => apiError(404, "NOT_FOUND", "job job-9 not found"));
    const result = await gpuctl(["logs", "job-9"], { endpoint: api.endpoint });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("job job-9 not found");
  });

  it("refuses an unknown stream as bad usage, asking nothing", async () => {
    const api = await serve(() => undefined);
    const result = await gpuctl(["logs", "job-1", "--stream", "stdin"], {
      endpoint: api.endpoint,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--stream");
    expect(api.requests).toEqual([]);
  });

  it("has --help with examples", async () => {
    const result = await gpuctl(["logs", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("--follow");
    expect(result.stdout).toContain("--raw");
    expect(result.stdout).toContain("Examples:");
  });
});
