import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EmfMetrics } from "../../../lambdas/adapters/aws/cloudwatch/emf-metrics.ts";
import { MemoryMetrics } from "../../../lambdas/adapters/local/memory-metrics.ts";
import type { MetricPoint } from "../../../lambdas/domain/metrics.ts";

const points: MetricPoint[] = [
  { name: "TimelinePeriod", value: 30, dimensions: { Period: "Instance Connect" } },
  { name: "TimelinePeriod", value: 2, dimensions: { Period: "Job Create" } },
  { name: "IdleCost", value: 0.25, dimensions: {} },
];

describe("the EMF metrics", () => {
  let printed: () => Record<string, unknown>[];
  beforeEach(() => {
    // Powertools prints to the console, rather than to stdout directly, in its dev mode.
    vi.stubEnv("POWERTOOLS_DEV", "true");
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    printed = () => log.mock.calls.map(([line]) => JSON.parse(String(line)));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("writes each point at once, in the gpuctl namespace, with its own dimensions and service", () => {
    new EmfMetrics().record(points);
    expect(printed()).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: "gpuctl",
              Dimensions: [["service", "Period"]],
              Metrics: [{ Name: "TimelinePeriod", Unit: "Seconds" }],
            },
          ],
        },
        service: "gpuctl",
        Period: "Instance Connect",
        TimelinePeriod: 30,
      },
      expect.objectContaining({ Period: "Job Create", TimelinePeriod: 2 }),
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: "gpuctl",
              Dimensions: [["service"]],
              Metrics: [{ Name: "IdleCost", Unit: "None" }],
            },
          ],
        },
        service: "gpuctl",
        IdleCost: 0.25,
      },
    ]);
  });

  it("writes nothing for no points", () => {
    new EmfMetrics().record([]);
    expect(printed()).toEqual([]);
  });
});

describe("the memory metrics", () => {
  it("keep the most recent points, up to their limit", () => {
    const metrics = new MemoryMetrics(2);
    metrics.record(points);
    expect(metrics.points).toEqual(points.slice(1));
  });
});
