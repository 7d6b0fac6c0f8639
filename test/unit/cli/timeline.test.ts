import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TIMELINE_PHASES } from "../../../lambdas/domain/timeline.ts";
import { apiError, calls, fakeApiPerTest, type Handler, jobView } from "../sdk/fake-api.ts";
import { gpuctl } from "./run-gpuctl.ts";

const serve = fakeApiPerTest();

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuctl-timeline-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const job = jobView({ id: "job-7", name: "mnist <fast> & small", phase: "TRAINING" });
const periods = [
  {
    phase: "Job Create",
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:00:02.000Z",
    seconds: 2,
  },
  {
    phase: "M&D Transfer",
    startedAt: "2026-01-01T00:00:02.000Z",
    endedAt: "2026-01-01T00:00:10.000Z",
    seconds: 8,
  },
  { phase: "Model Training", startedAt: "2026-01-01T00:00:10.000Z", seconds: 30 },
];
const handler: Handler = (request) => {
  if (request.path === "/v1/jobs/job-7") return { json: job };
  if (request.path === "/v1/jobs/job-7/timeline") return { json: { periods } };
  return undefined;
};

const PHASE_NAMES = new RegExp(
  TIMELINE_PHASES.map((name) => name.replace(/&/g, "&amp;")).join("|"),
  "g",
);

describe("gpuctl timeline", () => {
  it("prints the periods as status does, the open one marked running", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["timeline", "job-7"], { endpoint: api.endpoint });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(
      result.stdout
        .trimEnd()
        .split("\n")
        .map((line) => line.trim().split(/\s{2,}/)),
    ).toEqual([
      ["Timeline:"],
      ["Job Create", "2.0 s"],
      ["M&D Transfer", "8.0 s"],
      ["Model Training", "30.0 s", "(running)"],
    ]);
    expect(calls(api)).toEqual(["GET /v1/jobs/job-7/timeline"]);
  });

  it("prints the periods as JSON", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["timeline", "job-7", "-o", "json"], { endpoint: api.endpoint });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ periods });
  });

  it("writes a funnel SVG naming every period, titled with the job, while the job runs", async () => {
    const api = await serve(handler);
    const out = join(dir, "t.svg");
    const result = await gpuctl(["timeline", "job-7", "--chart", "funnel", "--out", out], {
      endpoint: api.endpoint,
    });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^wrote .*t\.svg \(funnel chart, \d+ bytes\)\n$/);
    const svg = await readFile(out, "utf8");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(PHASE_NAMES)).toEqual(
      expect.arrayContaining(["Job Create", "M&amp;D Transfer", "Model Training"]),
    );
    expect(svg).toContain("job-7 (mnist &lt;fast&gt; &amp; small)");
    expect(svg).toContain("30.0 s · running");
    expect(calls(api).sort()).toEqual(["GET /v1/jobs/job-7", "GET /v1/jobs/job-7/timeline"]);
  });

  it("writes a pie PNG, its format read from the extension", async () => {
    const api = await serve(handler);
    const out = join(dir, "T.PNG");
    const result = await gpuctl(
      ["timeline", "job-7", "--chart", "pie", "--out", out, "-o", "json"],
      {
        endpoint: api.endpoint,
      },
    );
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const png = await readFile(out);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.subarray(12, 16).toString()).toBe("IHDR");
    expect(JSON.parse(result.stdout)).toEqual({
      path: out,
      chart: "pie",
      format: "png",
      bytes: png.length,
    });
  });

  it("writes the SVG to standard output with --out -", async () => {
    const api = await serve(handler);
    const result = await gpuctl(["timeline", "job-7", "--chart", "pie", "--out", "-"], {
      endpoint: api.endpoint,
    });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^<svg.*M&amp;D Transfer.*<\/svg>\n$/s);
  });

  it.each([
    [["--chart", "pie"], /--chart needs --out FILE\.svg, --out FILE\.png or --out -/],
    [["--chart", "pie", "--out", "t.jpg"], /--out t\.jpg: the file must end in \.svg or \.png/],
    [["--chart", "pie", "--out", "t"], /--out t: the file must end in \.svg or \.png/],
    [["--out", "t.svg"], /--out writes a chart: add --chart funnel or --chart pie/],
    [["--chart", "bar", "--out", "t.svg"], /argument 'bar' is invalid.*funnel, pie/],
    [
      ["--chart", "pie", "--out", "-", "-o", "json"],
      /--out - writes the SVG itself: leave out -o json/,
    ],
  ])("refuses %j as bad usage, asking nothing and writing nothing", async (args, message) => {
    const api = await serve(handler);
    const result = await gpuctl(["timeline", "job-7", ...args], {
      endpoint: api.endpoint,
      cwd: dir,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
    expect(api.requests).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("writes no file for a job the caller cannot see", async () => {
    const api = await serve(() => apiError(404, "NOT_FOUND", "job job-8 not found"));
    const result = await gpuctl(["timeline", "job-8", "--chart", "funnel", "--out", "t.svg"], {
      endpoint: api.endpoint,
      cwd: dir,
    });
    expect(result).toMatchObject({ code: 1, stderr: "gpuctl: job job-8 not found\n" });
    expect(await readdir(dir)).toEqual([]);
  });

  it("explains itself with examples", async () => {
    const result = await gpuctl(["timeline", "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: gpuctl timeline [options] <job>");
    expect(result.stdout).toContain("--chart <type>");
    expect(result.stdout).toContain("gpuctl timeline job-123 --chart pie --out t.png");
  });
});
