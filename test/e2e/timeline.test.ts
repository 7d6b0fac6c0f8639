/**
 * `gpuctl timeline` against the real local control plane: the pictures of a finished job name
 * the periods it passed, and a running job can be drawn too.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gpuctl } from "../unit/cli/run-gpuctl.ts";
import { startTestControlPlane, trainingSpec } from "./local-control-plane.ts";

let plane: Awaited<ReturnType<typeof startTestControlPlane>>;
let dir: string;

beforeAll(async () => {
  plane = await startTestControlPlane();
  dir = await mkdtemp(join(tmpdir(), "gpuctl-timeline-e2e-"));
});
afterAll(async () => {
  await plane?.stop();
  await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  gpuctl(args, {
    cwd: dir,
    env: { GPUCTL_ENDPOINT: plane.endpoint, GPUCTL_TOKEN: plane.userToken },
  });

const escaped = (name: string) => name.replace(/&/g, "&amp;");

describe("gpuctl timeline on the local control plane", () => {
  it("draws a finished job's timeline as a pie PNG and a funnel SVG naming its periods", async () => {
    const submitted = await plane.client.submitJob(trainingSpec({ name: "timeline-train" }));
    expect(await plane.finished(submitted.id)).toMatchObject({ phase: "COMPLETED" });
    const { periods } = await plane.client.jobTimeline(submitted.id);
    expect(periods.map((period) => period.phase)).toEqual(
      expect.arrayContaining([
        "Job Create",
        "Instance Connect",
        "Model Training",
        "Result Transfer",
      ]),
    );

    const pie = await cli(["timeline", submitted.id, "--chart", "pie", "--out", "t.png"]);
    expect(pie, pie.stderr).toMatchObject({ code: 0 });
    const png = await readFile(join(dir, "t.png"));
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    expect(png.subarray(12, 16).toString()).toBe("IHDR");
    expect(png.readUInt32BE(16)).toBeGreaterThan(0);

    const funnel = await cli(["timeline", submitted.id, "--chart", "funnel", "--out", "t.svg"]);
    expect(funnel, funnel.stderr).toMatchObject({ code: 0 });
    const svg = await readFile(join(dir, "t.svg"), "utf8");
    expect(svg).toContain(`${submitted.id} (timeline-train)`);
    for (const period of periods) expect(svg).toContain(`>${escaped(period.phase)}</text>`);
    expect(svg).not.toContain("running");
  });

  it("draws a job while it trains, its open period marked running", async () => {
    const submitted = await plane.client.submitJob(trainingSpec({ run: "sleep 30" }));
    await plane.waitFor(submitted.id, (job) => job.phase === "TRAINING");
    const drawn = await cli(["timeline", submitted.id, "--chart", "funnel", "--out", "-"]);
    await plane.client.cancelJob(submitted.id);
    expect(drawn, drawn.stderr).toMatchObject({ code: 0 });
    expect(drawn.stdout).toMatch(/>Model Training<\/text>.*· running<\/text>/s);
    await plane.finished(submitted.id);
  });
});
