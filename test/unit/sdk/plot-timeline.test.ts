import { describe, expect, it } from "vitest";
import { ApiRequestError, GpuctlClient } from "../../../sdk/client.ts";
import { timelineSvg } from "../../../sdk/timeline-chart.ts";
import { apiError, calls, fakeApiPerTest, jobView } from "./fake-api.ts";

const serve = fakeApiPerTest();

const job = jobView({ id: "job-1", name: "train", phase: "TRAINING" });
const periods = [
  { phase: "Job Create" as const, startedAt: "2026-01-01T00:00:00.000Z", seconds: 4 },
];
const client = async () => {
  const api = await serve((request) => {
    if (request.path === "/v1/jobs/job-1") return { json: job };
    if (request.path === "/v1/jobs/job-1/timeline") return { json: { periods } };
    return undefined;
  });
  return { api, client: new GpuctlClient({ endpoint: api.endpoint, token: "t" }) };
};

describe("GpuctlClient.plotTimeline", () => {
  it("draws a funnel SVG by default, titled with the job's id and name", async () => {
    const { api, client: gpuctl } = await client();
    const svg = await gpuctl.plotTimeline("job-1");
    expect(svg).toBe(timelineSvg(periods, "funnel", { title: "job-1 (train)" }));
    expect(calls(api).sort()).toEqual(["GET /v1/jobs/job-1", "GET /v1/jobs/job-1/timeline"]);
  });

  it("draws the chart asked for, as PNG bytes when asked", async () => {
    const { client: gpuctl } = await client();
    expect(await gpuctl.plotTimeline("job-1", { chart: "pie" })).toBe(
      timelineSvg(periods, "pie", { title: "job-1 (train)" }),
    );
    const png = await gpuctl.plotTimeline("job-1", { chart: "pie", format: "png" });
    expect(png).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(png.subarray(1, 4)).toString()).toBe("PNG");
  });

  it("fails as the API does for a job the caller cannot see", async () => {
    const api = await serve(() => apiError(404, "NOT_FOUND", "job job-2 not found"));
    const gpuctl = new GpuctlClient({ endpoint: api.endpoint, token: "t" });
    await expect(gpuctl.plotTimeline("job-2")).rejects.toBeInstanceOf(ApiRequestError);
  });
});
